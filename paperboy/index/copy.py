"""A new node's indexes copied from a running node, instead of built from the database.

Building the keyword and HNSW indexes of millions of papers takes most of an hour on a
small node (docs/scale.md); copying the files of a node that has them takes as long as
the network needs for their bytes. What one node offers (``snapshot``) and another
takes (``pull``):

- **A consistent snapshot.** Under the index dir's refresh lock (so no refresh is half
  written), every index file is hard-linked into ``.snapshots/<time>/`` with a manifest
  of names and sizes. That is instant and costs no space: tantivy never rewrites a
  segment file, and the HNSW and state files are replaced by rename, so the links keep
  the bytes of that moment while the node goes on refreshing. A snapshot serves pulls
  for ``SNAPSHOT_REUSE_S``; older ones are deleted.
- **The watermarks go with the files.** The state files (``keyword-state.json``,
  ``vectors-state.json``, ``serving-state.json``) are part of the snapshot, so the new
  node's first refresh adds only what changed after it, from the shared database.
- **Resumable and checked.** Files arrive under ``.incoming/``; a file cut short is
  continued with an HTTP Range request on the next pull; every size is checked against
  the manifest before anything replaces the local index, which happens under the local
  refresh lock, state files last (searches re-open the index when they change).

Nodes prove to each other that they share the deployment's secret key with a token
derived from it (``node_token``); the routes are in ``paperboy.node``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from paperboy.config import Settings
from paperboy.index.lock import refresh_lock

log = logging.getLogger(__name__)

SNAPSHOTS = ".snapshots"
INCOMING = ".incoming"
MANIFEST = "manifest.json"
SNAPSHOT_REUSE_S = 600.0  # pulls within this get the same snapshot
SNAPSHOT_KEEP_S = 3600.0  # a snapshot stays this long for pulls still under way
STATE_FILES = ("keyword-state.json", "vectors-state.json", "serving-state.json")
LOCK_WAIT_S = 600.0  # a refresh holds the lock for one step; a first build for longer
CHUNK = 1 << 20


class CopyError(Exception):
    """The copy could not be made or taken; the local index is as it was."""


def node_token(settings: Settings) -> str:
    """What a node shows another to be let at its index files: only nodes configured
    with the same secret key can compute it."""
    key = settings.resolved_secret_key().encode()
    return hmac.new(key, b"paperboy index copy v1", hashlib.sha256).hexdigest()


def token_ok(settings: Settings, presented: str) -> bool:
    return hmac.compare_digest(node_token(settings).encode(), presented.encode())


@contextlib.contextmanager
def _waiting_lock(settings: Settings, timeout: float = LOCK_WAIT_S) -> Iterator[None]:
    """The refresh lock, waited for: a copy must not be taken or swapped in mid-refresh."""
    with refresh_lock(settings, wait=timeout) as mine:
        if not mine:
            raise CopyError(f"the index at {settings.resolved_index_dir} stayed locked by a refresh for {timeout:.0f} s")
        yield


def _index_files(index_dir: Path) -> list[Path]:
    """The files that make up this node's indexes (relative), lock files left out."""
    out = []
    keyword = index_dir / "keyword"
    if keyword.is_dir():
        out += [p.relative_to(index_dir) for p in sorted(keyword.rglob("*"))
                if p.is_file() and not p.name.endswith(".lock")]
    out += [p.relative_to(index_dir) for p in sorted(index_dir.glob("vectors-*.usearch"))]
    out += [Path(name) for name in STATE_FILES if (index_dir / name).is_file()]
    return out


def snapshot(settings: Settings, *, reuse_s: float = SNAPSHOT_REUSE_S) -> Path:
    """A consistent snapshot of this node's indexes (made, or a recent one reused); its
    directory holds the hard-linked files and ``manifest.json``."""
    index_dir = settings.resolved_index_dir
    root = index_dir / SNAPSHOTS
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    kept = sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())
    if kept and now - (kept[-1] / MANIFEST).stat().st_mtime < reuse_s:
        return kept[-1]
    with _waiting_lock(settings):
        files = _index_files(index_dir)
        if not any(f.parts[0] == "keyword" for f in files) or not (index_dir / "keyword-state.json").is_file():
            raise CopyError("this node has no keyword index yet to copy (run `paperboy index build` here first)")
        target = root / f"{int(now * 1000)}"
        tmp = root / f".{target.name}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel in files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(index_dir / rel, tmp / rel)
        manifest = {"files": [{"path": str(rel), "size": (tmp / rel).stat().st_size} for rel in files],
                    "made_at": now}
        (tmp / MANIFEST).write_text(json.dumps(manifest))
        os.replace(tmp, target)
    for old in kept:  # pulls of the last hour's snapshots may still be under way
        if now - (old / MANIFEST).stat().st_mtime > SNAPSHOT_KEEP_S:
            shutil.rmtree(old, ignore_errors=True)
    return target


def snapshot_dir(settings: Settings, snapshot_id: str) -> Path | None:
    """The snapshot a manifest named, if it is still there."""
    if not snapshot_id.isdigit():
        return None
    path = settings.resolved_index_dir / SNAPSHOTS / snapshot_id
    return path if (path / MANIFEST).is_file() else None


def snapshot_file(snapshot_dir: Path, rel: str) -> Path | None:
    """A file the manifest lists, or None (no path outside the snapshot can be named)."""
    manifest = json.loads((snapshot_dir / MANIFEST).read_text())
    if rel not in {f["path"] for f in manifest["files"]}:
        return None
    return snapshot_dir / rel


Progress = Callable[[str, int, int], None]  # (file, bytes done, bytes in all)


def pull(settings: Settings, base_url: str, *, progress: Progress | None = None,
         client: httpx.Client | None = None) -> dict:
    """Copy the indexes of the node at ``base_url`` into this node's index dir, replacing
    what is there. Resumable: run it again after an interruption."""
    index_dir = settings.resolved_index_dir
    incoming = index_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {node_token(settings)}", "Accept": "application/json"}
    own = client is None
    client = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=httpx.Timeout(30.0, read=120.0))
    started = time.perf_counter()
    try:
        manifest = _manifest(client, headers, base_url)
        wanted = {f["path"]: int(f["size"]) for f in manifest["files"]}
        old = incoming / MANIFEST
        if old.is_file() and json.loads(old.read_text()).get("id") != manifest.get("id"):
            shutil.rmtree(incoming)  # parts of another snapshot: start again
            incoming.mkdir(parents=True)
        (incoming / MANIFEST).write_text(json.dumps(manifest))
        total = sum(wanted.values())
        done = sum(min((incoming / p).stat().st_size, n) for p, n in wanted.items() if (incoming / p).is_file())
        resumed = done
        for rel, size in wanted.items():
            done = _fetch(client, headers, str(manifest["id"]), rel, size, incoming / rel, done, total, progress)
    finally:
        if own:
            client.close()
    for rel, size in wanted.items():
        have = (incoming / rel).stat().st_size
        if have != size:
            raise CopyError(f"{rel}: {have} bytes arrived, the manifest says {size}; run the pull again")
    with _waiting_lock(settings):
        _swap_in(index_dir, incoming, list(wanted))
    return {"files": len(wanted), "bytes": total, "resumed_bytes": resumed,
            "seconds": round(time.perf_counter() - started, 2)}


def _manifest(client: httpx.Client, headers: dict, base_url: str) -> dict:
    try:
        r = client.get("/_node/index/manifest", headers=headers)
    except httpx.HTTPError as exc:
        raise CopyError(f"could not reach {base_url}: {exc}") from None
    if r.status_code == 403:
        raise CopyError(f"{base_url} refused: the two nodes must share PAPERBOY_SECRET_KEY")
    if r.status_code != 200:
        raise CopyError(f"{base_url} answered {r.status_code} for its index manifest: {_reason(r)}")
    try:
        manifest = r.json()
        files = manifest["files"]
        readable = str(manifest["id"]).isdigit() and all(
            isinstance(f["path"], str) and int(f["size"]) >= 0 for f in files)
    except (ValueError, KeyError, TypeError):
        readable = False
    if not readable:
        raise CopyError(f"{base_url} sent a manifest this version cannot read")
    for f in files:
        rel = Path(f["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise CopyError(f"{base_url} named a file outside the index dir: {f['path']!r}")
    return manifest


def _reason(r: httpx.Response) -> str:
    """The error a node gave, from its JSON answer."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    detail = body.get("detail") or body.get("error") if isinstance(body, dict) else None
    return str(detail or body)[:300]


def _fetch(client: httpx.Client, headers: dict, snapshot_id: str, rel: str, size: int, dest: Path, done: int,
           total: int, progress: Progress | None) -> int:
    """Download one file (continuing a partial one); ``done`` counts bytes of every file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = dest.stat().st_size if dest.exists() else 0
    if have > size:
        dest.unlink()
        done -= have
        have = 0
    if have == size:
        return done
    req = dict(headers)
    if have:
        req["Range"] = f"bytes={have}-"
    try:
        with client.stream("GET", f"/_node/index/files/{snapshot_id}/{rel}", headers=req) as r:
            if r.status_code == 410:
                raise CopyError("the node replaced its snapshot during the copy; run the pull again")
            if r.status_code not in (200, 206):
                raise CopyError(f"{rel}: the node answered {r.status_code}")
            if have and r.status_code == 200:  # no range support: from the start
                done -= have
                have = 0
            with open(dest, "ab" if have else "wb") as fh:
                for chunk in r.iter_bytes(CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(rel, done, total)
    except httpx.HTTPError as exc:
        raise CopyError(f"{rel}: the transfer broke off ({exc}); run the pull again to continue") from None
    return done


def _swap_in(index_dir: Path, incoming: Path, files: list[str]) -> None:
    """Replace the local indexes by the arrived ones: the keyword dir whole, each vector
    file by rename, the state files last (what searches watch to re-open)."""
    keyword, new_keyword = index_dir / "keyword", incoming / "keyword"
    if new_keyword.is_dir():
        old = index_dir / f".keyword.old{os.getpid()}"
        if keyword.exists():
            os.replace(keyword, old)
        os.replace(new_keyword, keyword)
        shutil.rmtree(old, ignore_errors=True)
    states = [f for f in files if f in STATE_FILES]
    for rel in files:
        if not rel.startswith("keyword/") and rel not in states:
            os.replace(incoming / rel, index_dir / rel)
    for name in STATE_FILES:
        if name not in states:
            (index_dir / name).unlink(missing_ok=True)  # would describe the replaced index
    for rel in states:
        os.replace(incoming / rel, index_dir / rel)
    shutil.rmtree(incoming, ignore_errors=True)
    log.info("index copied in: %d files", len(files))


def has_index(settings: Settings) -> bool:
    return (settings.resolved_index_dir / "keyword-state.json").is_file()


def pull_from_peers(settings: Settings) -> str | None:
    """A node with no index copies one from the first of ``PAPERBOY_INDEX_PEERS`` that
    has one; the peer copied from, or None (then the refresh builds it)."""
    peers = [p.strip() for p in settings.index_peers.split(",") if p.strip()]
    if not peers or has_index(settings):
        return None
    for peer in peers:
        try:
            stats = pull(settings, peer)
        except CopyError as exc:
            log.warning("no index copy from %s: %s", peer, exc)
            continue
        log.info("index copied from %s: %d files, %d bytes in %.1f s", peer, stats["files"], stats["bytes"],
                 stats["seconds"])
        return peer
    return None

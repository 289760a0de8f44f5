"""Routes between the nodes of one deployment, not for people or scripts.

``/_node/index/...`` lets a new node copy this node's indexes (``paperboy index pull``,
``paperboy.index.copy``). Every request must carry the token only nodes sharing the
secret key can compute; the reverse proxy does not pass ``/_node/`` on (deploy/nginx.conf),
and a node reaches another's own port directly.
"""

from __future__ import annotations

import json

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from paperboy.config import Settings
from paperboy.index import copy
from paperboy.web.deps import get_app_settings

router = APIRouter(prefix="/_node", include_in_schema=False)
health = APIRouter(include_in_schema=False)


@health.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz(request: Request) -> JSONResponse:
    """For a load balancer, a supervisor or a monitor: 200 while this process answers and
    reaches its database, else 503; what the search index can do says whether keyword
    and semantic search are ready. Never cached; it reads nothing private."""
    engine = request.app.state.engine

    def check() -> str | None:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure is the answer, named
            return _named(exc)
        return None

    problem = await anyio.to_thread.run_sync(check)
    search, keyword_index, coverage = request.app.state.search, "unknown", 0.0
    if problem is None:  # the index's state is read with the database's help
        try:
            keyword, _ = await anyio.to_thread.run_sync(search.keyword_reader)
            keyword_index, coverage = ("ready" if keyword is not None else "building"), search.semantic_coverage()
        except Exception as exc:  # noqa: BLE001 - e.g. a database not migrated yet
            problem = _named(exc)
    body = {"status": "ok" if problem is None else "unavailable",
            "database": "ok" if problem is None else problem,
            "keyword_index": keyword_index, "semantic_coverage": coverage}
    return JSONResponse(body, status_code=200 if problem is None else 503, headers={"Cache-Control": "no-store"})


def _named(exc: Exception) -> str:
    """A failure in one line: its kind and the first line of its message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


def _node(request: Request, settings: Settings = Depends(get_app_settings)) -> Settings:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not copy.token_ok(settings, token.strip()):
        raise HTTPException(403, "a node of this deployment only (the token of its shared secret key)")
    return settings


@router.get("/index/manifest")
async def index_manifest(settings: Settings = Depends(_node)) -> JSONResponse:
    """The files of a consistent snapshot of this node's indexes, with their sizes."""
    try:
        snap = await anyio.to_thread.run_sync(copy.snapshot, settings)
    except copy.CopyError as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse({**json.loads((snap / copy.MANIFEST).read_text()), "id": snap.name})


@router.get("/index/files/{snapshot_id}/{rel:path}")
async def index_file(snapshot_id: str, rel: str, settings: Settings = Depends(_node)) -> FileResponse:
    """One file of a snapshot (Range requests continue a partial download)."""
    snap = copy.snapshot_dir(settings, snapshot_id)
    if snap is None:
        raise HTTPException(410, "that snapshot is gone (replaced by a newer one): start the pull again")
    path = copy.snapshot_file(snap, rel)
    if path is None or not path.is_file():
        raise HTTPException(404, f"no file {rel!r} in this node's index snapshot")
    return FileResponse(path, media_type="application/octet-stream")

"""A new node copies a running node's indexes (``paperboy index pull``) instead of building
them, and serves the same answers at once; the copy is consistent, resumable, refused
to nodes without the deployment's secret key, and never damages the index it replaces.
"""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import select, update

from paperboy.config import Settings
from paperboy.index import copy
from paperboy.index.jobs import read_state, refresh_index
from paperboy.index.models import PaperEmbedding
from paperboy.index.service import SearchService
from paperboy.site import create_app
from paperboy.store.models import Paper, utcnow
from tests.index.conftest import CORPUS, add_papers, ids
from tests.support.servers import serve_app_in_thread

SECRET = "one deployment's shared secret key"
QUERIES = ("graph neural networks", "message passing on molecular graphs", "diffusion image generation")


def node_settings(tmp_path, name: str, secret: str = SECRET) -> Settings:
    return Settings(data_dir=tmp_path / name, embedder="hash", secret_key=secret, mail_backend="null")


@pytest.fixture
def first_node(corpus, tmp_path):
    """A node with its indexes built, served over HTTP. The papers and vectors were
    written an hour apart a day ago, so a later refresh re-reads only the newest."""
    day_ago = utcnow() - dt.timedelta(days=1)
    with corpus.begin() as conn:
        for n, pid in enumerate(conn.scalars(select(Paper.id).order_by(Paper.id))):
            then = day_ago + dt.timedelta(hours=n)
            conn.execute(update(Paper).where(Paper.id == pid).values(modified_at=then))
            conn.execute(update(PaperEmbedding).where(PaperEmbedding.paper_id == pid).values(embedded_at=then))
    node = node_settings(tmp_path, "first")
    refresh_index(node, corpus, progress=False)
    with serve_app_in_thread(create_app(node, corpus)) as base:
        yield node, base


def answers(settings: Settings, engine) -> dict:
    svc = SearchService(settings, engine)
    return {(q, mode): ids(svc.search(q, mode=mode, limit=20)) for q in QUERIES
            for mode in ("keyword", "semantic", "hybrid")}


def test_a_new_node_serves_the_same_answers_from_a_copy_and_then_only_catches_up(first_node, corpus, tmp_path):
    first, base = first_node
    new = node_settings(tmp_path, "new")
    stats = copy.pull(new, base)
    assert stats["files"] >= 4 and stats["bytes"] > 0
    assert answers(new, corpus) == answers(first, corpus)
    assert read_state(new, "keyword") == read_state(first, "keyword")

    add_papers(corpus, [("2503.00009", "Graph transformers for crystals",
                         "Graph neural networks with attention predict crystal properties.",
                         ["Jo Park"], ["cond-mat.mtrl-sci"], None)])
    stats = refresh_index(new, corpus, progress=False)
    # Only the new paper (the copied state knows what the first node read): a rebuild
    # would index all nine.
    assert stats["keyword_indexed"] == 1 and stats["vectors_added"] == 1
    assert "2503.00009" in ids(SearchService(new, corpus).search("crystal properties", mode="keyword"))


def test_only_a_node_with_the_same_secret_key_gets_the_files(first_node, tmp_path):
    _, base = first_node
    stranger = node_settings(tmp_path, "stranger", secret="another deployment's key")
    with pytest.raises(copy.CopyError, match="must share PAPERBOY_SECRET_KEY"):
        copy.pull(stranger, base)
    assert not (stranger.resolved_index_dir / "keyword").exists()
    assert httpx.get(base + "/_node/index/manifest").status_code == 403
    token = copy.node_token(node_settings(tmp_path, "x"))
    manifest = httpx.get(base + "/_node/index/manifest", headers={"Authorization": f"Bearer {token}"}).json()
    auth = {"Authorization": f"Bearer {token}"}
    for sneaky in ("../../secret_key", "keyword/../../secret_key", "secret_key"):
        r = httpx.get(f"{base}/_node/index/files/{manifest['id']}/{sneaky}", headers=auth, follow_redirects=True)
        assert r.status_code in (404, 410), sneaky  # not a file of the snapshot
        assert SECRET not in r.text
    assert httpx.get(f"{base}/_node/index/files/1/keyword-state.json", headers=auth).status_code == 410


def test_an_interrupted_copy_continues_where_it_stopped(first_node, corpus, tmp_path):
    first, base = first_node
    new = node_settings(tmp_path, "new")
    token = copy.node_token(new)
    manifest = httpx.get(base + "/_node/index/manifest", headers={"Authorization": f"Bearer {token}"}).json()
    biggest = max(manifest["files"], key=lambda f: f["size"])
    # What a pull cut off half-way through its biggest file leaves behind.
    incoming = new.resolved_index_dir / copy.INCOMING
    (incoming / biggest["path"]).parent.mkdir(parents=True, exist_ok=True)
    (incoming / copy.MANIFEST).write_text(json.dumps(manifest))
    source = first.resolved_index_dir / copy.SNAPSHOTS / manifest["id"] / biggest["path"]
    (incoming / biggest["path"]).write_bytes(source.read_bytes()[: biggest["size"] // 2])

    stats = copy.pull(new, base)
    assert stats["resumed_bytes"] == biggest["size"] // 2
    assert answers(new, corpus) == answers(first, corpus)
    assert not incoming.exists()


def test_a_copy_that_does_not_add_up_leaves_the_local_index_as_it_was(first_node, corpus, tmp_path):
    first, base = first_node
    new = node_settings(tmp_path, "new")
    refresh_index(new, corpus, progress=False)  # a node with an index of its own
    before = answers(new, corpus)
    token = copy.node_token(new)
    manifest = httpx.get(base + "/_node/index/manifest", headers={"Authorization": f"Bearer {token}"}).json()
    # The snapshot's file comes out shorter than its manifest says (a new file under the
    # link's name: the serving node's own index is not touched).
    listed = next(f for f in manifest["files"] if f["path"].startswith("vectors-"))
    served = first.resolved_index_dir / copy.SNAPSHOTS / manifest["id"] / listed["path"]
    served.unlink()
    served.write_bytes(b"cut short")

    with pytest.raises(copy.CopyError, match="run the pull again"):
        copy.pull(new, base)
    assert answers(new, corpus) == before
    assert answers(first, corpus) == before


def test_a_node_without_an_index_says_so(fresh_engine, tmp_path):
    empty = node_settings(tmp_path, "empty")
    with serve_app_in_thread(create_app(empty, fresh_engine)) as base:
        with pytest.raises(copy.CopyError, match="no keyword index yet"):
            copy.pull(node_settings(tmp_path, "new"), base)
    with pytest.raises(copy.CopyError, match="could not reach"):
        copy.pull(node_settings(tmp_path, "new"), base)


def test_a_node_with_peers_set_copies_from_the_first_that_answers_only_when_it_has_no_index(first_node, corpus,
                                                                                             tmp_path):
    first, base = first_node
    nobody = "http://127.0.0.1:9"  # nothing listens there
    new = node_settings(tmp_path, "new").model_copy(update={"index_peers": f"{nobody}, {base}"})
    assert copy.pull_from_peers(new) == base
    assert answers(new, corpus) == answers(first, corpus)
    assert copy.pull_from_peers(new) is None  # it has an index now: nothing is copied over it

    alone = node_settings(tmp_path, "alone").model_copy(update={"index_peers": nobody})
    assert copy.pull_from_peers(alone) is None  # no peer answered: the refresh builds it
    assert refresh_index(alone, corpus, progress=False)["keyword_indexed"] == len(CORPUS)

"""What the tests of papers fetched for members (by id and by title) share: a site whose
arXiv is the loopback fake answering from recorded API responses, a worker between its
jobs, and readings of the page and the store."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from paperboy.site import create_app
from paperboy.store.claims import Heartbeat
from paperboy.store.models import CollectionItem, Paper
from paperboy.worker.wanted import serve_batch
from tests.community.conftest import Site, make_settings

API_JSON = "arxiv/api/new_api_2026_json_wrapped"  # recorded arXiv API answers, in ../shared/data


def arxiv_site(shared_data, fake, engine, tmp_path, **settings) -> Site:
    """An app whose arXiv is ``fake``, loaded with the recorded answers; no delays."""
    fake.load_api_recordings(shared_data / API_JSON)
    values = dict(arxiv_api_url=fake.api_url, arxiv_delay=0, http_timeout=5.0, http_retries=0)
    return Site(create_app(make_settings(tmp_path, **{**values, **settings}), engine), engine)


def worker(site, name: str = "worker-1") -> Heartbeat:
    return Heartbeat(site.engine, name, lease_seconds=60)


def run_worker(site, name: str = "worker-1") -> list:
    """What a worker does between its jobs: batches until none is due."""
    beat, served = worker(site, name), []
    try:
        while (got := serve_batch(site.app.state.settings, beat)) is not None:
            served.append(got)
    finally:
        beat.stop()
    return served


def said(r) -> str:
    """The page's text as a reader sees it: tags dropped, entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


def saved(site, cid) -> set[str]:
    """The arXiv ids saved in collection ``cid``."""
    with site.engine.connect() as conn:
        return set(conn.scalars(select(Paper.arxiv_id).join(CollectionItem, CollectionItem.paper_id == Paper.id)
                                .where(CollectionItem.collection_id == cid)))

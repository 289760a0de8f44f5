"""Cards, feeds and digest mails show an abstract cleaned of TeX by the same function;
feeds and mails, which render no math, write its formulas as Unicode text."""

from __future__ import annotations

import html

import feedparser
from starlette.testclient import TestClient

from paperboy.digest.compose import paper_view
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Paper
from tests.support.factories import make_paper
from tests.web.conftest import settings_for

TITLE = r"\emph{Fast} sorting by Bu~and~Tao"
ABSTRACT = r"We \textit{propose} ``fast'' sorting for 4B--671B keys in $O(n\log\log n)$ time, 50\% faster."
CLEAN = "We propose “fast” sorting for 4B–671B keys in O(n log log n) time, 50% faster."


def test_feeds_cards_and_mails_show_clean_text(databases, tmp_path):
    engine = databases.new_engine()
    with session_scope(engine) as db:
        paper = make_paper(db, title=TITLE, abstract=ABSTRACT)
        arxiv_id = paper.arxiv_id
    settings = settings_for(tmp_path)
    client = TestClient(create_app(settings, engine), base_url="http://testserver")

    page = client.get(f"/papers/{arxiv_id}").text
    assert "<em>propose</em> “fast” sorting for 4B–671B keys" in page and "\\textit" not in page
    assert "Fast sorting by Bu and Tao" in page.replace("<em>", "").replace("</em>", "")

    for fmt, wrapped in (("rss", f"<p>{html.escape(CLEAN)}</p>"), ("atom", CLEAN)):  # RSS: HTML
        feed = feedparser.parse(client.get(f"/feeds/daily.{fmt}").content)
        entry = next(e for e in feed.entries if e.link.endswith(arxiv_id))
        assert entry.summary == wrapped
        assert entry.title == "Fast sorting by Bu and Tao"

    with engine.connect() as conn:
        from sqlalchemy import select

        row = conn.execute(select(Paper.id, Paper.arxiv_id, Paper.title, Paper.authors_text, Paper.categories,
                                  Paper.upvotes, Paper.pdf_url, Paper.abstract).where(Paper.arxiv_id == arxiv_id)).one()
    view = paper_view(settings, row)
    assert view["title"] == "Fast sorting by Bu and Tao"
    assert view["excerpt"] == CLEAN

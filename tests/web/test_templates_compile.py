"""Every page template compiles, and a web process compiles them all as it starts (so
that the first member to open a page does not wait for Jinja)."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from paperboy.config import Settings
from paperboy.site import create_app
from paperboy.web.templating import compile_all


def test_every_page_template_compiles_as_the_server_starts(fresh_engine, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="null",
                              for_you_warm_seconds=0), fresh_engine)
    env = app.state.templates.env
    names = set(env.list_templates(filter_func=lambda n: n.endswith(".html")))
    assert {"base.html", "_card.html", "digest/settings.html", "recommend/for_you.html"} <= names  # features' too
    assert len(env.cache) < len(names)  # before the server starts, only what the app itself loaded
    with TestClient(app):
        deadline = time.monotonic() + 30
        while len(env.cache) < len(names) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(env.cache) == len(names)
    assert compile_all(app.state.templates) == len(names)  # and a syntax error would raise here

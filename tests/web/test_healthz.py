"""`/healthz`: what a load balancer, a supervisor or a monitor asks a node."""

from __future__ import annotations

from sqlalchemy import create_engine
from starlette.testclient import TestClient

from paperboy.site import create_app
from tests.web.conftest import settings_for


def test_a_node_that_reaches_its_database_is_healthy_and_says_what_search_can_do(site, client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["keyword_index"] in ("ready", "building") and 0 <= body["semantic_coverage"] <= 1
    assert client.head("/healthz").status_code == 200
    assert "set-cookie" not in r.headers  # a probe gets no session or CSRF cookie to keep


def test_a_node_that_cannot_reach_its_database_answers_503_naming_why(tmp_path):
    gone = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none", connect_args={"connect_timeout": 2})
    client = TestClient(create_app(settings_for(tmp_path), gone))
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable" and "OperationalError" in r.json()["database"]

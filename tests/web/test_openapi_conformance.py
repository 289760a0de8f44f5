"""A bounded Schemathesis run over every operation of /openapi.json, on both backends:
no answer is a server error, and every answer (status, content type, body) is one the
document describes."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from paperboy.config import Settings
from paperboy.web.app import create_app
from tests.support.factories import make_paper


@pytest.fixture
def api_schema(fresh_engine, tmp_path):
    from paperboy.store.db import session_scope

    with session_scope(fresh_engine) as db:
        for i in range(3):
            make_paper(db, title=f"Graph paper {i}")
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="null"),
                     fresh_engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_answers_as_documented(api_schema):
    """Unsafe requests carry a valid CSRF token, so their bodies reach the routes."""
    from paperboy.community.security import CSRF_COOKIE, csrf_pair

    cookie, token = csrf_pair(api_schema.app)
    auth = {"X-CSRF-Token": token, "Cookie": f"{CSRF_COOKIE}={cookie}"}
    failures = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.label for op in operations} >= {"GET /api/daily_papers", "GET /api/papers/search", "GET /api/trending"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=auth)

        try:
            check()
        except BaseException as exc:  # noqa: BLE001 - collect every operation's finding (groups too)
            failures[operation.label] = str(exc)[:1500]
    assert failures == {}


def test_an_unknown_method_on_a_known_path_is_405_not_a_csrf_refusal(fresh_engine, tmp_path):
    from starlette.testclient import TestClient

    app = create_app(Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="null"),
                     fresh_engine)
    client = TestClient(app)
    for method, path in (("DELETE", "/api/daily_papers"), ("PUT", "/api/trending"), ("DELETE", "/subscribe")):
        r = client.request(method, path)
        assert r.status_code == 405 and r.headers["allow"], (method, path)

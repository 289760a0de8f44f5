"""Schemathesis over every operation of the OpenAPI document, on both backends: no 5xx,
and every answer (status, content type, body, headers) is one the document declares."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from paperboy.site import create_app
from paperboy.web.security import CSRF_COOKIE, CSRF_HEADER
from tests.web.conftest import seed, settings_for

CHECKS = [checks.not_a_server_error, checks.response_schema_conformance, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.positive_data_acceptance, checks.negative_data_rejection]
EXAMPLES = 10  # per operation and mode: 16 operations x 2 modes x 2 backends stay under a minute


@pytest.fixture(scope="module")
def api_schema(databases, tmp_path_factory):
    engine = databases.new_engine(keep=True)
    seed(engine)
    app = create_app(settings_for(tmp_path_factory.mktemp("openapi")), engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def browser_like(api_schema) -> dict:
    """A CSRF cookie and its token, as a browser holding a form has them, so that form
    posts reach their routes (without them every post is the middleware's 403)."""
    from starlette.testclient import TestClient

    client = TestClient(api_schema.app)
    page = client.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return {"headers": {CSRF_HEADER: token}, "cookies": {CSRF_COOKIE: client.cookies[CSRF_COOKIE]}}


def _one_period_at_most(case) -> bool:
    # "At most one of date, week, month" cannot be said in OpenAPI parameters; the
    # document says it in words and a request with two is answered 422 by design.
    return sum(k in (case.query or {}) for k in ("date", "week", "month")) <= 1


# A trend's range must run forwards, over real calendar days and at most 600 periods, and
# its topics must have something to count (not only common words, not an arXiv id): a
# well-typed request that breaks one of these is a 422 saying which.
CHECKED_FORMS = {"GET /trends", "GET /api/trends", "GET /api/trends.csv"}


def _sent_as_a_valid_request(case) -> bool:
    """A negative case whose every mutation changes a query parameter's type: a query
    string holds only text, so schemathesis sends the number as its digits and an
    object as its keys (``q=a&q=b``), which can be a request the document allows (a
    topic "174550253"). Whether a run draws one depends on the values it has seen
    before: schemathesis 4.32 flagged ``/api/trends`` so in longer runs, never alone."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    places = [getattr(data, "parameter_location", None)] + [getattr(m, "parameter_location", None)
                                                             for m in getattr(data, "mutations", ()) or ()]
    if any(p is not None and not str(p).lower().endswith("query") for p in places):
        return False
    lines = [line.strip(" -") for line in (getattr(data, "description", "") or "").splitlines() if line.strip(" -")]
    return bool(lines) and all(line.startswith("violates `type` at /properties/") for line in lines)


def _checks_for(operation) -> list:
    if operation.label in CHECKED_FORMS:
        return [c for c in CHECKS if c is not checks.positive_data_acceptance]
    return CHECKS


def _explore(operation, mode: GenerationMode, failures: list[str], credentials: dict,
             seen: dict[str, set[int]]) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.filter(_one_period_at_most)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def run(case):
        if mode is GenerationMode.NEGATIVE and _sent_as_a_valid_request(case):
            return
        response = case.call(**credentials)
        seen.setdefault(operation.label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=_checks_for(operation))
        except FailureGroup as group:
            phase = getattr(case.meta, "phase", None)
            why = getattr(getattr(phase, "data", None), "description", "")  # the negative case's mutation
            failures.extend(f"{operation.label} [{mode.value}] {getattr(exc, 'title', type(exc).__name__)}"
                            f" -> {response.status_code} {response.headers.get('content-type')} ({why})\n"
                            f"    {case.as_curl_command()}\n    {response.text[:300]}" for exc in group.exceptions)

    try:
        run()
    except Unsatisfiable:
        # An operation without constrained inputs has no request that breaks its schema.
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_every_operation_answers_as_documented(api_schema, browser_like):
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 16
    for operation in operations:
        for mode in GenerationMode:
            _explore(operation, mode, failures, browser_like, seen)
    # Pages and their forms are not in the document, only the API (the digest's were, as
    # if a script could use them: a token cannot, and /docs listed them among the API's).
    assert not [label for label in seen if " /subscri" in label or "/account/digest" in label], seen
    assert not failures, f"{len(failures)} answers disagree with the OpenAPI document:\n" + "\n".join(failures)


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/api/trending", "GET, HEAD"),
    ("PUT", "/api/papers/2501.00001", "GET, HEAD"),
    ("DELETE", "/", "GET, HEAD"),
    ("PATCH", "/subscribe", "POST"),
    ("DELETE", "/account/digest", "GET, HEAD, POST"),
    # The paper's GET (an id may hold a slash: hep-th/9901001) matches any address below
    # it; the methods named are those the address is written for, not that catch-all's.
    ("POST", "/api/papers/2501.00001/vote", "DELETE, PUT"),
    ("POST", "/api/papers/hep-th/9901001/vote", "DELETE, PUT"),
    ("GET", "/api/papers/2501.00001/vote", "DELETE, PUT"),
    ("GET", "/api/collections/1/papers/2501.00001", "DELETE, PUT"),
    ("PUT", "/static/app.js", "GET, HEAD"),
])
def test_an_unknown_method_on_a_known_path_is_405_with_allow(fresh_engine, tmp_path, method, path, allow):
    from starlette.testclient import TestClient

    client = TestClient(create_app(settings_for(tmp_path), fresh_engine))
    r = client.request(method, path)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.headers["x-frame-options"] == "DENY"  # still inside the security headers


def test_opening_a_buttons_address_in_the_browser_says_what_it_is(fresh_engine, tmp_path):
    from starlette.testclient import TestClient

    client = TestClient(create_app(settings_for(tmp_path), fresh_engine))
    r = client.get("/papers/2501.00001/vote", headers={"Accept": "text/html"})
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert "This address is a button&#39;s (it changes something), not a page to open" in r.text
    script = client.get("/papers/2501.00001/vote", headers={"Accept": "application/json"})
    assert script.json()["detail"] == "GET is not allowed here; use POST."

"""Security headers on every kind of response, and whose X-Forwarded-For is believed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from paperboy.cli.serve import proxy_options
from paperboy.config import ConfigError, Settings, load_settings
from paperboy.site import create_app
from paperboy.store.models import RateLimit
from tests.support.servers import serve_app_in_thread


def _settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="null", **kw)


@pytest.fixture
def client(fresh_engine, tmp_path):
    return TestClient(create_app(_settings(tmp_path), fresh_engine))


def test_every_kind_of_response_carries_the_security_headers(client):
    answers = {
        "page": client.get("/"),
        "api": client.get("/api/daily_papers"),
        "static": client.get("/static/style.css"),
        "not found": client.get("/no/such/page"),
        "csrf refusal": client.post("/follows", data={"kind": "author", "target": "x"}),
        "feed": client.get("/rss"),
    }
    assert answers["csrf refusal"].status_code == 403
    for what, r in answers.items():
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], what
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, what
        assert r.headers["x-content-type-options"] == "nosniff", what
        assert r.headers["x-frame-options"] == "DENY", what
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", what
        assert "strict-transport-security" not in r.headers, what  # plain http


def test_the_icon_browsers_ask_for_by_default_is_the_sites_own(client):
    r = client.get("/favicon.ico", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/static/favicon.svg"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_pages_allow_no_inline_style_except_the_mail_preview(client):
    def style_src(r):
        return r.headers["content-security-policy"].split("style-src")[1].split(";")[0]

    assert style_src(client.get("/")) == " 'self'"
    assert style_src(client.get("/papers?date=2025-01-15")) == " 'self'"
    # A digest preview shows a mail as mailed; mail clients only understand inline styles.
    assert "'unsafe-inline'" in style_src(client.get("/subscriptions/any-link/preview"))


def test_hsts_only_when_the_public_url_is_https(fresh_engine, tmp_path):
    app = create_app(_settings(tmp_path, base_url="https://papers.example.org"), fresh_engine)
    r = TestClient(app).get("/")
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_no_page_has_inline_scripts_or_event_handlers(client):
    import re

    for path in ("/", "/signin", "/signup", "/search?q=graph", "/trending", "/submit", "/docs"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"<style|\sstyle\s*=", html), path


def _failed_signin_keys(engine, base) -> set[str]:
    http = httpx.Client(base_url=base)
    import re

    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', http.get("/signin").text).group(1)
    r = http.post("/signin", data={"csrf_token": token, "email": "x@example.org", "password": "wrong password"},
                  headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 400
    with engine.connect() as conn:
        return {k for k in conn.scalars(select(RateLimit.key)) if k.startswith("signin_fail_ip:")}


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(fresh_engine, tmp_path):
    settings = _settings(tmp_path)
    with serve_app_in_thread(create_app(settings, fresh_engine), **proxy_options(settings)) as base:
        assert _failed_signin_keys(fresh_engine, base) == {"signin_fail_ip:127.0.0.1"}


def test_forwarded_for_is_believed_from_a_trusted_proxy(fresh_engine, tmp_path):
    settings = _settings(tmp_path, trusted_proxies="127.0.0.1")
    with serve_app_in_thread(create_app(settings, fresh_engine), **proxy_options(settings)) as base:
        assert _failed_signin_keys(fresh_engine, base) == {"signin_fail_ip:203.0.113.7"}


def test_a_malformed_trusted_proxy_is_a_clear_config_error():
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES.*not an IP address"):
        load_settings(trusted_proxies="127.0.0.1, proxy.local")

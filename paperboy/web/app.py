"""The foundation's app factory: settings, store and services wired to the features' routes.

``build_app`` knows no feature: ``paperboy.site`` hands it the list (pages, api,
community, digest, ...), each with its routers, template folder and template globals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from paperboy.config import Settings, get_settings
from paperboy.index.service import get_search_service
from paperboy.mail.outbox import MailOutbox
from paperboy.mail.senders import get_mail_sender
from paperboy.store.db import get_engine, session_factory
from paperboy.store.replicas import ReplicaSet
from paperboy.web import deps, errors, member_data, openapi, reads, security, slots
from paperboy.web.cache import PageCache, PageCacheMiddleware
from paperboy.web.conditional import ConditionalGetMiddleware
from paperboy.web.cors import PublicCorsMiddleware
from paperboy.web.features import Feature
from paperboy.web.head import HeadAsGetMiddleware
from paperboy.web.headers import SecurityHeadersMiddleware
from paperboy.web.templating import compile_all, make_templates

STATIC = Path(__file__).with_name("static")
WARM_UP_WAIT = 60.0  # seconds the query embedder waits for each feature's warm-up, at most
log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The templates are compiled and the query embedder loaded, and features' background
    work starts, with the server; that work stops with it. What the app opened itself is closed when the
    server stops: the page cache's own SQLite connection and the read replicas' pools.
    The engine was handed in (or is the process's shared one): whoever made it disposes
    of it."""
    # Features' background work starts first; what it must finish before the query
    # embedder loads (the first round of For you's candidates) it adds to ``warm_ups``.
    app.state.warm_ups = []
    stops = [start(app) for start in app.state.on_start]
    # templates compiled and the query embedder loaded beside the first requests, not in them
    app.state.search.will_warm()
    threading.Thread(target=_warm, args=(app,), name="warm-up", daemon=True).start()
    yield
    for stop in stops:
        stop()
    app.state.page_cache.close()
    if app.state.reads is not None:
        app.state.reads.replicas.dispose()


def _warm(app: FastAPI) -> None:
    """The query embedder loads last: ~5 s of imports that hold the GIL, which made For
    you's first candidates, built beside it, take 2.6 s instead of 1.8 s. A search
    meanwhile answers by its words (``SearchService.warm``); For you has no such fallback."""
    try:
        compile_all(app.state.templates)
    except Exception:  # the page that uses a broken template says so when asked for
        log.exception("compiling the templates ahead of the first requests failed")
    for done in app.state.warm_ups:
        done.wait(WARM_UP_WAIT)
    app.state.search.warm()


def build_app(features: Sequence[Feature], settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app from ``features``. Services are chosen from ``settings``; tests pass their own."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    app = FastAPI(
        dependencies=[Depends(errors.refuse_too_large), Depends(errors.no_nul_characters)],
        title=settings.site_name,
        description="Research papers, daily: feeds, search, votes and digests.",
        docs_url=None,  # /docs is our own page (api feature): no CDN assets
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.templates = make_templates(settings, features)
    app.state.mail = get_mail_sender(settings)
    app.state.outbox = MailOutbox(engine, app.state.mail)
    app.state.search = get_search_service(settings, engine)
    app.state.features = tuple(f.name for f in features)
    app.state.on_start = tuple(f.on_start for f in features if f.on_start is not None)
    # Read replicas (none by default): safe requests read from one that is fit (web/reads.py).
    app.state.reads = None
    if settings.replica_urls:
        replicas = ReplicaSet(engine, settings.replica_urls, max_lag=settings.replica_max_lag_seconds,
                              retry_after=settings.replica_retry_seconds)
        app.state.reads = reads.Reads(replicas, settings.resolved_secret_key(),
                                      secure=settings.resolved_base_url.startswith("https://"))

    errors.install(app)
    deps.install(app)
    # Innermost: the request's one session is closed (and a busy unit re-run) here.
    app.add_middleware(deps.UnitOfWorkMiddleware)
    if app.state.reads is not None:  # an unsafe request's answer carries the primary's WAL position
        app.add_middleware(reads.LsnCookieMiddleware, reads=app.state.reads)
    # Added before the security middleware, so it runs inside it (see web/cache.py).
    app.state.page_cache = PageCache(engine, max_age=settings.page_cache_seconds,
                                     local_version=app.state.search.index_stamp)
    app.add_middleware(PageCacheMiddleware, cache=app.state.page_cache)
    security.install(app)
    # Outside the page cache and the member's checks: whatever made a feed or API answer,
    # it is tagged, and a client holding it gets a 304.
    app.add_middleware(ConditionalGetMiddleware)
    # Outside the CSRF check: an unknown method on a known path is a 405, not a forged form.
    app.add_middleware(HeadAsGetMiddleware)  # HEAD is served like GET, cache included
    # Outside the method check too: a browser's preflight (OPTIONS) of an API call is answered.
    app.add_middleware(PublicCorsMiddleware)
    # A database that is down is a 503 wherever it was met (a middleware's read included).
    app.add_middleware(errors.DatabaseDownMiddleware)
    # Outermost: every answer gets the headers, the middlewares' own 403/413 too.
    app.add_middleware(SecurityHeadersMiddleware, https=settings.resolved_base_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # Browsers ask for /favicon.ico where a page names no icon (the API docs, a feed,
    # a file): the site's own, not a 404 in every console.
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    for feature in features:
        for router in feature.routers:
            app.include_router(router)
        for part in feature.member_data:
            member_data.register(part)
        for feature_slot in feature.slots:
            slots.register(feature_slot)
    openapi.install(app)
    return app

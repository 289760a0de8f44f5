"""The site: the foundation (``paperboy.web``) with every feature plugged in.

This is the one module that knows the list of features; ``paperboy.asgi`` serves what it
builds and tests build it with their own settings and engine."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from paperboy.api.feature import FEATURE as API
from paperboy.community.feature import FEATURE as COMMUNITY
from paperboy.config import Settings
from paperboy.digest.feature import FEATURE as DIGEST
from paperboy.node.feature import FEATURE as NODE
from paperboy.pages.feature import FEATURE as PAGES
from paperboy.recommend.feature import FEATURE as RECOMMEND
from paperboy.trends.feature import FEATURE as TRENDS
from paperboy.web.app import build_app

FEATURES = (PAGES, API, COMMUNITY, DIGEST, RECOMMEND, TRENDS, NODE)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The whole site. Services are chosen from ``settings``; tests pass their own."""
    return build_app(FEATURES, settings, engine)

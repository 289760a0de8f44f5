"""Jinja2 templates from every stage's folder, autoescaped."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from paperboy.config import Settings

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATE_DIRS = [
    PACKAGE / "web" / "templates",
    PACKAGE / "community" / "templates",
    PACKAGE / "digest" / "templates" / "web",
]


def static_version() -> str:
    """A short hash of the static files, so browsers refetch them after a change."""
    import hashlib

    h = hashlib.sha1()
    for path in sorted((PACKAGE / "web" / "static").glob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:10]


def make_templates(settings: Settings) -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["site_name"] = settings.site_name
    env.globals["static_version"] = static_version()
    from paperboy.community.security import template_globals

    env.globals.update(template_globals())
    from paperboy.web.cards import CardCache, card_renderer

    env.globals["card_html"] = card_renderer(env, CardCache())
    return Jinja2Templates(env=env)

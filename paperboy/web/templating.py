"""Jinja2 templates from the foundation's folder and each feature's, autoescaped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from paperboy.config import Settings
from paperboy.web.cards import CardCache, card_id, card_renderer
from paperboy.web.features import Feature
from paperboy.web.mathtext import render_math
from paperboy.web.security import template_globals
from paperboy.web.slots import initial

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).with_name("templates")


def static_version() -> str:
    """A short hash of the static files, so browsers refetch them after a change."""
    import hashlib

    h = hashlib.sha1()
    for path in sorted((PACKAGE / "web" / "static").glob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:10]


def make_templates(settings: Settings, features: Sequence[Feature] = ()) -> Jinja2Templates:
    """The foundation's templates first, then each feature's folder; its globals added."""
    folders = [TEMPLATES, *(d for f in features for d in f.templates)]
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in folders]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["site_name"] = settings.site_name
    env.globals["static_version"] = static_version()
    env.globals.update(template_globals())
    for feature in features:
        env.globals.update(feature.template_globals())
    env.globals["card_id"] = card_id  # a card's HTML id, which redirects back to a card name too
    env.globals["card_html"] = card_renderer(env, CardCache())
    env.filters["math"] = render_math  # a title outside a card: escaped, its TeX rendered
    env.filters["initial"] = initial
    return Jinja2Templates(env=env)


def compile_all(templates: Jinja2Templates) -> int:
    """Compile every page template into the environment's cache (the app's lifespan does
    this on a thread as a web process starts), so that the first member to open each page
    does not wait for Jinja to compile it and the templates it includes. Returns how many."""
    env = templates.env
    names = env.list_templates(filter_func=lambda name: name.endswith(".html"))
    for name in names:
        env.get_template(name)
    return len(names)

"""How a feature plugs into the site: it hands the app factory its routers, its template
folder and its template globals (as datasette's plugins register theirs).

The foundation (``paperboy.web``) never imports a feature; ``paperboy.site`` lists the
features and passes them to ``web.app.build_app``. A new feature is a package with a
``feature.py`` that builds a ``Feature``, added to ``paperboy.site.FEATURES``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from paperboy.web.member_data import MemberDataPart
from paperboy.web.slots import FeatureSlot


@dataclass(frozen=True)
class Feature:
    name: str
    routers: Sequence[APIRouter] = ()
    templates: Sequence[Path] = ()  # folders searched after the foundation's own
    template_globals: Callable[[], dict[str, Any]] = field(default=dict)
    member_data: Sequence[MemberDataPart] = ()  # rows about a member: exported and deleted with the account
    slots: Sequence[FeatureSlot] = ()  # per-visitor parts of shared pages that read the feature's own rows
    # called with the app as the server starts (its lifespan); returns what stops it then.
    # Work that should finish before the query embedder loads (it holds the GIL for
    # seconds) adds a threading.Event, set when done, to ``app.state.warm_ups``.
    on_start: Callable[[Any], Callable[[], None]] | None = None

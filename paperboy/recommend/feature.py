"""The "For you" feature as the app factory takes it: the member's picks with why lines,
what the feed learned and its controls, seeds, "not interested", and their JSON."""

from collections.abc import Callable
from pathlib import Path

from paperboy.index.embedder import configured_embedder, embedder_name
from paperboy.rank import foryou
from paperboy.recommend import signals, views
from paperboy.web.features import Feature


def warm_for_you(app) -> Callable[[], None]:
    """Today's and this week's candidates built as the server starts and as each new day
    comes in, not in a member's request (``foryou.Warmer``)."""
    settings = app.state.settings
    if not settings.for_you_warm_seconds:
        return lambda: None
    model = embedder_name(configured_embedder(settings))
    warmer = foryou.Warmer(app.state.engine, settings, model, every=settings.for_you_warm_seconds).start()
    app.state.warm_ups.append(warmer.first_round)  # before the query embedder loads (web.app)
    return warmer.stop


FEATURE = Feature(
    "recommend",
    routers=(views.router, views.api_router),
    templates=(Path(__file__).with_name("templates"),),
    member_data=(signals.PART,),
    on_start=warm_for_you,
)

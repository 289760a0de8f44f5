"""The "For you" feature as the app factory takes it: the member's picks with why lines,
what the feed learned and its controls, seeds, "not interested", and their JSON."""

from pathlib import Path

from paperboy.recommend import signals, views
from paperboy.web.features import Feature

FEATURE = Feature(
    "recommend",
    routers=(views.router, views.api_router),
    templates=(Path(__file__).with_name("templates"),),
    member_data=(signals.PART,),
)

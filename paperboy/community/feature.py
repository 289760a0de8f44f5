"""The community feature as the app factory takes it: accounts, votes, submissions,
comments, collections, follows and moderation, with the member's template helpers."""

from pathlib import Path

from paperboy.community import helpers, member_api, notices, views
from paperboy.web.features import Feature

FEATURE = Feature(
    "community",
    routers=(views.router, member_api.api_router),
    templates=(Path(__file__).with_name("templates"),),
    template_globals=lambda: {**helpers.template_globals(), "notice": notices.notice},
)

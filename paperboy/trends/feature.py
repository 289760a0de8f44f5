"""The trends feature as the app factory takes it."""

from pathlib import Path

from paperboy.trends import views
from paperboy.web.features import Feature

FEATURE = Feature(
    "trends",
    routers=(views.router, views.api_router),
    templates=(Path(__file__).with_name("templates"),),
)

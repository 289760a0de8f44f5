"""The pages feature as the app factory takes it."""

from paperboy.pages import feeds, views
from paperboy.web.features import Feature

FEATURE = Feature("pages", routers=(views.router, feeds.router))

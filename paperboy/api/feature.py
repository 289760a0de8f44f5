"""The API feature as the app factory takes it."""

from paperboy.api import views
from paperboy.web.features import Feature

FEATURE = Feature("api", routers=(views.router, views.docs_router))

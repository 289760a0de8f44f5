"""The node feature as the app factory takes it: what one node serves another."""

from paperboy.node import views
from paperboy.web.features import Feature

FEATURE = Feature("node", routers=(views.router,))

"""The node feature as the app factory takes it: what one node serves another, and its
health for whatever watches it."""

from paperboy.node import views
from paperboy.web.features import Feature

FEATURE = Feature("node", routers=(views.router, views.health))

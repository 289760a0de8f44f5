"""The digest feature as the app factory takes it: subscribing, settings and previews."""

from pathlib import Path

from paperboy.digest import account, views
from paperboy.web.features import Feature

FEATURE = Feature(
    "digest",
    routers=(views.router,),
    templates=(Path(__file__).parent / "templates" / "web",),
    member_data=(account.PART,),  # subscriptions go with the account (export, deletion, new address)
)

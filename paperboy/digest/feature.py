"""The digest feature as the app factory takes it: subscribing, settings and previews."""

from pathlib import Path

from paperboy.digest import account, alert_slot, views
from paperboy.web.features import Feature

FEATURE = Feature(
    "digest",
    routers=(views.router,),
    templates=(Path(__file__).parent / "templates" / "web",),
    member_data=(account.PART,),  # subscriptions go with the account (export, deletion, new address)
    slots=(alert_slot.SLOT,),  # "Alert me" on a search, or that it is one of the member's alerts
)

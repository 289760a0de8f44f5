"""Subscriptions: subscribe (double opt-in), confirm once, unsubscribe, change settings."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperboy.config import Settings
from paperboy.digest.models import Subscription
from paperboy.digest.schedule import valid_timezone
from paperboy.digest.tokens import links, unsign
from paperboy.index.keyword import searchable_query
from paperboy.mail.addresses import AddressError, normalise_address
from paperboy.mail.interfaces import MailSender
from paperboy.mail.render import render_email
from paperboy.papers.taxonomy import category_name, known_category
from paperboy.store.models import utcnow

EMAIL_TEMPLATES = Path(__file__).with_name("templates") / "email"
CATEGORY_RE = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
MAX_ALERTS = 20  # saved searches per subscription
MAX_ALERT_CHARS = 200


class SubscriptionError(ValueError):
    """Bad input from a form or the CLI; the message is shown to the person. A form
    with several bad values raises one, with a sentence for each (``problems``)."""

    def __init__(self, *problems: str) -> None:
        super().__init__(" ".join(problems))
        self.problems = list(problems)


def normalise_email(raw: str) -> str:
    try:
        return normalise_address(raw)
    except AddressError as exc:
        raise SubscriptionError(str(exc)) from None


def new_token() -> str:
    return secrets.token_urlsafe(24)


def defaults(settings: Settings) -> dict:
    return {
        "frequency": "daily",
        "weekday": 0,
        "send_hour": settings.digest_default_hour,
        "timezone": settings.digest_default_timezone,  # a zone the IANA database has: checked at load
        "top_n": settings.digest_default_top_n,
        "categories": "",
        "include_follows": True,
        "alerts": [],
        "skip_empty": True,
        "bounces": 0,
    }


@dataclass
class SubscribeResult:
    subscription: Subscription
    created: bool
    needs_confirmation: bool


def subscribe(
    db: Session, settings: Settings, raw_email: str, *, confirmed: bool = False, weekly: bool = False,
    user_id: int | None = None, timezone: str = "",
) -> SubscribeResult:
    """Create (or revive) a subscription. Unconfirmed ones get a fresh one-time nonce.
    A new one comes at the instance's hour in ``timezone`` (the subscriber's browser's,
    when it said; an unknown name is passed over), else in the instance's default zone.

    ``user_id`` ties the subscription to a member: pass it only when the address is that
    member's own, verified one (its settings links are then shown on their account)."""
    email = normalise_email(raw_email)
    sub = db.scalars(select(Subscription).where(Subscription.email == email)).one_or_none()
    created = sub is None
    if sub is None:
        sub = Subscription(email=email, token=new_token(), status="pending", **defaults(settings))
        if weekly:
            sub.frequency = "weekly"
        timezone = timezone.strip()
        if timezone and len(timezone) <= 64 and valid_timezone(timezone):
            sub.timezone = timezone
        db.add(sub)
    if user_id and not sub.user_id:
        sub.user_id = user_id
    if confirmed:
        if sub.status != "active":
            sub.status, sub.confirmed_at, sub.confirm_nonce = "active", utcnow(), None
            sub.paused_reason, sub.unsubscribed_at, sub.bounces = None, None, 0
    elif sub.status != "active":
        # pending, paused or unsubscribed: ask again; the previous link stops working.
        sub.status = "pending"
        sub.confirm_nonce = secrets.token_urlsafe(16)
    db.flush()
    return SubscribeResult(sub, created, sub.status == "pending")


def confirmation_mail(settings: Settings, sub: Subscription) -> EmailMessage:
    urls = links(settings, sub.token, sub.confirm_nonce)
    return render_email(
        EMAIL_TEMPLATES, "confirm",
        {"site_name": settings.site_name, "email": sub.email, "confirm_url": urls["confirm"]},
        to=sub.email, sender=settings.mail_from,
    )


def send_confirmation(settings: Settings, sender: MailSender, sub: Subscription) -> None:
    """Send at once (the CLI); requests queue ``confirmation_mail`` in the mail outbox."""
    sender.send(confirmation_mail(settings, sub))


def confirm(db: Session, settings: Settings, signed: str, *, check_only: bool = False) -> tuple[str, Subscription | None]:
    """('confirmed' | 'used' | 'invalid', subscription). A link works once.

    With ``check_only`` nothing changes and a link that would confirm answers 'valid'."""
    payload = unsign(settings, "confirm", signed)
    if not payload or len(payload) != 2:
        return "invalid", None
    token, nonce = payload
    sub = db.scalars(select(Subscription).where(Subscription.token == token).with_for_update()).one_or_none()
    if sub is None:
        return "invalid", None
    if sub.status != "pending" or not sub.confirm_nonce or not secrets.compare_digest(sub.confirm_nonce, nonce):
        return "used", sub
    if check_only:
        return "valid", sub
    sub.status, sub.confirmed_at, sub.confirm_nonce = "active", utcnow(), None
    sub.paused_reason, sub.unsubscribed_at, sub.bounces = None, None, 0
    db.flush()
    return "confirmed", sub


def by_signed(db: Session, settings: Settings, purpose: str, signed: str) -> Subscription | None:
    payload = unsign(settings, purpose, signed)
    if not payload or len(payload) != 1:
        return None
    return db.scalars(select(Subscription).where(Subscription.token == payload[0])).one_or_none()


def unsubscribe(db: Session, sub: Subscription) -> bool:
    """Stop every digest at once (rows not yet sending are skipped by the deliverer)."""
    if sub.status == "unsubscribed":
        return False
    sub.status, sub.unsubscribed_at, sub.confirm_nonce = "unsubscribed", utcnow(), None
    db.flush()
    return True


def resume(db: Session, sub: Subscription) -> bool:
    """Settings page "resume" after a pause (the person fixed their mailbox), or "subscribe
    again" after an unsubscribe. A subscription never confirmed stays as it is: only the
    confirmation mail proves the mailbox wants digests. True when digests start again."""
    if sub.status == "paused":
        sub.status, sub.paused_reason, sub.bounces = "active", None, 0
    elif sub.status == "unsubscribed" and sub.confirmed_at is not None:
        sub.status, sub.unsubscribed_at = "active", None
    else:
        return False
    db.flush()
    return True


def update_settings(db: Session, sub: Subscription, form: dict) -> None:
    """Apply a settings form (strings from HTML or the CLI). SubscriptionError naming
    every bad value, not only the first, so a form with three slips is mended in one go;
    nothing is applied then."""
    problems: list[str] = []
    freq = form.get("frequency", sub.frequency)
    if freq not in ("daily", "weekly"):
        problems.append("The frequency must be daily or weekly.")
    hour = _whole(form, "send_hour", sub.send_hour, 0, 23, "The hour", problems)
    weekday = _whole(form, "weekday", sub.weekday, 0, 6, "The weekday (0 is Monday, 6 Sunday)", problems)
    top_n = _whole(form, "top_n", sub.top_n, 0, 100, "The number of trending papers", problems)
    tz = (form.get("timezone") or sub.timezone).strip()
    if not valid_timezone(tz):
        problems.append(f"{tz[:64]!r} is not an IANA time zone (e.g. Europe/Paris).")
    cats = (form.get("categories", sub.categories) or "").replace(",", " ").split()
    if len(cats) > 30:
        problems.append(f"At most 30 categories; remove {len(cats) - 30}.")
        cats = []
    # As a follow's: arXiv's categories and those of stored papers, in their own spelling
    # (cs.lg is cs.LG); a made-up one would mail nothing, silently, for ever.
    named = {c: category_name(db, c) if CATEGORY_RE.match(c) else None for c in cats}
    bad = [c for c, name in named.items() if name is None]
    if bad:
        problems.append(f"These are not arXiv categories: {' '.join(bad)[:200]} (categories look like cs.LG "
                        "or hep-th).")
    alerts_raw = form.get("alerts")
    alerts = list(sub.alerts or [])
    if alerts_raw is not None:
        try:
            alerts = clean_alerts(str(alerts_raw).splitlines())
        except SubscriptionError as exc:
            problems += exc.problems
    if problems:
        raise SubscriptionError(*problems)
    sub.frequency, sub.send_hour, sub.weekday, sub.top_n, sub.timezone = freq, hour, weekday, top_n, tz
    sub.categories = " ".join(dict.fromkeys(named[c] for c in cats))
    sub.alerts = alerts
    sub.include_follows = flag(form.get("include_follows"), sub.include_follows)
    sub.skip_empty = flag(form.get("skip_empty"), sub.skip_empty)


def _whole(form: dict, name: str, stored: int, low: int, high: int, what: str, problems: list[str]) -> int:
    """A whole number of the form between ``low`` and ``high`` (``stored`` if not sent);
    a problem said in ``problems`` otherwise."""
    raw = form.get(name, stored)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        problems.append(f"{what} must be a whole number from {low} to {high}, not {str(raw)[:20]!r}.")
        return stored
    if not low <= value <= high:
        problems.append(f"{what} must be from {low} to {high}, not {value}.")
    return value


def check_alert(text: str) -> str:
    """One saved search, whitespace tidied; SubscriptionError saying what is wrong with it.
    It is read with the search box's query language, so what the search would ignore
    (a bad category or date, an open quote) is refused here rather than ignored in mail."""
    alert = " ".join(str(text).split())
    if not alert:
        raise SubscriptionError("The alert is empty: type the words to look for.")
    if len(alert) > MAX_ALERT_CHARS:
        raise SubscriptionError(f"“{alert[:40]}…” is longer than {MAX_ALERT_CHARS} characters; an alert "
                                "is a few words, phrases or filters.")
    q = searchable_query(alert)
    if q.messages:
        raise SubscriptionError(f"“{alert}”: {q.messages[0]}".replace("; ignored.", "."))
    if q.arxiv_id or q.like_text:
        raise SubscriptionError(f"“{alert[:40]}” is a paper, not a search: an alert is a few words, phrases or filters.")
    if q.only_stop_words:
        raise SubscriptionError(f"“{alert}” has only common words, which are not searched for: add a more "
                                "specific word, or put the words in quotes.")
    # A category arXiv has not (cat:cs.XX) would match nothing, for ever, without a word.
    unknown = [c for c in q.categories if known_category(c) is None]
    if unknown:
        raise SubscriptionError(f"“{alert}”: cat:{unknown[0]} is not an arXiv category (categories look like "
                                "cs.LG or hep-th).")
    return alert


def clean_alerts(lines) -> list[str]:
    """The alerts of a settings form (one a line, blank lines skipped), checked; a
    SubscriptionError names every line that is refused."""
    alerts: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if not str(line).strip():
            continue
        try:
            alert = check_alert(line)
        except SubscriptionError as exc:
            problems += exc.problems
            continue
        if alert.casefold() in seen:
            problems.append(f"“{alert}” is there twice; keep one.")
        seen.add(alert.casefold())
        alerts.append(alert)
    if len(alerts) > MAX_ALERTS:
        problems.append(f"At most {MAX_ALERTS} alerts; remove {len(alerts) - MAX_ALERTS}.")
    if problems:
        raise SubscriptionError(*problems)
    return alerts


def search_alert(q: str, category: str = "") -> str:
    """The alert a search page makes ("Alert me"), unchecked: its words, and the page's
    category filter as ``cat:`` unless the words name it already."""
    text = " ".join(str(q).split())
    category = str(category).strip()
    if category and CATEGORY_RE.match(category) and f"cat:{category}".casefold() not in text.casefold():
        text = f"{text} cat:{category}"
    return text


def has_alert(sub: Subscription, alert: str) -> bool:
    """Whether ``sub`` already holds ``alert`` (tidied, as ``check_alert`` gives it), case aside."""
    return alert.casefold() in {a.casefold() for a in sub.alerts or []}


def add_alert(sub: Subscription, text: str) -> str:
    """Add one alert to ``sub`` (the search page's "Alert me"); the alert as saved."""
    alert = check_alert(text)
    if has_alert(sub, alert):
        raise SubscriptionError(f"“{alert}” is already one of your alerts.")
    if len(sub.alerts or []) >= MAX_ALERTS:
        raise SubscriptionError(f"You have {MAX_ALERTS} alerts, the most there can be: remove one first.")
    sub.alerts = [*(sub.alerts or []), alert]  # a new list: the JSON column sees the change
    return alert


def flag(value, current: bool) -> bool:
    """A form's checkbox (with its hidden fallback) as a bool; absent: ``current``."""
    if value is None:
        return current
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "on", "true", "yes")

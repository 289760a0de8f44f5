"""Routes for subscribing, confirming, unsubscribing, settings and previews (owned by digest).

Every link carries a signed token (see ``tokens.py``): no sign-in needed. The one-click
unsubscribe POST (RFC 8058) comes from mail clients without cookies or CSRF tokens, so
it is exempt from CSRF by design; it only ever turns digests off.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from paperboy.digest import services
from paperboy.digest.compose import BatchRenderer, Composer, PaperCache, SubView
from paperboy.digest.models import OutboxEntry, Subscription
from paperboy.digest.schedule import next_due, parse_digest_period, zone
from paperboy.digest.tokens import links, sign
from paperboy.papers.mathplain import plain_text
from paperboy.store.models import Paper, utcnow
from paperboy.web import ratelimit, security
from paperboy.web.deps import unit_of_work
from paperboy.web.navigation import referring_page

router = APIRouter(include_in_schema=False)  # pages and forms: the API is /api/ (docs/api.md)
csrf_exempt = getattr(security, "csrf_exempt", lambda endpoint: endpoint)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIMEZONES: list[str] = []
PREVIEW_DAYS = 28  # the settings page shows what each alert found over four weeks
PREVIEW_SHOWN = 20  # papers listed per alert (the count says how many there were)


def _page(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def _message(request: Request, title: str, message: str, status: int = 200, settings_url: str | None = None,
             mailed: bool = False, back: str | None = None):
    """A page of one message; ``back``: the page of this site the member came from (a
    search whose "Alert me" was refused), to mend what it said."""
    return _page(request, "digest/message.html", {"title": title, "message": message, "settings_url": settings_url,
                                                  "mailed": mailed, "back": back}, status)


def _current_user(request: Request):
    try:
        return security.current_user(request)
    except Exception:  # sessions table missing or community not installed: act signed out
        return None


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, email: str = Form(""), timezone: str = Form("")) -> HTMLResponse:
    # A plain def: it runs in the threadpool, so a slow database or mail server never
    # stalls the event loop (and every other request with it).
    settings = request.app.state.settings
    user = _current_user(request)
    ratelimit.check(request, "subscribe_ip", ratelimit.client_ip(request))
    try:
        address = services.normalise_email(email[:400])
        with unit_of_work(request) as db:
            # Tied to the member only when it is their own, verified address: typing
            # someone else's address must never hand over that subscription's links.
            owner = user.id if user is not None and user.email_verified_at is not None \
                and user.email.lower() == address.lower() else None
            res = services.subscribe(db, settings, address, user_id=owner, timezone=timezone)
            db.commit()
            sub = res.subscription
    except services.SubscriptionError as exc:
        return _message(request, "Not subscribed", str(exc), 400)
    # At most a few confirmation mails per address an hour, so the box cannot be used to
    # flood someone's inbox; past that the answer is the same and nothing is sent.
    mail_allowed = ratelimit.mail_allowed(request, sub.email)
    if res.needs_confirmation and mail_allowed:
        with unit_of_work(request) as db:
            request.app.state.outbox.enqueue(db, services.confirmation_mail(settings, sub), kind="confirm",
                                             to=sub.email)
            db.commit()
    # The same answer whether the address was new, pending or already active.
    return _message(request, "Check your inbox",
                    f"If {sub.email} is not subscribed yet, a confirmation link is on its way. "
                    "Digests start once you open it.", mailed=True)


@router.get("/subscriptions/confirm/{signed}", response_class=HTMLResponse)
def confirm_page(request: Request, signed: str) -> HTMLResponse:
    """The link in the mail only asks: mail scanners and link previews fetch every link
    they see, and a GET that confirmed would subscribe addresses nobody confirmed."""
    return _confirm(request, signed, check_only=True)


@router.post("/subscriptions/confirm/{signed}", response_class=HTMLResponse)
def confirm(request: Request, signed: str) -> HTMLResponse:
    return _confirm(request, signed, check_only=False)


def _confirm(request: Request, signed: str, *, check_only: bool) -> HTMLResponse:
    settings = request.app.state.settings
    with unit_of_work(request) as db:
        outcome, sub = services.confirm(db, settings, signed, check_only=check_only)
        db.commit()
    if outcome == "valid":
        return _page(request, "digest/confirm.html", {"sub": sub, "action": request.url.path})
    if outcome == "invalid":
        return _message(request, "Link not valid", "This confirmation link is not valid.", 404)
    manage = links(settings, sub.token)["settings"]
    if outcome == "used" and sub.status == "active":
        # The mail opened again (a second click, another device): nothing is wrong.
        return _message(request, "Already subscribed", f"{sub.email} already receives digests; this link "
                        "has done its work.", 200, manage)
    if outcome == "used":
        return _message(request, "Link already used",
                        "This confirmation link has already been used or replaced by a newer one.", 410, manage)
    return _message(request, "Subscribed", f"{sub.email} will receive digests from now on.", 200, manage)


def _unsubscribe_sub(request: Request, signed: str):
    with unit_of_work(request) as db:
        return services.by_signed(db, request.app.state.settings, "unsubscribe", signed)


@router.get("/subscriptions/unsubscribe/{signed}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, signed: str) -> HTMLResponse:
    sub = _unsubscribe_sub(request, signed)
    if sub is None:
        return _message(request, "Link not valid", "This unsubscribe link is not valid.", 404)
    return _page(request, "digest/unsubscribe.html", {"sub": sub, "action": request.url.path})


@router.post("/subscriptions/unsubscribe/{signed}", response_class=HTMLResponse)
@csrf_exempt
def unsubscribe(request: Request, signed: str) -> HTMLResponse:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``) and the page's button."""
    settings = request.app.state.settings
    with unit_of_work(request) as db:
        sub = services.by_signed(db, settings, "unsubscribe", signed)
        if sub is None:
            return _message(request, "Link not valid", "This unsubscribe link is not valid.", 404)
        services.unsubscribe(db, sub)
        db.commit()
    # The settings page keeps the alerts and offers "Subscribe again" (a click by mistake).
    return _message(request, "Unsubscribed", f"{sub.email} gets no more digests. Changed your mind? Your settings "
                    "are kept, and their page subscribes you again.", 200, links(settings, sub.token)["settings"])


def _settings_sub(db, request: Request, signed: str) -> Subscription | None:
    return services.by_signed(db, request.app.state.settings, "settings", signed)


def next_digest_label(due, timezone: str) -> str:
    """When the next digest goes out, in the subscriber's time zone (and UTC beside it),
    e.g. "Friday 4 December 2026, 07:00 (Europe/Paris; 06:00 UTC)"."""
    local = due.astimezone(ZoneInfo(timezone))
    label = f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}"
    return f"{label} UTC" if timezone == "UTC" else f"{label} ({timezone}; {due:%H:%M} UTC)"


def alert_previews(request: Request, sub: Subscription) -> dict:
    """What each of the subscription's alerts would have sent over the last four weeks
    (up to the latest announced papers, when those are older), so its words can be tuned:
    {"first_day", "last_day", "alerts": [{"query", "count", "papers": [(arxiv id, title)]}]}."""
    settings = request.app.state.settings
    with unit_of_work(request) as db:
        conn = db.connection()
        last = utcnow().astimezone(zone(sub.timezone)).date()
        latest = conn.scalar(select(func.max(Paper.announced_on)))
        if latest is not None and latest < last:
            last = latest
        first = last - dt.timedelta(days=PREVIEW_DAYS - 1)
        composer = Composer(conn, settings, getattr(request.app.state, "search", None))
        found = [(query, *composer.alert_matches(first, last, str(query), PREVIEW_SHOWN)) for query in sub.alerts or []]
        wanted = {i for _, ids, _ in found for i in ids}
        rows = {r.id: (r.arxiv_id, " ".join(plain_text(r.title).split()))
                for r in conn.execute(select(Paper.id, Paper.arxiv_id, Paper.title).where(Paper.id.in_(wanted)))} \
            if wanted else {}
    alerts = [{"query": query, "count": total, "papers": [rows[i] for i in ids if i in rows]}
              for query, ids, total in found]
    return {"first_day": first, "last_day": last, "alerts": alerts}


def _settings_page(request: Request, sub: Subscription, signed: str, typed: _AsTyped | None = None,
                   **extra) -> HTMLResponse:
    """The settings page of ``sub`` as stored (when it is due, what its alerts found), its
    form filled with what was ``typed`` when that was refused."""
    global _TIMEZONES
    if not _TIMEZONES:
        _TIMEZONES = sorted(available_timezones())
    settings = request.app.state.settings
    period, due = next_due(sub.frequency, sub.send_hour, sub.timezone, sub.weekday, utcnow())
    ctx = {
        "sub": typed or sub,
        "previews": alert_previews(request, sub),
        "added": False,
        "base": f"/subscriptions/{signed}",
        "weekdays": WEEKDAYS,
        "timezones": _TIMEZONES,
        "next_label": next_digest_label(due, sub.timezone),
        "unsubscribe_url": links(settings, sub.token)["unsubscribe"],
        "error": None,
        "problems": (),
        "saved": False,
        "started": False,
        "resumed": False,
        "already": False,
        **extra,
    }
    return _page(request, "digest/settings.html", ctx, 400 if extra.get("error") else 200)


@router.get("/subscriptions/{signed}/settings", response_class=HTMLResponse)
def settings_page(request: Request, signed: str,
                  added: str = Query("", max_length=1, description="1 after an alert was added from a search page"),
                  saved: str = Query("", max_length=1, description="1 after the settings form was saved"),
                  started: str = Query("", max_length=1, description="1 after a member started their digest"),
                  resumed: str = Query("", max_length=1, description="1 after digests were turned back on"),
                  already: str = Query("", max_length=1, description="1 after 'Alert me' on a search already saved"),
                  ) -> HTMLResponse:
    with unit_of_work(request) as db:
        sub = _settings_sub(db, request, signed)
    if sub is None:
        return _message(request, "Link not valid", "This settings link is not valid.", 404)
    return _settings_page(request, sub, signed, added=added == "1", saved=saved == "1", started=started == "1",
                          resumed=resumed == "1", already=already == "1")


@router.post("/subscriptions/{signed}/settings", response_class=HTMLResponse)
async def settings_save(request: Request, signed: str) -> HTMLResponse:
    form = await request.form()
    values = {k: form.get(k) for k in form.keys()}
    return await run_in_threadpool(_save_settings, request, signed, values)


def _save_settings(request: Request, signed: str, values: dict) -> HTMLResponse:
    with unit_of_work(request) as db:
        sub = _settings_sub(db, request, signed)
        if sub is None:
            return _message(request, "Link not valid", "This settings link is not valid.", 404)
        refused = _change_settings(request, db, signed, sub, lambda s: services.update_settings(db, s, values),
                                   typed=values)
    # To the page, not the page itself: a reload shows "Saved." again and sends nothing.
    return refused or RedirectResponse(f"/subscriptions/{signed}/settings?saved=1", status_code=303)


def _change_settings(request: Request, db, signed: str, sub, change, typed: dict | None = None) -> HTMLResponse | None:
    """Apply ``change(sub)`` and commit; if it is refused, nothing is stored and the
    answer is the settings page with the reason, its form holding what was ``typed``
    (the settings form's values), so the member mends one field, not all of them."""
    try:
        change(sub)
    except services.SubscriptionError as exc:
        db.rollback()
        stored = _settings_sub(db, request, signed)
        return _settings_page(request, stored, signed, error=str(exc), problems=exc.problems,
                              typed=_AsTyped(stored, typed) if typed else None)
    db.commit()
    return None


class _AsTyped:
    """A subscription as its settings form was filled in: the typed values where the form
    sent them, the stored ones elsewhere (status, address, links)."""

    def __init__(self, sub: Subscription, typed: dict) -> None:
        self._sub = sub
        self._typed: dict = {}
        for name in ("frequency", "timezone", "categories"):
            if typed.get(name) is not None:
                self._typed[name] = str(typed[name])
        for name in ("send_hour", "weekday", "top_n"):
            if typed.get(name) is not None:
                try:
                    self._typed[name] = int(str(typed[name]))
                except ValueError:
                    self._typed[name] = str(typed[name])
        if typed.get("alerts") is not None:
            self._typed["alerts"] = [line.strip() for line in str(typed["alerts"]).splitlines() if line.strip()]
        for name in ("include_follows", "skip_empty"):
            if typed.get(name) is not None:
                self._typed[name] = services.flag(typed[name], getattr(sub, name))

    def __getattr__(self, name: str):
        return self._typed[name] if name in self._typed else getattr(self._sub, name)


@router.post("/subscriptions/{signed}/resume", response_class=HTMLResponse)
def resume(request: Request, signed: str):
    with unit_of_work(request) as db:
        sub = _settings_sub(db, request, signed)
        if sub is None:
            return _message(request, "Link not valid", "This settings link is not valid.", 404)
        resumed = services.resume(db, sub)
        db.commit()
    return RedirectResponse(f"/subscriptions/{signed}/settings" + ("?resumed=1" if resumed else ""), status_code=303)


@router.get("/subscriptions/{signed}/preview", response_class=HTMLResponse)
def preview(request: Request, signed: str, period: str = Query(
        "", pattern=r"^(\d{4}-\d{2}-\d{2}|\d{4}-W\d{2})?$",
        description="A day (2025-01-15) or ISO week (2025-W03) of this subscription's frequency; "
                    "default: the next digest")) -> HTMLResponse:
    """A digest exactly as mailed: rendered by the deliverer's own renderer and read back
    from the message bytes. For a period already queued or sent it holds the papers
    chosen then; otherwise the papers chosen now (nothing is recorded)."""
    settings = request.app.state.settings
    with unit_of_work(request) as db:
        sub = _settings_sub(db, request, signed)
        if sub is None:
            return _message(request, "Link not valid", "This preview link is not valid.", 404)
        view = SubView.of(sub)
        conn = db.connection()
        if period:
            try:
                chosen = parse_digest_period(period)
            except ValueError as exc:
                return _message(request, "No such digest", str(exc), 400)
            if chosen.frequency != sub.frequency:
                return _message(request, "No such digest", f"This subscription's digests are {sub.frequency}.", 400)
        else:
            chosen, _due = next_due(sub.frequency, sub.send_hour, sub.timezone, sub.weekday, utcnow())
            # Between announcements the next period may have no papers yet: show the latest ones.
            latest = conn.scalar(select(func.max(Paper.announced_on)))
            if latest is not None and latest < chosen.first_day:
                shift = chosen.last_day - latest
                chosen = type(chosen)(chosen.key, chosen.frequency, chosen.first_day - shift, latest)
        stored = conn.scalar(select(OutboxEntry.content).where(OutboxEntry.subscription_id == sub.id,
                                                               OutboxEntry.period == chosen.key))
        if period and stored is not None:
            content = stored
        else:
            composer = Composer(conn, settings, getattr(request.app.state, "search", None))
            content = {"sections": composer.sections(view, chosen)}
        papers = PaperCache(conn, settings)
        papers.load(i for s in content.get("sections", []) for i in s["ids"])
        html = BatchRenderer(settings).html(view, chosen, content, papers)
    return HTMLResponse(html)


@router.get("/account/digest", response_class=HTMLResponse)
def my_digest(request: Request, user=Depends(security.require_user), alert: str = Query(
        "", max_length=services.MAX_ALERT_CHARS * 2, description="an alert the digest would start with")):
    """A member's own digest: its settings when it exists, else a button that starts it
    (with ``alert``, one that starts it with that alert). A GET never creates anything
    (a cross-site link must not subscribe anyone)."""
    settings = request.app.state.settings
    with unit_of_work(request) as db:
        sub = db.scalars(select(Subscription).where(Subscription.user_id == user.id)).first()
    if sub is not None:
        return RedirectResponse(f"/subscriptions/{sign(settings, 'settings', sub.token)}/settings", status_code=303)
    return _page(request, "digest/start.html", {"email": user.email, "alert": " ".join(alert.split()),
                                                "verified": user.email_verified_at is not None})


@router.post("/account/digest", response_class=HTMLResponse)
def start_my_digest(request: Request, user=Depends(security.require_member), alert: str = Form(""),
                    timezone: str = Form("")):
    """Start the member's digest at their own address (with ``alert`` as its first alert),
    in ``timezone`` (their browser's, filled in by the page's script).
    Only a verified address is tied to the account (and so to its settings links): an
    anonymous subscription of the same mailbox becomes theirs only once they have proved
    they read that mailbox."""
    settings = request.app.state.settings
    if user.email_verified_at is None:
        return _message(request, "Confirm your address first",
                        f"Open the confirmation link we sent to {user.email}, then start your digest.", 403)
    with unit_of_work(request) as db:
        sub = db.scalars(select(Subscription).where(Subscription.user_id == user.id)).first()
        if sub is None:
            sub = services.subscribe(db, settings, user.email, user_id=user.id, confirmed=True,
                                     timezone=timezone).subscription
        elif sub.status == "unsubscribed":
            # "Start my digest" after an unsubscribe: the member, verified, says yes again.
            sub.confirmed_at = sub.confirmed_at or utcnow()
            services.resume(db, sub)
        try:
            tidy = " ".join(alert.split())  # sent twice (a double click) starts the digest once, quietly
            if tidy and not services.has_alert(sub, tidy):
                services.add_alert(sub, alert)
        except services.SubscriptionError as exc:
            db.rollback()
            return _message(request, "Alert not added", str(exc), 400, back=referring_page(request, "") or None)
        db.commit()
        token = sub.token
    return RedirectResponse(f"/subscriptions/{sign(settings, 'settings', token)}/settings?started=1", status_code=303)


@router.post("/account/digest/alerts", response_class=HTMLResponse)
def alert_me(request: Request, user=Depends(security.require_member), q: str = Form(""),
             category: str = Form("")):
    """The search page's "Alert me": the search (``q``, and the page's category filter as
    ``cat:``) becomes an alert of the member's digest. Without a digest yet, the page
    that starts one, with this alert in it."""
    settings = request.app.state.settings
    try:
        alert = services.check_alert(services.search_alert(q, category))
    except services.SubscriptionError as exc:
        return _message(request, "Alert not added", str(exc), 400, back=referring_page(request, "") or None)
    with unit_of_work(request) as db:
        sub = db.scalars(select(Subscription).where(Subscription.user_id == user.id)).first()
        if sub is None:
            return RedirectResponse(f"/account/digest?{urlencode({'alert': alert})}", status_code=303)
        signed = sign(settings, "settings", sub.token)
        if services.has_alert(sub, alert):
            # Pressed again (or for a search already saved): nothing to refuse, nothing to add.
            return RedirectResponse(f"/subscriptions/{signed}/settings?already=1#alert-notice", status_code=303)
        refused = _change_settings(request, db, signed, sub, lambda s: services.add_alert(s, alert))
    return refused or RedirectResponse(f"/subscriptions/{signed}/settings?added=1#alert-notice", status_code=303)

"""What goes in a digest, and how it is rendered.

``Composer.sections(sub, period)`` picks paper ids once, when the outbox row is
written; ``render_digest`` turns a row into a message, so a resent digest is the same
mail with the same Message-ID. Selections shared by many subscriptions (trending,
one category's papers, one author's papers, one alert) are computed once per pass.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from email import message_from_bytes
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from urllib.parse import urlencode

from markupsafe import Markup, escape
from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from paperboy.config import Settings
from paperboy.digest.models import OutboxEntry
from paperboy.digest.schedule import DigestPeriod
from paperboy.digest.tokens import links
from paperboy.index.embedder import configured_embedder, embedder_name
from paperboy.mail.addresses import mail_domain
from paperboy.mail.render import MAIL_POLICY, macros, render_email, render_parts
from paperboy.papers.authors import author_ids
from paperboy.papers.mathplain import plain_text
from paperboy.papers.text import shorten
from paperboy.papers.visibility import visible
from paperboy.rank import foryou
from paperboy.rank.trending import trending
from paperboy.store.models import Follow, Paper, PaperAuthor, PaperCategory, utcnow

EMAIL_TEMPLATES = Path(__file__).with_name("templates") / "email"
SECTION_LIMIT = 15
# Papers in one digest, all sections together. Gmail clips a message past 102 KB of HTML
# and hides the rest behind "[Message clipped]", the footer's settings and unsubscribe
# links included; a card is about 1.5 KB, so 40 of them leave room for the rest.
DIGEST_LIMIT = 40
ALERT_LIMIT = 10
FOR_YOU_LIMIT = 10
# A pick's score is a sum of weighted parts, each standardised over the period's papers:
# a digest keeps the picks scoring at least this (the page ranks them all). A day's ten
# best almost always do; higher floors lose the member's papers about as fast as they cut
# picks (bench/digest_picks.py, docs/recommend.md).
FOR_YOU_MIN_SCORE = 0.5
FOR_YOU_WEIGHTS = replace(foryou.personal.Weights(), follow=0.0)


@dataclass
class SubView:
    """The fields of a subscription that composition and rendering need."""

    id: int
    email: str
    token: str
    user_id: int | None
    frequency: str
    top_n: int
    categories: str
    include_follows: bool
    alerts: list
    skip_empty: bool

    @classmethod
    def of(cls, row) -> SubView:
        return cls(
            row.id, row.email, row.token, row.user_id, row.frequency, row.top_n, row.categories or "",
            bool(row.include_follows), list(row.alerts or []), bool(row.skip_empty),
        )


def carried(content: dict | None) -> list[int]:
    """The paper ids an outbox row's stored content carried, over all its sections."""
    return [int(i) for sec in (content or {}).get("sections", []) for i in sec.get("ids", [])]


class Composer:
    def __init__(self, conn: Connection, settings: Settings, search=None) -> None:
        """``search``: a search service, or a function making one (called at the first alert)."""
        self.conn = conn
        self.settings = settings
        self._search = search
        self._memo: dict[tuple, list[int]] = {}
        self._follows: dict[int, list[tuple[str, str]]] | None = None
        self.model = embedder_name(configured_embedder(settings))
        self._signals: dict[int, foryou.Signals] = {}
        self._shown: dict[int, set[int]] | None = None
        self._features: dict[foryou.Window, foryou.PaperFeatures] = {}
        self._order: list[int] | None = None  # the pass's members, in the order they are composed
        self._bulk: dict[foryou.Window, foryou.PassScores] = {}

    def prepare(self, subs: list[SubView], periods: set[str]) -> None:
        """Read every member's signals, and what every subscription's earlier digests
        carried, in a few queries for the whole pass instead of several per digest."""
        members = sorted({s.user_id for s in subs if s.user_id})
        self._signals.update(foryou.load_signals_many(self.conn, members))
        self._order = [s.user_id for s in subs if s.user_id]
        self._shown = {}
        ids = sorted({s.id for s in subs if s.user_id or s.top_n > 0})  # For you's picks, trending's repeats
        for start in range(0, len(ids), 500):
            rows = self.conn.execute(select(OutboxEntry.subscription_id, OutboxEntry.period, OutboxEntry.content)
                                     .where(OutboxEntry.subscription_id.in_(ids[start:start + 500]),
                                            OutboxEntry.state != "failed"))
            for sid, key, content in rows:
                if key not in periods:
                    self._shown.setdefault(sid, set()).update(carried(content))

    def _cached(self, key: tuple, compute) -> list[int]:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def _window(self, period: DigestPeriod):
        return and_(Paper.announced_on >= period.first_day, Paper.announced_on <= period.last_day, visible())

    def _by_votes(self, period: DigestPeriod, limit: int, category: str | None = None) -> list[int]:
        stmt = select(Paper.id).where(self._window(period))
        if category:
            stmt = stmt.join(PaperCategory, PaperCategory.paper_id == Paper.id).where(PaperCategory.category == category)
        stmt = stmt.order_by(Paper.upvotes.desc(), Paper.announced_on.desc(), Paper.id).limit(limit)
        return list(self.conn.scalars(stmt))

    def trending(self, period: DigestPeriod, n: int) -> list[int]:
        """Top ``n`` trending at the end of the period, topped up with the period's most voted."""

        def compute() -> list[int]:
            end = dt.datetime.combine(period.last_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            got, _scores = trending(self.conn, now=end, limit=n, half_life_hours=self.settings.trending_half_life_hours)
            ids = list(got)[:n]
            if len(ids) < n:
                seen = set(ids)
                ids += [i for i in self._by_votes(period, n + len(ids)) if i not in seen][: n - len(ids)]
            return ids

        return self._cached(("trending", period.key, n), compute)

    def category(self, period: DigestPeriod, category: str) -> list[int]:
        return self._cached(("cat", period.key, category), lambda: self._by_votes(period, SECTION_LIMIT, category))

    def author(self, period: DigestPeriod, name: str) -> list[int]:
        def compute() -> list[int]:
            # A follow names an author by identity (any spelling, accents, spacing):
            # the same rule as the /following page.
            ids = author_ids(self.conn, [name])
            if not ids:
                return []
            stmt = (
                select(Paper.id)
                .where(self._window(period), Paper.id.in_(
                    select(PaperAuthor.paper_id).where(PaperAuthor.author_id.in_(ids))))
                .order_by(Paper.upvotes.desc(), Paper.id)
                .limit(SECTION_LIMIT)
            )
            return list(self.conn.scalars(stmt))

        return self._cached(("author", period.key, name), compute)

    def alert(self, period: DigestPeriod, query: str) -> list[int]:
        """The alert's section: its best ``ALERT_LIMIT`` matches in the period."""
        return self._cached(("alert", period.key, query),
                            lambda: self.alert_matches(period.first_day, period.last_day, query, ALERT_LIMIT)[0])

    def alert_matches(self, first_day: dt.date, last_day: dt.date, query: str, limit: int) -> tuple[list[int], int]:
        """(the best ``limit`` ids, how many papers match) of a saved search over announce
        days ``first_day``..``last_day``, run with the search's query language by
        ``alert_search``: every word required (in the title or abstract), or close in
        meaning above ``settings.alert_min_similarity``."""
        if self._search is None or not query.strip():
            return [], 0
        if not hasattr(self._search, "alert_search"):
            self._search = self._search()
        results = self._search.alert_search(query, limit=limit * 2, date_from=first_day, date_to=last_day,
                                            min_similarity=self.settings.alert_min_similarity)
        ids = [h.paper_id for h in results.hits]
        if not ids:
            return [], 0
        # The index files a paper under its announce day or, lacking one, its submission:
        # keep the papers announced in the window only.
        window = and_(Paper.announced_on >= first_day, Paper.announced_on <= last_day, visible())
        inside = set(self.conn.scalars(select(Paper.id).where(Paper.id.in_(ids), window)))
        kept = [i for i in ids if i in inside]
        return kept[:limit], results.total - (len(ids) - len(kept))

    def shown_before(self, sub: SubView, period: DigestPeriod) -> set[int]:
        """Papers this subscription's earlier digests already carried (never picked again);
        one that could not be delivered carried nothing."""
        if self._shown is not None:
            return self._shown.get(sub.id, set())
        shown: set[int] = set()
        for content in self.conn.scalars(select(OutboxEntry.content).where(
                OutboxEntry.subscription_id == sub.id, OutboxEntry.period != period.key,
                OutboxEntry.state != "failed")):  # a digest that never arrived showed nothing
            shown.update(carried(content))
        return shown

    def for_you(self, sub: SubView, period: DigestPeriod) -> tuple[list[int], dict[str, str]]:
        """The member's "For you" picks among the period's papers, with their why lines
        (kept in the outbox row, so a resend says the same)."""
        if not sub.user_id:
            return [], {}
        sig = self._signals.get(sub.user_id) or foryou.load_signals(self.conn, sub.user_id)
        if not sig.liked or sig.paused:  # follows alone have their own sections below
            return [], {}
        win = foryou.Window(period.first_day, period.last_day)
        pool = foryou.POOLS.pool(self.conn, self.settings, win, self.model)
        if not pool.ids:  # nothing announced in the period (a holiday): nothing to pick
            return [], {}
        features = self._features.get(win)
        if features is None or features.pool is not pool:
            # Every member's liked papers at once: members like many of the same papers.
            features = self._features[win] = foryou.PaperFeatures(self.conn, pool, self.model)
            features.load({pid for s in self._signals.values() for pid in (*s.liked, *s.dismissed)})
        exclude = self.shown_before(sub, period)
        if self._order is not None:
            # A prepared pass: every member's scores in bulk (the same picks and why lines).
            bulk = self._bulk.get(win)
            if bulk is None or bulk.pool is not pool or bulk.features is not features:
                bulk = self._bulk[win] = foryou.PassScores(pool, features, self._signals, self._order, FOR_YOU_WEIGHTS)
            got = bulk.picks(sub.user_id, exclude, FOR_YOU_LIMIT, FOR_YOU_MIN_SCORE)
            if got is not None:
                return [pid for pid, _, _ in got], {str(pid): why.text for pid, _, why in got}
        # Followed authors have their own section: here the picks come from what they liked.
        picks = foryou.recommend(self.conn, self.settings, sub.user_id, win, model=self.model, signals=sig,
                                 exclude=exclude, limit=FOR_YOU_LIMIT,
                                 weights=FOR_YOU_WEIGHTS, features=features)
        ids = [i for i, score in zip(picks.ids, picks.scores, strict=True) if score >= FOR_YOU_MIN_SCORE]
        return ids, {str(i): picks.why[i].text for i in ids}

    def follows(self, user_id: int) -> list[tuple[str, str]]:
        if self._follows is None:
            self._follows = {}
            for uid, kind, target in self.conn.execute(
                select(Follow.user_id, Follow.kind, Follow.target).order_by(Follow.created_at)
            ):
                self._follows.setdefault(uid, []).append((kind, target))
        return self._follows.get(user_id, [])

    def sections(self, sub: SubView, period: DigestPeriod) -> list[dict]:
        """[{"kind", "title", "ids"}], each paper once (in its first section): the member's
        "For you" picks (with a ``why`` per paper), their alerts' matches, new papers by
        followed authors, their categories, then trending. Empty sections are left out."""
        out: list[dict] = []
        seen: set[int] = set()

        def add(kind: str, title: str, ids: list[int], **extra) -> None:
            fresh = [i for i in ids if i not in seen]
            room = DIGEST_LIMIT - len(seen)
            if fresh and room > 0:
                if len(fresh) > room:  # the rest is behind the section's link, said with its number
                    extra["cut"] = len(fresh) - room
                    fresh = fresh[:room]
                seen.update(fresh)
                out.append({"kind": kind, "title": title, "ids": fresh, **extra})

        def search(query: str) -> str:
            """The section's papers on the site: its search over the digest's days, newest first."""
            return "/search?" + urlencode({"q": query, "from": period.first_day.isoformat(),
                                           "to": period.last_day.isoformat(), "sort": "date"})

        picks, why = self.for_you(sub, period)
        add("for_you", "For you", picks, why=why, more="/for-you" + ("?span=week" if period.frequency == "weekly" else ""))
        for query in sub.alerts:
            # "See them all" opens what the alert matched (every word), not the looser search.
            more = "/search?" + urlencode({"q": str(query), "from": period.first_day.isoformat(),
                                           "to": period.last_day.isoformat(), "match": "all"})
            add("alert", f"Alert: {query}", self.alert(period, str(query)), more=more)
        cats = list(dict.fromkeys(sub.categories.split()))
        authors: list[str] = []
        if sub.user_id and sub.include_follows:
            for kind, target in self.follows(sub.user_id):
                if kind == "category" and target not in cats:
                    cats.append(target)
                elif kind == "author":
                    authors.append(target)
        for name in authors:
            add("author", f"By {name}", self.author(period, name), more=search('author:"{}"'.format(name.replace('"', " "))))
        for cat in cats:
            add("category", f"New in {cat}", self.category(period, cat), more=search(f"cat:{cat}"))
        if sub.top_n > 0:
            # Trending is not of the period alone: the papers an earlier digest carried are
            # left out, or a day with nothing new sent yesterday's list again (and a member
            # who skips empty digests got one every day).
            before = self.shown_before(sub, period)
            add("trending", "Trending", [i for i in self.trending(period, sub.top_n) if i not in before],
                more="/trending")
        return out


def message_id(settings: Settings, subscription_id: int, period: str) -> str:
    """Stable per (subscription, period): a resend carries the same id, so receivers can deduplicate."""
    tag = hashlib.sha256(f"{settings.resolved_secret_key()}:digest-message-id".encode()).hexdigest()[:10]
    return f"<digest.{period}.{subscription_id}.{tag}@{mail_domain(settings.mail_from)}>"


def period_label(period: DigestPeriod) -> str:
    if period.frequency == "weekly":
        return f"week of {period.first_day:%d %B} to {period.last_day:%d %B %Y}"
    return f"{period.last_day:%A %d %B %Y}"


def paper_view(settings: Settings, row) -> dict:
    authors = [a.strip() for a in (row.authors_text or "").split(",") if a.strip()]
    shown = ", ".join(authors[:6]) + (f" and {len(authors) - 6} more" if len(authors) > 6 else "")
    return {
        "arxiv_id": row.arxiv_id,
        "title": " ".join(plain_text(row.title).split()),
        "authors": shown,
        "categories": (row.categories or "").split()[:3],
        "upvotes": row.upvotes or 0,
        "url": f"{settings.resolved_base_url}/papers/{row.arxiv_id}",
        "pdf_url": row.pdf_url or f"https://arxiv.org/pdf/{row.arxiv_id}",
        "excerpt": shorten(plain_text(row.abstract), 300),
    }


class PaperCache:
    """Paper rows for rendering, loaded once per pass."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.views: dict[int, dict] = {}

    def load(self, ids) -> None:
        missing = [i for i in set(ids) if i not in self.views]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            cols = (Paper.id, Paper.arxiv_id, Paper.title, Paper.authors_text, Paper.categories,
                    Paper.upvotes, Paper.pdf_url, Paper.abstract)
            for row in self.conn.execute(select(*cols).where(Paper.id.in_(chunk))):
                self.views[row.id] = paper_view(self.settings, row)

    def get(self, ids: list[int]) -> list[dict]:
        return [self.views[i] for i in ids if i in self.views]


class Cards:
    """Each paper's block of a digest, in the text and the HTML part, rendered once per
    pass: the ``card`` macros of paper.txt and paper.html, the ones body.txt and
    body.html call for a paper without a rendered block. A reader's why line goes where
    the macro puts it: each paper's block is also rendered once with a marker for a why
    line and kept split there (the HTML part gets the line escaped, as autoescape does)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.text, self.html = macros(EMAIL_TEMPLATES, "digest/paper", "card")
        self.mark = f"pbwhy{secrets.token_hex(8)}"
        self.kept: dict[int, tuple[dict, dict, tuple | None]] = {}  # paper id -> (its view, blocks, split blocks)
        self.limit = limit

    def item(self, paper_id: int, view: dict, why: str) -> dict:
        hit = self.kept.get(paper_id)
        if hit is None or hit[0] is not view:
            if len(self.kept) >= self.limit:
                self.kept.clear()
            hit = self.kept[paper_id] = (view, {"card_text": self.text(view), "card_html": self.html(view)}, None)
        if not why:
            return hit[1]
        split = hit[2]
        if split is None:
            p = dict(view, why=self.mark)
            text, html = self.text(p).split(self.mark), str(self.html(p)).split(self.mark)
            split = (text, html) if len(text) == 2 and len(html) == 2 else ()
            self.kept[paper_id] = (view, hit[1], split)
        if not split:  # the marker is not where only the why line goes: render as it is
            p = dict(view, why=why)
            return {"card_text": self.text(p), "card_html": self.html(p)}
        (t0, t1), (h0, h1) = split
        return {"card_text": t0 + why + t1, "card_html": Markup(h0 + str(escape(why)) + h1)}


def digest_context(settings: Settings, sub: SubView, period: DigestPeriod, content: dict, papers: PaperCache,
                   *, urls: dict[str, str] | None = None, cards: Cards | None = None) -> dict:
    """The templates' context. ``urls``: the reader's links when known (else signed here);
    ``cards``: papers as their rendered blocks (the same text, rendered once per pass)."""
    sections = []
    for sec in content.get("sections", []):
        why = sec.get("why") or {}
        if cards is not None:
            blocks = [cards.item(i, papers.views[i], why.get(str(i), "")) for i in sec["ids"] if i in papers.views]
            if blocks:
                # One item holding the section's blocks joined: the templates' paper loop
                # writes nothing between blocks, so the output is the same, in one step.
                joined = {"card_text": "".join([b["card_text"] for b in blocks]),
                          "card_html": Markup("".join([b["card_html"] for b in blocks]))}
                sections.append({"kind": sec["kind"], "title": sec["title"], "papers": [joined],
                                 "count": len(blocks), "more": sec.get("more"), "cut": sec.get("cut")})
            continue
        items = papers.get(sec["ids"])
        if why:
            items = [dict(papers.views[i], why=why.get(str(i), "")) for i in sec["ids"] if i in papers.views]
        if items:
            sections.append({"kind": sec["kind"], "title": sec["title"], "papers": items, "more": sec.get("more"),
                             "cut": sec.get("cut")})
    urls = urls or links(settings, sub.token)
    return {
        "summary": " · ".join(_summary_part(sec) for sec in sections),
        "site_name": settings.site_name,
        "base_url": settings.resolved_base_url,
        "period_label": period_label(period),
        "frequency": period.frequency,
        "sections": sections,
        "count": sum(s.get("count", len(s["papers"])) for s in sections),
        "email": sub.email,
        "unsubscribe_url": urls["unsubscribe"],
        "settings_url": urls["settings"],
    }


def _summary_part(section: dict) -> str:
    """A section in the few words an inbox shows beside the subject ("3 for you", "9 for
    “llm bias”", "2 by Martin Lackner", "10 trending")."""
    n, title = section.get("count", len(section["papers"])), section["title"]
    kind = section["kind"]
    if kind == "for_you":
        return f"{n} for you"
    if kind == "alert":
        return f"{n} for \u201c{title.removeprefix('Alert: ')}\u201d"
    return f"{n} {title[:1].lower()}{title[1:]}"  # "by Martin Lackner", "new in cs.LG", "trending"


def render_digest(
    settings: Settings, sub: SubView, period: DigestPeriod, content: dict, papers: PaperCache, msg_id: str
) -> EmailMessage:
    ctx = digest_context(settings, sub, period, content, papers)
    headers = {
        "List-Unsubscribe": f"<{ctx['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"{settings.site_name} digest <digest.{msg_id.rsplit('@', 1)[-1].rstrip('>')}>",
        "X-Paperboy-DigestPeriod": period.key,
    }
    return render_email(EMAIL_TEMPLATES, "digest", ctx, to=sub.email, sender=settings.mail_from,
                        headers=headers, message_id=msg_id)


class BatchRenderer:
    """Renders digests for delivery, fast: the templates run once per distinct content.

    Each distinct (period, sections) is rendered once (``render_parts``), with random markers
    in place of the per-reader values (address, unsubscribe and settings links); each
    reader's message is then that output with the markers replaced (HTML-escaped in the
    HTML part) and serialised directly as MIME bytes (quoted-printable, CRLF). The
    result is the same message ``render_digest`` builds; tests read it back through a
    real SMTP server.
    """

    FIELDS = ("email", "unsubscribe_url", "settings_url")

    def __init__(self, settings: Settings, cache_size: int = 2000) -> None:
        self.settings = settings
        tag = secrets.token_hex(8)
        self.marks = {f: f"pbmark{tag}{f.replace('_', '')}" for f in self.FIELDS}
        self.field_of = {m: f for f, m in self.marks.items()}
        self.marked = re.compile("(" + "|".join(re.escape(m) for m in self.marks.values()) + ")")
        # (subject, text, html), each body split at the markers: literal, field, literal...
        self.cache: dict[tuple, tuple[str, list[str], list[str]]] = {}
        self.cards = Cards()
        self.cache_size = cache_size
        name, addr = parseaddr(settings.mail_from)
        self.envelope_from = addr or settings.mail_from
        self.from_header = formataddr((name, addr)) if addr else settings.mail_from

    def _templates(self, sub: SubView, period: DigestPeriod, content: dict, papers: PaperCache):
        # A section's why lines are part of it: two members with the same picks for
        # different reasons get different mails. A digest with why lines is one reader's
        # own (their For you picks): it is rendered, not kept.
        personal = any(s.get("why") for s in content.get("sections", []))
        key = None if personal else (period.key, tuple((s["kind"], s["title"], tuple(s["ids"]), s.get("cut"))
                                                       for s in content.get("sections", [])))
        got = None if key is None else self.cache.get(key)
        if got is None:
            ctx = digest_context(self.settings, sub, period, content, papers, cards=self.cards,
                                 urls={"unsubscribe": self.marks["unsubscribe_url"],
                                       "settings": self.marks["settings_url"]})
            ctx.update({f: self.marks[f] for f in self.FIELDS})
            subject, text, html = render_parts(EMAIL_TEMPLATES, "digest", ctx)
            # as a MIME part holds them (EmailMessage ends each part with a line end)
            text, html = (text if text.endswith("\n") else text + "\n", html if html.endswith("\n") else html + "\n")
            # split once at the markers (one pass over each body, not one per field)
            got = (subject, self.marked.split(text), self.marked.split(html))
            if key is not None:
                if len(self.cache) >= self.cache_size:
                    self.cache.clear()
                self.cache[key] = got
        return got

    def html(self, sub: SubView, period: DigestPeriod, content: dict, papers: PaperCache) -> str:
        """The HTML part of the message ``render`` makes, read back as a mail client reads
        it (line ends aside): the digest preview shows exactly this."""
        _to, data = self.render(sub, period, content, papers, "<preview@localhost>")
        message = message_from_bytes(data, policy=MAIL_POLICY)
        return message.get_body(("html",)).get_content().replace("\r\n", "\n")

    def render(self, sub: SubView, period: DigestPeriod, content: dict, papers: PaperCache, msg_id: str) -> tuple[str, bytes]:
        """(recipient, MIME bytes) of one reader's digest."""
        subject, text_pieces, html_pieces = self._templates(sub, period, content, papers)
        urls = links(self.settings, sub.token)
        values = {"email": sub.email, "unsubscribe_url": urls["unsubscribe"], "settings_url": urls["settings"]}
        # the split keeps each marker at an odd index: put the reader's value there
        text = "".join([values[self.field_of[x]] if k % 2 else x for k, x in enumerate(text_pieces)])
        html = "".join([str(escape(values[self.field_of[x]])) if k % 2 else x for k, x in enumerate(html_pieces)])
        boundary = f"=_pb_{secrets.token_hex(12)}"
        headers = [
            ("Subject", subject),
            ("From", self.from_header),
            ("To", sub.email),
            ("Date", format_datetime(utcnow())),
            ("Message-ID", msg_id),
            ("MIME-Version", "1.0"),
            ("List-Unsubscribe", f"<{urls['unsubscribe']}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("List-Id", f"{self.settings.site_name} digest <digest.{msg_id.rsplit('@', 1)[-1].rstrip('>')}>"),
            ("X-Paperboy-DigestPeriod", period.key),
            ("Auto-Submitted", "auto-generated"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        head = "".join(f"{k}: {v if k == 'From' else _header_value(v)}\r\n" for k, v in headers)
        parts = [head.encode("ascii"), b"\r\n"]
        for subtype, body in (("plain", text), ("html", html)):
            cte, payload = _encode(body, html=subtype == "html")
            parts += [
                f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                f"Content-Transfer-Encoding: {cte}\r\n\r\n".encode("ascii"),
                payload,
                b"\r\n",
            ]
        parts.append(f"--{boundary}--\r\n".encode("ascii"))
        return sub.email, b"".join(parts)


def _encode(text: str, html: bool) -> tuple[str, bytes]:
    """7bit when the body is ASCII with short lines (HTML made ASCII with character
    references), else quoted-printable. Fewer, longer lines cost both ends less."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    raw = text.encode("ascii", "xmlcharrefreplace") if html else text.encode("ascii") if text.isascii() else None
    if raw is not None:
        lines = raw.split(b"\n")
        if max(map(len, lines)) <= 990:
            return "7bit", b"\r\n".join(lines)
    return "quoted-printable", binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _header_value(value: str) -> str:
    """ASCII as it is (no line breaks), anything else as an RFC 2047 encoded word."""
    value = " ".join(value.split())
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()

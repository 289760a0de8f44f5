"""Per-visitor holes in shared HTML: templates write a marker, the response fills it.

A page (or a card) is rendered once and shared by every visitor of its kind; what
differs between visitors (the CSRF token of a form, whether *I* voted for a card, my
collections in its save menu, my name in the header, the actions on my own comments)
is written as a slot marker by ``slot(request, kind, *args)`` and filled per response
by ``fill(parts, visitor)``. So cached HTML never holds anyone's token or state, and
one member's state cannot leak into another's page or into the anonymous one.

A marker is ``START kind RS arg RS arg END``; START carries a random per-process
nonce, so text from papers or comments can never forge one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from markupsafe import Markup, escape

from paperboy.papers.authors import author_identity

NONCE = secrets.token_hex(8)
START = "\x1e" + NONCE
END = "\x1f"
SEP = "\x1d"
START_B = START.encode()
UNKNOWN = object()  # "the member is not looked up yet"


@dataclass(frozen=True)
class Member:
    """The few facts about a signed-in account that pages show or branch on."""

    id: int
    name: str
    is_admin: bool
    is_suspended: bool
    unread: int = 0  # new replies to them since they last opened /replies


@dataclass
class Visitor:
    """What one response's slots are filled from; the sets are limited to the page's papers."""

    member: Member | None = None
    token: str = ""  # this visitor's CSRF token ("" writes no token input)
    votes: set[int] = field(default_factory=set)
    collections: list[tuple[int, str]] = field(default_factory=list)  # (id, name), by name
    saved: dict[int, set[int]] = field(default_factory=dict)  # paper id -> collection ids
    page: list | None = None  # the page the state was read for
    menus: dict = field(default_factory=dict)  # fills built once for this response
    follows: set[tuple[str, str]] = field(default_factory=set)  # (kind, key): an author's key is its identity
    dismissed: set[int] = field(default_factory=set)  # papers marked "not interested"
    seeded: set[int] = field(default_factory=set)  # papers the member seeded "For you" with
    rows: dict[str, list[str]] = field(default_factory=dict)  # a feature's slot kind -> its rows (``FeatureSlot.rows``)


def slot(request, kind: str, *args) -> Markup:
    """Template global: a marker for this visitor's part of the page."""
    # The marker's own separators cannot come from text (titles are cleaned of them too).
    clean = (str(a).translate(_NO_MARKS) for a in args)
    return Markup(START + SEP.join((kind, *clean)) + END)


_NO_MARKS = {ord("\x1d"): " ", ord("\x1e"): " ", ord("\x1f"): " "}


class Parts(list):
    """[literal bytes, Slot, literal bytes, ..., literal bytes], and what the slots need."""

    kinds: frozenset = frozenset()
    paper_ids: dict  # slot kind -> sorted paper ids (votes and saves read only these)
    groups: list  # (kind, its filler, positions in the list, each slot's prepared args), per kind
END_B = END.encode()


class Slot(NamedTuple):
    kind: str
    args: tuple[str, ...]
    prepared: tuple  # the args as the filler takes them (ints, escaped bytes)


def split(body: bytes) -> Parts:
    """The page as literals and slots, once, so each later fill is one pass over bytes."""
    pieces = body.split(START_B)
    parts = Parts([pieces[0]])
    for piece in pieces[1:]:
        spec, _, rest = piece.partition(END_B)
        kind, *args = spec.decode().split(SEP)
        prepare = FILLERS.get(kind, _UNKNOWN_KIND)[1]
        parts.append(Slot(kind, tuple(args), prepare(*args) if prepare else ()))
        parts.append(rest)
    parts.kinds = frozenset(p.kind for p in parts[1::2])
    parts.paper_ids = {kind: sorted({int(a[0]) for a in slot_args(parts, kind)}) for kind in ("vote", "save", "dismiss", "seed")}
    groups: dict[str, tuple[list[int], list[tuple]]] = {}
    for i in range(1, len(parts), 2):
        positions, prepared = groups.setdefault(parts[i].kind, ([], []))
        positions.append(i)
        prepared.append(parts[i].prepared)
    parts.groups = [(kind, FILLERS.get(kind, _UNKNOWN_KIND)[0], positions, prepared)
                    for kind, (positions, prepared) in groups.items()]
    return parts


def slot_args(parts: Parts, kind: str) -> list[tuple]:
    """The arguments of every slot of one kind."""
    return [p.args for p in parts[1::2] if p.kind == kind]


def kinds(parts: Parts) -> frozenset[str]:
    return parts.kinds


def _filled(parts: Parts, visitor: Visitor, but: str = "") -> list:
    """The page's pieces with the visitor's slots filled (those of kind ``but`` left as
    they are): kind by kind, each kind's filler taking all its slots at once, since a
    call per slot was most of a member's cached page (204 slots on a 50-card page)."""
    out = list(parts)
    for kind, filler, positions, prepared in parts.groups:
        if kind != but:
            for i, value in zip(positions, filler(visitor, prepared), strict=True):
                out[i] = value
    return out


def fill(parts: Parts, visitor: Visitor) -> bytes:
    return b"".join(_filled(parts, visitor))


def anonymous(parts: Parts) -> list[bytes]:
    """The page as an anonymous reader gets it, split where their CSRF token goes: all
    else is the same for every anonymous reader, so it is filled once."""
    out = _filled(parts, Visitor(), but="csrf")
    pieces, start = [], 0
    for i in next((positions for kind, _, positions, _ in parts.groups if kind == "csrf"), []):
        pieces.append(b"".join(out[start:i]))
        start = i + 1
    pieces.append(b"".join(out[start:]))
    return pieces


def fill_anonymous(pieces: list[bytes], visitor: Visitor) -> bytes:
    """``anonymous(parts)`` with this reader's token."""
    return _csrf(visitor).join(pieces)


# --- the fillers: each returns bytes, and what repeats is built once per response -------

def _nothing(v: Visitor, *args) -> bytes:
    return b""


def token_input(v: Visitor) -> str:
    return f'<input type="hidden" name="csrf_token" value="{v.token}">' if v.token else ""


def _csrf(v: Visitor) -> bytes:
    if "csrf" not in v.menus:
        v.menus["csrf"] = token_input(v).encode()
    return v.menus["csrf"]


def _name(v: Visitor) -> bytes:
    return str(escape(v.member.name)).encode() if v.member else b""


def initial(name: str) -> str:
    """A name's letter for its avatar: its first letter or digit, not a quote, bracket or
    "<" (“Ada” and "(Ada)" are A); "?" for a name with none."""
    return next((ch for ch in name or "" if ch.isalnum()), "?").upper()


def _initial(v: Visitor) -> bytes:
    return str(escape(initial(v.member.name))).encode() if v.member else b""


def _suspended(v: Visitor) -> bytes:
    """A suspended member's line under the header, on every page: why the buttons refuse."""
    if v.member is None or not v.member.is_suspended:
        return b""
    return (b'<p class="notice notice-warning suspended-banner" role="status">Your account is suspended: you can '
            b'read, but not vote, save, comment or submit. <a href="/account">Your account</a></p>')


def _unread(v: Visitor, where: str) -> bytes:
    """The member's new replies: a badge on the account menu, a count beside its link."""
    n = v.member.unread if v.member else 0
    if not n:
        return b""
    shown = "99+" if n > 99 else str(n)
    said = f"{n} new {'reply' if n == 1 else 'replies'}"
    if where == "menu":
        return f' <span class="menu-count" title="{said}">{shown} new</span>'.encode()
    return f'<span class="unread-badge" title="{said}"><span class="visually-hidden">{said}</span><span aria-hidden="true">{shown}</span></span>'.encode()


_VOTED = b'class="vote-button voted" aria-pressed="true"'
_NOT_VOTED = b'class="vote-button" aria-pressed="false"'


_ARXIV = b"\x00arxiv\x00"
_TITLE = b"\x00title\x00"
_NONE: frozenset = frozenset()


def _save_template(v: Visitor, saved: set[int] | None) -> bytes:
    key = frozenset(saved) if saved else _NONE
    menu = v.menus.get(key)
    if menu is None:
        menu = v.menus[key] = _template(_save_menu(v, key))
    return menu


def _template(text: str) -> bytes:
    """``text`` as a bytes %-template with the card's arXiv id and title as ``%(a)s`` and
    ``%(t)s``: one C-level format per card, where two ``replace`` scans of the ~1.5 KB
    menu cost 3.6x as much (50 cards a page: 0.12 ms of a member's 0.4 ms request)."""
    return (text.encode().replace(b"%", b"%%")
            .replace(_ARXIV, b"%(a)s").replace(_TITLE, b"%(t)s"))


def _save_menu(v: Visitor, saved: frozenset) -> str:
    """A card's save menu: one form whose buttons post to each collection's add or
    remove route (``formaction``), so the token, the paper and the card's title are
    written once per card, not once per collection: a member with 20 collections had
    ~9.7 KB of menu on every card. Each button is a toggle (``aria-pressed``: saved
    there) inside a form named for the paper, which is what a screen reader announces."""
    token = token_input(v)
    a, t = _ARXIV.decode(), _TITLE.decode()
    arxiv = f'<input type="hidden" name="arxiv_id" value="{a}">'
    buttons = "".join(
        f'<button formaction="/collections/{cid}/remove" aria-pressed="true">✓ {escape(name)}</button>'
        if cid in saved else
        f'<button formaction="/collections/{cid}/add" aria-pressed="false">+ {escape(name)}</button>'
        for cid, name in v.collections)
    summary = "Saved" if saved else "Save"
    return (f'<details class="card-actions save-menu"><summary aria-label="{"Saved: " if saved else "Save "}{t}" '
            f'title="Save “{t}” to a collection">{summary}</summary><div class="menu-panel">'
            + (f'<form method="post" class="save-form" aria-label="Collections for “{t}”">{token}{arxiv}{buttons}</form>'
               if buttons else "")
            + f'<form method="post" action="/collections" class="save-form new-collection">{token}{arxiv}'
            '<input type="text" name="name" placeholder="New collection" maxlength="100" required aria-label="New collection name">'
            f'<button type="submit" aria-label="Create the collection and save “{t}” in it">Create and save</button>'
            '</form></div></details>')


def _dismiss_form(v: Visitor, on: bool) -> bytes:
    """The form as a template, built once per response for each state."""
    form = v.menus.get(("dismiss", on))
    if form is None:
        a = _ARXIV.decode()
        form = v.menus[("dismiss", on)] = _template(
            f'<form method="post" action="/papers/{a}/not-interested" class="dismiss-form">{token_input(v)}'
            f'<input type="hidden" name="action" value="{"off" if on else "on"}">'
            f'<button type="submit" class="dismiss-button{" dismissed" if on else ""}" aria-pressed="{"true" if on else "false"}" '
            f'title="{"Undo: pick papers like this again" if on else "Fewer papers like this in For you"}">'
            f'{"Not interested ✓" if on else "Not interested"}</button></form>')
    return form


def _seed(v: Visitor, paper_id: int, arxiv_id: bytes) -> bytes:
    """"Seed For you" under a search result (members only): pick papers from a search to
    start or steer the feed. Not under a paper the member voted for or saved: the feed
    learns from those already (the card's vote and save slots load both)."""
    if v.member is None or v.member.is_suspended or paper_id in v.votes or paper_id in v.saved:
        return b""
    if paper_id in v.seeded:
        return '<p class="seed-done muted small">✓ Seeds your For you feed</p>'.encode()
    form = v.menus.get("seed")
    if form is None:
        form = v.menus["seed"] = _template(
            f'<form method="post" action="/for-you/seeds" class="seed-one-form">{token_input(v)}'
            f'<input type="hidden" name="ids" value="{_ARXIV.decode()}"><input type="hidden" name="next" value="back">'
            '<button type="submit" class="button-small" title="Learn from this paper in For you">'
            '+ Seed For you</button></form>')
    return form % {b"a": arxiv_id}


def _own_comment(v: Visitor, comment_id: int, author_id: str) -> bytes:
    """Edit and delete on the visitor's own comment."""
    me = v.member
    if me is None or not author_id or str(me.id) != author_id:
        return b""
    # Described by the comment's author line, as its Reply is: not one of many "Delete"s.
    by = f'aria-describedby="comment-{comment_id}-by"'
    edit = "" if me.is_suspended else f'<a class="button button-small" href="/comments/{comment_id}/edit" {by}>Edit</a>'
    return (f'{edit}<form method="post" action="/comments/{comment_id}/delete" class="inline-form" '
            f'data-confirm="Delete this comment? Replies to it stay, under [deleted].">'
            f'{token_input(v)}<button type="submit" {by}>Delete</button></form>').encode()


def follow_key(kind: str, target: str) -> str:
    """What a follow is matched by: an author's identity (any spelling), a category as is."""
    return author_identity(target) if kind == "author" else target


def _follow(v: Visitor, kind: str, key: str, target: str, text: str, back: str) -> bytes:
    """Follow/unfollow an author or category: a form that returns to the page (members only)."""
    if v.member is None or v.member.is_suspended:
        return b""
    on = (kind, key) in v.follows
    label = ("Following ✓" if on else "Follow")
    return (f'<form method="post" action="/follows" class="follow-form">{token_input(v)}'
            f'<input type="hidden" name="kind" value="{kind}">'
            f'<input type="hidden" name="target" value="{target}">'
            f'<input type="hidden" name="action" value="{"unfollow" if on else "follow"}">'
            f'<input type="hidden" name="next" value="{back}">'
            f'<button type="submit" class="follow-button{" following" if on else ""}" '
            f'aria-pressed="{"true" if on else "false"}" aria-label="Follow {target}" '
            f'title="{"Unfollow " if on else "Follow "}{target}">{text + " " if text else ""}{label}</button>'
            '</form>').encode()


def _follow_args(kind: str, target: str, text: str = "", back: str = "/") -> tuple:
    kind = "author" if kind == "author" else "category"
    return (kind, follow_key(kind, target), str(escape(target)), str(escape(text)), str(escape(back)))


_CANNOT_VOTE = b'class="vote-button" aria-pressed="false" disabled'


def _votes(v: Visitor, prepared: list[tuple]) -> list[bytes]:
    if v.member is not None and v.member.is_suspended:  # the banner says why; a press led to a 403 page
        return [_CANNOT_VOTE] * len(prepared)
    votes = v.votes
    return [_VOTED if args[0] in votes else _NOT_VOTED for args in prepared]


def _saves(v: Visitor, prepared: list[tuple]) -> list[bytes]:
    """The save-to-collection menu in each card (members only), built once per response
    for each set of collections a paper is in (most cards: none) and reused; its labels
    name the card's own paper."""
    if v.member is None or v.member.is_suspended:  # a suspended member cannot save (the banner says so)
        return [b""] * len(prepared)
    saved, unsaved = v.saved, _save_template(v, None)
    return [(_save_template(v, saved[pid]) if pid in saved else unsaved) % {b"a": arxiv_id, b"t": title}
            for pid, arxiv_id, title in prepared]


def _dismisses(v: Visitor, prepared: list[tuple]) -> list[bytes]:
    """"Not interested" on each card (members only): teaches the "For you" feed and
    hides the paper from it; once marked, the same button undoes it."""
    if v.member is None or v.member.is_suspended:
        return [b""] * len(prepared)
    on, off, dismissed = _dismiss_form(v, True), _dismiss_form(v, False), v.dismissed
    return [(on if pid in dismissed else off) % {b"a": arxiv_id} for pid, arxiv_id in prepared]


Filler = Callable[[Visitor, list[tuple]], list[bytes]]


def _each(filler: Callable[..., bytes]) -> Filler:
    """A filler of one slot as a filler of all of a kind's slots (kinds a page has few of)."""
    return lambda v, prepared: [filler(v, *args) for args in prepared]


# kind -> (a filler of every slot of that kind, how a marker's args become its prepared args)
FILLERS: dict[str, tuple[Filler, Callable[..., tuple] | None]] = {
    "csrf": (_each(_csrf), None),
    "name": (_each(_name), None),
    "initial": (_each(_initial), None),
    "suspended": (_each(_suspended), None),
    "unread": (_each(_unread), lambda where: (where,)),
    "vote": (_votes, lambda pid: (int(pid),)),
    "save": (_saves, lambda pid, arxiv, title="": (int(pid), str(escape(arxiv)).encode(), str(escape(title)).encode())),
    "dismiss": (_dismisses, lambda pid, arxiv: (int(pid), str(escape(arxiv)).encode())),
    "seed": (_each(_seed), lambda pid, arxiv: (int(pid), str(escape(arxiv)).encode())),
    "own": (_each(_own_comment), lambda cid, author: (int(cid), author)),
    "follow": (_each(_follow), _follow_args),
}
_UNKNOWN_KIND = (_each(_nothing), None)


@dataclass(frozen=True)
class FeatureSlot:
    """A feature's own per-visitor slot (the digest's "Alert me", which knows the
    member's alerts), so that a page shared by members can still show each their state
    of something the foundation does not know about.

    ``rows`` is what follows ``SELECT`` in a query of one text column about the member
    (``"name FROM t WHERE user_id = {user}"``), with ``{user}`` where the member's id goes
    (a placeholder: the id is bound, never formatted in); it joins the
    page's one state query only on pages that hold such a slot, and what it returns
    reaches the filler as ``visitor.rows[kind]``. ``fill(visitor, *prepared)`` writes one
    slot; ``prepare`` turns the marker's text arguments into ``prepared``."""

    kind: str
    fill: Callable[..., bytes]
    rows: str
    prepare: Callable[..., tuple] | None = None


FEATURE_SLOTS: dict[str, FeatureSlot] = {}
_FIRST_FEATURE_CODE = 10  # the union's codes below this are the foundation's own


def register(feature_slot: FeatureSlot) -> None:
    """Make a feature's slot kind known (the app factory does this for each feature)."""
    known = FILLERS.get(feature_slot.kind)
    if known is not None and feature_slot.kind not in FEATURE_SLOTS:
        raise ValueError(f"slot kind {feature_slot.kind!r} is the foundation's own")
    FEATURE_SLOTS[feature_slot.kind] = feature_slot
    FILLERS[feature_slot.kind] = (_each(feature_slot.fill), feature_slot.prepare)


# --- the member's state behind the slots of one page ----------------------------------

def load_state(conn, visitor: Visitor, parts: Parts | None) -> str:
    """Votes, collections and saves of ``visitor.member`` among the papers this page
    shows, and the papers' max(modified_at) (the cache's version), in one query. Plain
    SQL with integer parameters: building and compiling an expression costs more than
    this query (only placeholders are formatted into it: hence the noqa)."""
    sql, params = state_query(visitor, parts, "?" if conn.dialect.paramstyle == "qmark" else "%s")
    return apply_state(visitor, parts, conn.exec_driver_sql(sql, params))


def load_state_sqlite3(raw, visitor: Visitor, parts: Parts | None) -> str:
    """``load_state`` on a sqlite3 connection itself (the page cache's own, on the event
    loop), without SQLAlchemy's checkout and transaction around the one statement."""
    sql, params = state_query(visitor, parts, "?")
    return apply_state(visitor, parts, raw.execute(sql, params).fetchall())


def state_query(visitor: Visitor, parts: Parts | None, q: str) -> tuple[str, tuple]:
    """``load_state``'s query and parameters, with ``q`` as the driver's placeholder."""
    me = visitor.member
    vote_ids = parts.paper_ids["vote"] if parts and me else []
    save_ids = parts.paper_ids["save"] if parts and me else []
    selects = ["SELECT 3, NULL, CAST(max(modified_at) AS TEXT) FROM papers"]
    params: list = []
    if vote_ids:
        selects.append(f"SELECT 0, paper_id, NULL FROM votes WHERE user_id = {q} "  # noqa: S608
                       f"AND paper_id IN ({', '.join([q] * len(vote_ids))})")
        params += [me.id, *vote_ids]
    if save_ids:
        selects.append(f"SELECT 1, id, name FROM collections WHERE user_id = {q}")  # noqa: S608
        selects.append("SELECT 2, i.paper_id, CAST(i.collection_id AS TEXT) FROM collection_items i "  # noqa: S608
                       f"JOIN collections c ON c.id = i.collection_id WHERE c.user_id = {q} "
                       f"AND i.paper_id IN ({', '.join([q] * len(save_ids))})")
        params += [me.id, me.id, *save_ids]
    signal_ids = sorted(set(parts.paper_ids["dismiss"]) | set(parts.paper_ids["seed"])) if parts and me else []
    if signal_ids:
        selects.append(f"SELECT 5, paper_id, kind FROM interest_signals WHERE user_id = {q} "  # noqa: S608
                       f"AND paper_id IN ({', '.join([q] * len(signal_ids))})")
        params += [me.id, *signal_ids]
    if me and parts and "follow" in parts.kinds:
        selects.append(f"SELECT 4, NULL, kind || ':' || target FROM follows WHERE user_id = {q}")  # noqa: S608
        params.append(me.id)
    if me and parts:
        for code, feature_slot in enumerate(FEATURE_SLOTS.values(), _FIRST_FEATURE_CODE):
            if feature_slot.kind in parts.kinds:
                selects.append(f"SELECT {code}, NULL, {feature_slot.rows.format(user=q)}")  # noqa: S608
                params.append(me.id)
    return " UNION ALL ".join(selects), tuple(params)


def apply_state(visitor: Visitor, parts: Parts | None, rows) -> str:
    """Fill ``visitor`` from the rows of ``state_query``; returns the version it read."""
    collections = []
    version = ""
    kinds_by_code = list(FEATURE_SLOTS)  # codes as state_query numbered them
    for kind, a, b in rows:
        if kind == 0:
            visitor.votes.add(a)
        elif kind == 1:
            collections.append((a, b))
        elif kind == 2:
            visitor.saved.setdefault(a, set()).add(int(b))
        elif kind == 5:
            if b == "not_interested":
                visitor.dismissed.add(a)
            elif b == "seed":
                visitor.seeded.add(a)
        elif kind == 4:
            k, _, target = b.partition(":")
            visitor.follows.add((k, follow_key(k, target)))
        elif kind >= _FIRST_FEATURE_CODE:
            visitor.rows.setdefault(kinds_by_code[kind - _FIRST_FEATURE_CODE], []).append(b)
        else:
            version = str(b)
    visitor.collections = sorted(collections, key=lambda c: c[1])
    visitor.page = parts
    return version

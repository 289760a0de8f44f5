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

from markupsafe import Markup, escape

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


@dataclass
class Visitor:
    """What one response's slots are filled from; the sets are limited to the page's papers."""

    member: Member | None = None
    token: str = ""  # this visitor's CSRF token ("" writes no token input)
    votes: set[int] = field(default_factory=set)
    collections: list[tuple[int, str]] = field(default_factory=list)  # (id, name), by name
    saved: dict[int, set[int]] = field(default_factory=dict)  # paper id -> collection ids
    page: list | None = None  # the page the state was read for


def slot(request, kind: str, *args) -> Markup:
    """Template global: a marker for this visitor's part of the page."""
    return Markup(START + SEP.join((kind, *(str(a) for a in args))) + END)


Parts = list  # [literal bytes, (kind, args), literal bytes, ..., literal bytes]
END_B = END.encode()


def split(body: bytes) -> Parts:
    """The page as literals and slots, once, so each later fill is one pass over bytes."""
    pieces = body.split(START_B)
    parts: Parts = [pieces[0]]
    for piece in pieces[1:]:
        spec, _, rest = piece.partition(END_B)
        kind, *args = spec.decode().split(SEP)
        parts.append((kind, tuple(args)))
        parts.append(rest)
    return parts


def slot_args(parts: Parts, kind: str) -> list[tuple]:
    return [p[1] for p in parts[1::2] if p[0] == kind]


def kinds(parts: Parts) -> set[str]:
    return {p[0] for p in parts[1::2]}


def fill(parts: Parts, visitor: Visitor) -> bytes:
    out = [parts[0]]
    append = out.append
    for i in range(1, len(parts), 2):
        kind, args = parts[i]
        filler = FILLERS.get(kind)
        if filler is not None:
            append(filler(visitor, *args).encode())
        append(parts[i + 1])
    return b"".join(out)


# --- the fillers ---------------------------------------------------------------------

def _csrf(v: Visitor) -> str:
    if not v.token:
        return ""
    return f'<input type="hidden" name="csrf_token" value="{v.token}">'


def _name(v: Visitor) -> str:
    return str(escape(v.member.name)) if v.member else ""


_VOTED = 'class="vote-button voted" aria-pressed="true"'
_NOT_VOTED = 'class="vote-button" aria-pressed="false"'


def _vote(v: Visitor, paper_id: str) -> str:
    return _VOTED if v.votes and int(paper_id) in v.votes else _NOT_VOTED


def _save(v: Visitor, paper_id: str, arxiv_id: str) -> str:
    """The save-to-collection menu in a card (members only)."""
    if v.member is None:
        return ""
    saved = v.saved.get(int(paper_id), ())
    arxiv = escape(arxiv_id)
    token = _csrf(v)
    forms = []
    for cid, name in v.collections:
        on = cid in saved
        forms.append(f'<form method="post" action="/collections/{cid}/{"remove" if on else "add"}" class="save-form">'
                     f'{token}<input type="hidden" name="arxiv_id" value="{arxiv}">'
                     f'<button type="submit">{"✓ " if on else "+ "}{escape(name)}</button></form>')
    return (f'<details class="card-actions save-menu"><summary>{"Saved" if saved else "Save"}</summary>'
            + "".join(forms)
            + f'<form method="post" action="/collections" class="save-form new-collection">{token}'
            f'<input type="hidden" name="arxiv_id" value="{arxiv}">'
            '<input type="text" name="name" placeholder="New collection" maxlength="100" required aria-label="New collection name">'
            '<button type="submit">Create and save</button></form></details>')


def _own_comment(v: Visitor, comment_id: str, author_id: str) -> str:
    """Edit and delete on the visitor's own comment."""
    me = v.member
    if me is None or not author_id or str(me.id) != author_id:
        return ""
    edit = "" if me.is_suspended else f'<a href="/comments/{int(comment_id)}/edit">Edit</a>'
    return (f'{edit}<form method="post" action="/comments/{int(comment_id)}/delete" class="inline-form">'
            f'{_csrf(v)}<button type="submit">Delete</button></form>')


FILLERS: dict[str, Callable[..., str]] = {
    "csrf": _csrf, "name": _name, "vote": _vote, "save": _save, "own": _own_comment,
}


# --- the member's state behind the slots of one page ----------------------------------

def load_state(conn, visitor: Visitor, parts: Parts) -> None:
    """Votes and saves of ``visitor.member`` among the papers this page shows: at most
    three indexed queries, none when the page has no such slot. Plain SQL with integer
    parameters: building and compiling expressions cost more than the queries here
    (only placeholders are formatted into the SQL: hence the noqa)."""
    me = visitor.member
    if me is None:
        return
    q = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    vote_ids = sorted({int(a[0]) for a in slot_args(parts, "vote")})
    if vote_ids:
        visitor.votes = {r[0] for r in conn.exec_driver_sql(
            f"SELECT paper_id FROM votes WHERE user_id = {q} AND paper_id IN ({', '.join([q] * len(vote_ids))})",  # noqa: S608
            (me.id, *vote_ids))}
    save_ids = sorted({int(a[0]) for a in slot_args(parts, "save")})
    if save_ids:
        visitor.collections = [(r[0], r[1]) for r in conn.exec_driver_sql(
            f"SELECT id, name FROM collections WHERE user_id = {q} ORDER BY name", (me.id,))]  # noqa: S608
        if visitor.collections:
            cids = [c[0] for c in visitor.collections]
            rows = conn.exec_driver_sql(
                f"SELECT paper_id, collection_id FROM collection_items WHERE collection_id IN ({', '.join([q] * len(cids))})"  # noqa: S608
                f" AND paper_id IN ({', '.join([q] * len(save_ids))})", (*cids, *save_ids))
            for pid, cid in rows:
                visitor.saved.setdefault(pid, set()).add(cid)

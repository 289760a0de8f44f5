"""Who an author is: the identity two spellings of one name share, and its stored rows.

``author_identity`` folds case and accents (LaTeX accents too) and turns every run of
spaces and punctuation into one space, so "José  García", "Jose Garcia" and
"JOSÉ GARCÍA" are one author, and so are "Jean-Pierre Dupont" and "Jean Pierre Dupont".
Initials are *not* expanded: "J. Garcia" is the identity "j garcia", which matches only
authors written "J. Garcia" (or "J Garcia"), never every Garcia. Follows (community) and
digests match followed authors through ``author_ids``, so both agree.

The look-up uses the index on ``authors.name_key`` (lower-cased, accent-folded, as
ingest stores it): a name's identity is reached through a few key ranges (its first two
parts joined as names are written: "j. garcia", "jean-pierre"...) plus the exact key of
the name as given, then checked exactly in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import and_, or_, select

from paperboy.papers.text import clean_name, name_key
from paperboy.store.models import Author

_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script
# How two name parts may be joined in a stored name's key: "j. garcia", "jean-pierre"...
_JOINS = (" ", ". ", ".", "-", ".-", ". -", "'", "’", "' ")


def author_identity(name: str) -> str:
    """The key that decides whether two author names are one author (see the module doc)."""
    return " ".join(_WORD.findall(name_key(clean_name(name or ""))))


def _after(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix``, by bumping its last
    ASCII letter or digit (a bumped 'z' or a non-ASCII letter would sort unpredictably
    under a linguistic collation, so those are dropped and the prefix widened)."""
    while prefix:
        last = prefix[-1]
        if ("a" <= last < "z") or ("0" <= last < "9"):
            return prefix[:-1] + chr(ord(last) + 1)
        prefix = prefix[:-1]
    return None


def _key_ranges(identity: str) -> list[tuple[str, str | None]]:
    """Index ranges of ``authors.name_key`` that hold every stored name of this identity
    written in an ordinary way (the first two parts joined by one of ``_JOINS``)."""
    parts = identity.split()
    heads = [parts[0]] if len(parts) == 1 else [parts[0] + join + parts[1] for join in _JOINS]
    return [(head, _after(head)) for head in heads]


def authors_named(db, identity: str, typed: str = "") -> list[tuple[int, str]]:
    """(id, name) of the stored authors with this identity, oldest first.

    ``typed`` (the name as given) is also looked up by its exact key, which finds names
    the ranges do not reach (one starting with punctuation, as "'t Hooft")."""
    if not identity:
        return []
    # A range with no safe upper end (a name of non-Latin letters) is left to the exact key.
    conds = [and_(Author.name_key >= low, Author.name_key < high) for low, high in _key_ranges(identity) if high]
    if typed:
        conds.append(Author.name_key == name_key(clean_name(typed)))
    if not conds:
        return []
    # Sorted here, not by ORDER BY: with bound parameters SQLite would rather walk the
    # whole table in id order than use the name_key index (measured: 590 ms against
    # about 1 ms at 500,000 authors).
    rows = db.execute(select(Author.id, Author.name).where(or_(*conds))).all()
    return sorted((aid, name) for aid, name in rows if author_identity(name) == identity)


def author_ids(db, names: Iterable[str]) -> set[int]:
    """Ids of every stored author who is one of ``names`` by identity."""
    out: set[int] = set()
    for name in dict.fromkeys(names):
        out.update(aid for aid, _ in authors_named(db, author_identity(name), name))
    return out

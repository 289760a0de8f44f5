"""The arXiv ids a member's form sends: ids or links pasted in a box and a BibTeX file
uploaded beside it (For you's seed papers, a collection's import). One reader and one set
of limits and messages for every such form; the route decides what the ids are for.
BibTeX entries without an arXiv id whose paper this instance holds are found here by
title (``papers_sent``); the rest are for a worker to look up on arXiv. What the import
came to is kept (``keep_outcome``) for the page the form redirects to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import anyio
from fastapi import UploadFile
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.ingest import wanted
from paperboy.papers import references
from paperboy.papers.queries import titles_and_authors
from paperboy.store.models import ImportOutcome, utcnow

TITLES_NAMED = 5  # entries found by title, named in the report (the member checks the matches)
NO_ARXIV_ID = ("No arXiv id found. Paste ids such as 2403.01234 or arxiv.org/abs/… links, or upload a BibTeX "
               "file whose entries have an eprint, an arXiv URL or an arXiv DOI.")


def no_arxiv_id(found: references.Found) -> str:
    """Why nothing was imported: ``NO_ARXIV_ID``, and the entries BibTeX could not read."""
    if not found.broken_count:
        return NO_ARXIV_ID
    return (f"{NO_ARXIV_ID} {found.broken_count} BibTeX {'entry' if found.broken_count == 1 else 'entries'} "
            f"could not be read ({references.broken_listed(found.broken, found.broken_count)}).")


# Bytes a text file holds: tab, line ends, form feed, escape and everything from the space
# up (UTF-8's and Latin-1's letters too).
_TEXT_BYTES = bytes([8, 9, 10, 12, 13, 27, *range(32, 256)])


def _looks_binary(head: bytes) -> bool:
    """A picture, a PDF or an archive: more than one byte in twenty is a control byte. A
    text file has next to none (a stray NUL in one entry is read, without it)."""
    return len(head.translate(None, _TEXT_BYTES)) * 20 > len(head)


async def arxiv_ids_sent(pasted: str, bibtex: UploadFile | None) -> references.Found:
    """The arXiv ids in the pasted text and the uploaded file (none found is the caller's
    to answer, with ``NO_ARXIV_ID``); 413 for a file or a paste over ``references.MAX_BYTES``.
    The route is marked ``security.takes_uploads(references.UPLOAD_BYTES, references.TOO_LARGE)`` so that such a
    body reaches it."""
    uploaded = ""
    if bibtex is not None and bibtex.filename:
        raw = await bibtex.read(references.MAX_BYTES + 1)
        if len(raw) > references.MAX_BYTES:
            raise HTTPException(413, references.TOO_LARGE)
        # Said for what it is, rather than as a BibTeX file with no arXiv id in it.
        if not raw.strip():
            raise HTTPException(422, f"The file {bibtex.filename[:100]!r} is empty.")
        if _looks_binary(raw[:65536]):
            raise HTTPException(422, f"The file {bibtex.filename[:100]!r} is not text: upload a BibTeX export "
                                     "(.bib), e.g. from Zotero's Export Library.")
        uploaded = raw.decode("utf-8", errors="replace")
    if len(pasted) > references.MAX_BYTES:
        raise HTTPException(413, "That is too much text; paste fewer ids.")
    # In a worker thread: a 2 MB library takes a few tenths of a second to read, which
    # on the event loop every other request would wait for.
    return await anyio.to_thread.run_sync(references.read_seeds, pasted, uploaded)


async def papers_sent(request, db, pasted: str, bibtex: UploadFile | None) -> references.Found:
    """``arxiv_ids_sent``, with the BibTeX entries without an arXiv id whose paper this
    instance holds and shows found by title at once (``find_stored_titles``): their ids
    join ``found.ids``; the other entries stay in ``found.titles``."""
    found = await arxiv_ids_sent(pasted, bibtex)
    if found.titles:
        await anyio.to_thread.run_sync(find_stored_titles, request.app.state.search, db, found)
    return found


def find_stored_titles(search, db, found: references.Found) -> None:
    """Move the entries of ``found.titles`` whose paper is stored here (the keyword index's
    title phrases, then ``references.names_paper`` on the stored title and authors) into
    ``found.ids``, their title keys in ``found.title_keys_found``. Quick: one keyword query per
    100 titles, one read."""
    candidates = titles_and_authors(db, search.titled([(t.title, t.first_author) for t in found.titles]))
    by_key: dict[str, list[tuple[str, str, list[str]]]] = {}
    for arxiv_id, title, authors in candidates:
        by_key.setdefault(references.title_key(title), []).append((arxiv_id, title, authors))
    left = []
    for ref in found.titles:
        hit = next((a for a, title, authors in by_key.get(ref.key, ())
                    if references.names_paper(ref.key, ref.first_author, title, authors)), None)
        if hit is None:
            left.append(ref)
        else:
            found.add(hit)
            found.title_keys_found.append(ref.key)
            found.titles_found.append(ref.title)
    found.titles = left


# --- what an import came to ------------------------------------------------------------

@dataclass(frozen=True)
class Into:
    """Where an import saves, as its outcome says it."""
    one: str  # what one saved paper is called ("paper", "seed paper")
    to: str  # after "Added N papers" (" to “Zotero”", or "")
    arrive: str  # what becomes of a paper fetched later ("be saved here")
    lost: str  # of papers this instance lacks and does not fetch ("so cannot be saved here")
    verb: str  # what the member does again ("import")

    @classmethod
    def collection(cls, name: str) -> Into:
        return cls("paper", f" to “{name}”", "be saved here", "so cannot be saved here", "import")


INTO_SEEDS = Into("seed paper", "", "seed the feed", "so the feed cannot learn from {them}", "seed with")


def _left_out_named(found: references.Found, titles_looked_up: bool) -> list[str]:
    """The entries left out, by name, so the member can find them in their library: the
    citation keys of entries with neither an arXiv id nor a title, and, where titles are
    not looked up on arXiv, the titles not found here."""
    titles = [] if titles_looked_up else [f"“{t.title if len(t.title) <= 80 else t.title[:79] + '…'}”"
                                          for t in found.titles]
    return (found.left_out_keys + titles)[:references.LEFT_OUT_NAMED]


@dataclass
class ImportReport:
    added: list[str]  # arXiv ids saved now
    already: list[str]  # saved there before
    fetching: list[str]  # not stored here: queued to be fetched from arXiv and saved when they arrive
    not_here: list[str]  # not among this instance's papers and not fetched (hidden, fetching off, over_limit)
    over_limit: list[str]  # of not_here: not fetched because the member has OUTSTANDING_MAX waiting
    unreadable: list[str]  # pasted words that are no arXiv id
    entries_without_arxiv_id: int  # BibTeX entries naming no arXiv paper, and not looked up by title
    entries: int  # BibTeX entries read
    matching_titles: list[str] = field(default_factory=list)  # entries without an id: looked up on arXiv by title
    titles_over_limit: list[str] = field(default_factory=list)  # of those without an id: not looked up (the cap)
    not_read: int = 0  # ids and entries past references.MAX_SEEDS: to be imported apart
    found_by_title: int = 0  # entries without an arXiv id whose paper this instance holds (among added/already)
    titles_found: list[str] = field(default_factory=list)  # their titles, for the member to check the matches
    titles_looked_up: bool = True  # whether other such entries are looked up on arXiv (PAPERBOY_FETCH_WANTED)
    left_out_keys: list[str] = field(default_factory=list)  # those left out, named: citation keys, titles
    broken: list[str] = field(default_factory=list)  # entries BibTeX could not read, named with line and why
    broken_count: int = 0

    @classmethod
    def of(cls, found: references.Found, added: list[str], already: list[str], queued: wanted.Queued,
           titles: wanted.Queued, titles_looked_up: bool) -> ImportReport:
        """The report of an import of ``found`` that saved ``added`` (and found ``already``
        saved), queued ``queued`` to be fetched and ``titles`` to be looked up."""
        fetching, over, kept = set(queued.queued), set(queued.over_limit), {*added, *already}
        return cls(
            added=added, already=already,
            fetching=[a for a in found.ids if a in fetching], over_limit=[a for a in found.ids if a in over],
            not_here=[a for a in found.ids if a not in kept and a not in fetching], unreadable=found.unreadable,
            entries_without_arxiv_id=found.entries_without_id - found.found_by_title - len(titles.queued)
            - len(titles.over_limit) - found.titles_past_cap, entries=found.entries, not_read=found.not_read,
            found_by_title=found.found_by_title, titles_found=found.titles_found, titles_looked_up=titles_looked_up,
            left_out_keys=_left_out_named(found, titles_looked_up),
            broken=found.broken, broken_count=found.broken_count,
            matching_titles=titles.queued, titles_over_limit=titles.over_limit)

    def message(self, into: Into) -> str:
        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        def it(count: int, one: str = "it", many: str = "them") -> str:
            return one if count == 1 else many

        bits = [f"Added {n(len(self.added), into.one, into.one + 's')}{into.to}."]
        if self.already:
            bits.append(f"{n(len(self.already), 'was', 'were')} in it already.")
        if self.fetching:
            bits.append(f"{n(len(self.fetching), 'is', 'are')} not on this instance yet: "
                        f"{it(len(self.fetching), 'it is', 'they are')} being fetched from arXiv "
                        f"and will {into.arrive} within minutes.")
        if self.over_limit:
            bits.append(f"{n(len(self.over_limit), 'was', 'were')} not fetched: you have "
                        f"{wanted.OUTSTANDING_MAX:,} papers waiting to be fetched already; {into.verb} "
                        f"{it(len(self.over_limit))} again once those have arrived.")
        if elsewhere := len(self.not_here) - len(self.over_limit):
            bits.append(f"{n(elsewhere, 'is', 'are')} not among this instance's papers, "
                        f"{into.lost.format(them=it(elsewhere))}.")
        if self.found_by_title:
            named = [f"“{t if len(t) <= 80 else t[:79] + '…'}”" for t in self.titles_found[:TITLES_NAMED]]
            more = " …" if len(self.titles_found) > TITLES_NAMED else ""
            bits.append(f"{n(self.found_by_title, 'BibTeX entry', 'BibTeX entries')} without an arXiv id "
                        f"{it(self.found_by_title, 'was', 'were')} found among this instance's papers by title"
                        + (f" ({', '.join(named)}{more})." if named else "."))
        if self.matching_titles:
            bits.append(f"{n(len(self.matching_titles), 'BibTeX entry names', 'BibTeX entries name')} no arXiv id: "
                        f"{it(len(self.matching_titles), 'its title is', 'their titles are')} being looked "
                        f"up on arXiv, and the papers found will {into.arrive} within minutes.")
        if self.titles_over_limit:
            bits.append(f"{n(len(self.titles_over_limit), 'BibTeX entry', 'BibTeX entries')} without an arXiv id "
                        f"{it(len(self.titles_over_limit), 'was', 'were')} not looked up: you have "
                        f"{wanted.OUTSTANDING_MAX:,} papers waiting already; {into.verb} the file again once "
                        "those have arrived.")
        if self.entries_without_arxiv_id:
            why = ("and no title of three words or more to look up" if self.titles_looked_up
                   else "and no title among this instance's papers")
            bits.append(f"{self.entries_without_arxiv_id} of {n(self.entries, 'BibTeX entry', 'BibTeX entries')} "
                        f"name no arXiv paper (no eprint, arXiv URL or arXiv DOI, {why}) and "
                        f"{it(self.entries_without_arxiv_id, 'was', 'were')} left out"
                        + (f" ({', '.join(self.left_out_keys)}{' …' if len(self.left_out_keys) < self.entries_without_arxiv_id else ''})."
                           if self.left_out_keys else "."))
        if self.broken_count:
            bits.append(f"{n(self.broken_count, 'BibTeX entry', 'BibTeX entries')} could not be read "
                        f"({references.broken_listed(self.broken, self.broken_count)}): mend {it(self.broken_count)} in your library "
                        f"or the file, and {into.verb} {it(self.broken_count)} again.")
        if self.not_read:
            bits.append(f"{n(self.not_read, 'more was', 'more were')} not read: one import takes at most "
                        f"{references.MAX_SEEDS:,} papers; {into.verb} the rest apart.")
        if self.unreadable:
            more = " …" if len(self.unreadable) > 5 else ""
            bits.append(f"Not arXiv ids: {', '.join(self.unreadable[:5])}{more}.")
        return " ".join(bits)


# --- the outcome, for the page the form redirects to ------------------------------------

NOT_HERE_KEPT = 21  # ids kept to list (the page shows 20, and "…" past them)


@dataclass(frozen=True)
class Outcome:
    message: str
    not_here: list[str]


def keep_outcome(db: Session, user_id: int, target: int, message: str, not_here: Iterable[str] = ()) -> int:
    """Keep what an import or seeding came to and return its id, for the page the form
    redirects to (``?imported=ID``): a reload of that page shows it again, where a reload
    of the form's answer would send the import again. Each import replaces the member's
    last one for the same target (a collection's id, or 0 for the seeds)."""
    kept = ImportOutcome(user_id=user_id, target=target, message=message,
                         not_here="\n".join(list(not_here)[:NOT_HERE_KEPT]), created_at=utcnow())
    db.add(kept)
    db.flush()
    # Older ones by id, not all: two imports at once each keep their own until the next.
    db.execute(delete(ImportOutcome).where(ImportOutcome.user_id == user_id, ImportOutcome.target == target,
                                           ImportOutcome.id < kept.id))
    return kept.id


def kept_outcome(db: Session, user_id: int, target: int, outcome_id: int | None) -> Outcome | None:
    """The outcome ``keep_outcome`` kept under ``outcome_id``, if it is this member's for
    this target and no later import replaced it; else None (the page shows none)."""
    if outcome_id is None:
        return None
    row = db.scalar(select(ImportOutcome).where(ImportOutcome.id == outcome_id, ImportOutcome.user_id == user_id,
                                                ImportOutcome.target == target))
    return Outcome(row.message, row.not_here.split("\n") if row.not_here else []) if row else None


def forget_outcomes(db: Session, user_id: int, target: int | None = None) -> None:
    """Delete a member's kept outcomes: for one target (a deleted collection, a reset of
    the seeds), or all of them (a deleted account)."""
    where = [ImportOutcome.user_id == user_id] + ([ImportOutcome.target == target] if target is not None else [])
    db.execute(delete(ImportOutcome).where(*where))

"""The arXiv ids in what a member pastes (ids, URLs, one per line or separated by
commas) or uploads (a BibTeX file, e.g. a Zotero or Google Scholar export): the papers
they seed For you with, or import into a collection.

    found = read_seeds(text)   # found.ids in order, found.unreadable: what was not an id

BibTeX entries name arXiv papers in several ways, all read here:
``eprint = {2403.01234}`` (with ``archivePrefix = {arXiv}``), ``url = {https://arxiv.org/abs/...}``,
``doi = {10.48550/arXiv.2403.01234}`` and ``journal = {arXiv preprint arXiv:2403.01234}``.
An entry with none of them (a journal or proceedings paper, as most of a Zotero library
is) is kept by its title and first author (``found.titles``), for a worker to look up on
arXiv (``ingest.wanted``); one without a usable title is counted, so the member knows
what was left out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from paperboy.papers.ids import BadRecord, parse_arxiv_id
from paperboy.papers.text import latex_to_unicode

MAX_BYTES = 2_000_000  # a BibTeX export of a few thousand entries
UPLOAD_BYTES = MAX_BYTES + 100_000  # the form that brings it: the file, a paste, the multipart framing
TOO_LARGE = f"That file is over {MAX_BYTES // 1_000_000} MB; export fewer entries."
# Ids, and titles of entries without one, taken from one paste or file (For you's seeds,
# a collection's import): a large Zotero library at once, and as many as a member may
# have waiting to be fetched (``ingest.wanted.OUTSTANDING_MAX``). Beyond, they are
# counted (``Found.not_read``) and the member is told to import the rest apart.
MAX_SEEDS = 2_000

_NEW = r"\d{4}\.\d{4,5}(?:v\d+)?"
_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?"
# An id where BibTeX and prose put one: after "arXiv:", "arxiv.org/abs|pdf/", the arXiv
# DOI prefix, or alone in an eprint field.
_IN_TEXT = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|arxiv:\s*|10\.48550/arxiv\.)(?P<id>{_NEW}|{_OLD})"
    rf"|eprint\s*=\s*[{{\"]\s*(?P<eprint>{_NEW}|{_OLD})\s*[}}\"]",
    re.IGNORECASE,
)
_ENTRY = re.compile(r"@\s*(?!comment|string|preamble)[a-z]+\s*[{(]", re.IGNORECASE)
_TOKEN_SPLIT = re.compile(r"[\s,;]+")
_CITATION_KEY = re.compile(r"\s*([^\s,{}()]{1,80})\s*,")
LEFT_OUT_NAMED = 20
# A field's name where a value starts ("booktitle" is not "title"), then its value.
_FIELD = re.compile(r"(?<![A-Za-z])(?P<name>title|author)\s*=\s*(?P<open>[{\"])", re.IGNORECASE)
_COMMAND = re.compile(r"\\[A-Za-z]+\*?|\\.")  # what latex_to_unicode left: \emph, \alpha, \&
_NOT_WORD = re.compile(r"[\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TITLE_MIN_WORDS = 3  # a shorter title ("Mamba") names too many papers to be matched by itself
TITLE_MAX = 400  # characters kept of a title (arXiv's longest are about 300)


@dataclass(frozen=True)
class TitleRef:
    """A BibTeX entry without an arXiv id, as it is looked up on arXiv."""

    title: str  # as the entry spells it, TeX accents as letters and braces dropped: shown to the member
    key: str  # ``title_key(title)``: what an arXiv paper's title must equal
    first_author: str = ""  # the first author's surname, folded (``title_key``); "" when none


def title_key(text: str) -> str:
    """A title folded for matching: TeX accents to letters, commands and math markup
    dropped, accents and case folded, punctuation to spaces. BibTeX's
    ``{BERT}: Pre-training of Deep {B}idirectional Transformers`` and arXiv's
    ``BERT: Pre-training of Deep Bidirectional Transformers`` give the same key."""
    # Commands before braces: "\emph{Survey}" is "Survey", not the command "\emphSurvey".
    text = _COMMAND.sub(" ", latex_to_unicode(text)).replace("{", "").replace("}", "").replace("$", " ")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()
    text = text.replace("ı", "i")  # TeX's dotless i under an accent ("Garc\'{\i}a")
    return " ".join(_NOT_WORD.sub(" ", text).split())


def surname_key(author: str) -> str:
    """The folded surname of one author, as BibTeX (``Vaswani, Ashish``) or arXiv
    (``Ashish Vaswani``) writes it: the part before a comma, else the last word."""
    author = author.strip()
    name = author.split(",", 1)[0] if "," in author else (author.split() or [""])[-1]
    return title_key(name)


# Words that sources spell or split differently: TeX, and apostrophes ("Rao's" is one
# word to one search engine, "rao s" or "rao" to another).
_SPELT_APART = re.compile(r"[\\${}^_'\u2019]")


def plain_runs(title: str) -> list[str]:
    """The runs of plain words of a title, between words with TeX or an apostrophe in
    them. A title's ``\\textit{Rule}s``, ``$\\mathcal{O}(T)$`` or ``Rao's`` is spelt or
    split differently in a BibTeX entry, on arXiv and in an index, while the words around
    it are the same everywhere: a search asks for each run as a phrase of its own, and
    for all of them. Runs of short words alone ("a", "of the") are left out: a search
    engine may drop them as stop words, and asking for fewer runs only widens what the
    caller then compares."""
    runs, run = [], []
    for word in [*title.split(), "$"]:  # the "$" ends the last run
        if _SPELT_APART.search(word):
            if any(len(w) > 3 for w in run):
                runs.append(" ".join(run))
            run = []
        else:
            run.append(word)
    return runs


def names_paper(ref_key: str, first_author: str, title: str, authors: list[str]) -> bool:
    """Whether a paper with ``title`` and ``authors`` is the one a BibTeX entry names: its
    title folds to the entry's key and, when the entry names authors, the entry's first
    author's surname is among the paper's authors. Nothing fuzzier: a near title is often
    another paper (the same author's "... for DNA Screening" and "... for Genetic
    Screening"), and a wrong paper saved in a member's name is worse than one left out."""
    if title_key(title) != ref_key:
        return False
    wanted = f" {first_author} "
    return not first_author or any(wanted in f" {title_key(name)} " for name in authors)


def _field_value(text: str, start: int, opener: str, end: int) -> str:
    """The value of a field whose ``{`` or ``"`` is at ``start``: braces nest inside it."""
    depth, i = 0, start
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if opener == "{" and depth == 0:
                return text[start + 1:i]
        elif c == '"' and opener == '"' and depth == 0 and i > start:
            return text[start + 1:i]
        i += 1
    return ""


def _title_ref(text: str, start: int, end: int) -> TitleRef | None:
    """The entry's title and first author, or None when it has no title worth looking up."""
    fields: dict[str, str] = {}
    for m in _FIELD.finditer(text, start, end):
        name = m.group("name").lower()
        if name not in fields:
            fields[name] = _field_value(text, m.start("open"), m.group("open"), end)
    raw = " ".join(fields.get("title", "").split())
    key = title_key(raw)
    if len(key.split()) < TITLE_MIN_WORDS or len(raw) > TITLE_MAX:
        return None
    # Math stays as written; control characters go (PostgreSQL refuses NUL in text).
    shown = " ".join(_CONTROL.sub(" ", latex_to_unicode(raw).replace("{", "").replace("}", "")).split())
    authors = re.split(r"\s+and\s+", fields.get("author", "").strip(), maxsplit=1)
    first = surname_key(authors[0]) if authors and authors[0] and authors[0].lower() != "others" else ""
    return TitleRef(shown, key, first[:100])


@dataclass
class Found:
    ids: list[str] = field(default_factory=list)  # arXiv ids without version, first seen first
    unreadable: list[str] = field(default_factory=list)  # pasted tokens that are no arXiv id
    entries: int = 0  # BibTeX entries in the file
    entries_without_id: int = 0  # of those, entries that name no arXiv id (some have a title)
    titles: list[TitleRef] = field(default_factory=list)  # entries without an id, by title: to look up
    # title keys of entries without an id whose paper this instance holds (``web.uploads``)
    title_keys_found: list[str] = field(default_factory=list)
    titles_found: list[str] = field(default_factory=list)  # those entries' titles, as the member wrote them
    # citation keys of entries with neither an arXiv id nor a title to look up (the first
    # LEFT_OUT_NAMED): left out, and named so the member can find them in their library
    left_out_keys: list[str] = field(default_factory=list)
    # entries BibTeX itself could not read (no comma after the key, a brace never closed),
    # the first LEFT_OUT_NAMED named with their line and what is wrong: nothing is guessed
    # from them, so a half-read title is never looked up on arXiv
    broken: list[str] = field(default_factory=list)
    broken_count: int = 0
    ids_past_cap: int = 0  # ids not taken: MAX_SEEDS were already
    titles_past_cap: int = 0  # entries without an id not read: MAX_SEEDS titles were already
    _title_keys: set[str] = field(default_factory=set, repr=False)

    @property
    def found_by_title(self) -> int:
        """Entries without an id whose paper this instance holds."""
        return len(self.title_keys_found)

    @property
    def not_read(self) -> int:
        """Papers named past the cap, for the member to import apart."""
        return self.ids_past_cap + self.titles_past_cap

    def add(self, arxiv_id: str) -> None:
        if arxiv_id not in self.ids:
            if len(self.ids) < MAX_SEEDS:
                self.ids.append(arxiv_id)
            else:
                self.ids_past_cap += 1

    @property
    def titles_full(self) -> bool:
        return len(self.titles) >= MAX_SEEDS

    def add_title(self, ref: TitleRef) -> None:
        if not self.titles_full and ref.key not in self._title_keys:
            self._title_keys.add(ref.key)
            self.titles.append(ref)


def broken_listed(broken: list[str], count: int) -> str:
    """Entries BibTeX could not read, as a report lists them ("…" past those named)."""
    return "; ".join(broken) + (" …" if len(broken) < count else "")


def _clean(raw: str) -> str | None:
    try:
        return parse_arxiv_id(raw.strip().rstrip(".,;)"))[0]
    except BadRecord:
        return None


def _what_is_broken(text: str, opening: re.Match, end: int) -> str | None:
    """Why BibTeX could not read the entry opened by ``opening`` (ending before ``end``),
    or None when it reads: its key must be followed by a comma, and the brace that opens
    the entry must close before the next entry."""
    if not _CITATION_KEY.match(text, opening.end()):
        return "no comma after its key"
    if text[opening.end() - 1] != "{":
        return None  # @article(key, ...): parentheses, rare; read as before
    # The entry's body as a braced value: "" when its brace never closes (it holds at
    # least "key," when it does).
    if not _field_value(text, opening.end() - 1, "{", end):
        return "a brace that is never closed"
    return None


def read_bibtex(text: str) -> Found:
    found = Found()
    starts = [m.start() for m in _ENTRY.finditer(text)]
    found.entries = len(starts)
    for number, (start, end) in enumerate(zip(starts, starts[1:] + [len(text)], strict=True), start=1):
        ids = [_clean(m.group("id") or m.group("eprint")) for m in _IN_TEXT.finditer(text, start, end)]
        ids = [i for i in ids if i]
        opening = _ENTRY.match(text, start)
        if ids:
            found.add(ids[0])
        elif opening and (broken := _what_is_broken(text, opening, end)):
            found.broken_count += 1
            if len(found.broken) < LEFT_OUT_NAMED:
                key = re.match(r"\s*([^\s,{}()]{1,80})", text[opening.end():end])
                line = text.count("\n", 0, start) + 1
                found.broken.append(f"{key.group(1) if key else f'entry {number}'} (line {line}: {broken})")
        else:
            found.entries_without_id += 1
            if found.titles_full:
                found.titles_past_cap += 1
            elif (ref := _title_ref(text, start, end)) is not None:
                found.add_title(ref)
            elif len(found.left_out_keys) < LEFT_OUT_NAMED:
                key = _CITATION_KEY.match(text, opening.end()) if opening else None
                found.left_out_keys.append(key.group(1) if key else f"entry {number}")
    return found


def read_pasted(text: str) -> Found:
    found = Found()
    for token in _TOKEN_SPLIT.split(text):
        if not token:
            continue
        arxiv_id = _clean(token)
        if arxiv_id is None:
            m = _IN_TEXT.search(token)
            arxiv_id = _clean(m.group("id") or m.group("eprint")) if m else None
        if arxiv_id:
            found.add(arxiv_id)
        elif len(found.unreadable) < 20:
            found.unreadable.append(token[:80])
    return found


def read_one(text: str) -> Found:
    """The arXiv ids in a paste or a file: BibTeX when it has entries, else a list."""
    return read_bibtex(text) if _ENTRY.search(text) else read_pasted(text)


def read_seeds(*texts: str) -> Found:
    """The arXiv ids in several pastes and files (e.g. the form's box and its upload)."""
    found = Found()
    for text in texts:
        if not text.strip():
            continue
        part = read_one(text)
        for arxiv_id in part.ids:
            found.add(arxiv_id)
        for ref in part.titles:
            if found.titles_full:
                found.titles_past_cap += 1
            else:
                found.add_title(ref)
        found.ids_past_cap += part.ids_past_cap
        found.titles_past_cap += part.titles_past_cap
        found.unreadable += part.unreadable
        found.entries += part.entries
        found.entries_without_id += part.entries_without_id
        found.left_out_keys += part.left_out_keys[:LEFT_OUT_NAMED - len(found.left_out_keys)]
        found.broken += part.broken[:LEFT_OUT_NAMED - len(found.broken)]
        found.broken_count += part.broken_count
    return found

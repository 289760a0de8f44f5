"""The arXiv ids in what a member pastes (ids, URLs, one per line or separated by
commas) or uploads (a BibTeX file, e.g. a Zotero or Google Scholar export): the papers
they seed For you with, or import into a collection.

    found = read_seeds(text)   # found.ids in order, found.unreadable: what was not an id

BibTeX entries name arXiv papers in several ways, all read here:
``eprint = {2403.01234}`` (with ``archivePrefix = {arXiv}``), ``url = {https://arxiv.org/abs/...}``,
``doi = {10.48550/arXiv.2403.01234}`` and ``journal = {arXiv preprint arXiv:2403.01234}``.
An entry with none of them (a journal paper without its arXiv version) cannot be
matched and is counted, so the member knows what was left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperboy.papers.ids import BadRecord, parse_arxiv_id

MAX_BYTES = 2_000_000  # a BibTeX export of a few thousand entries
UPLOAD_BYTES = MAX_BYTES + 100_000  # the form that brings it: the file, a paste, the multipart framing
MAX_SEEDS = 500  # ids taken from one paste or file (For you's seeds, a collection's import)

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


@dataclass
class Found:
    ids: list[str] = field(default_factory=list)  # arXiv ids without version, first seen first
    unreadable: list[str] = field(default_factory=list)  # pasted tokens that are no arXiv id
    entries: int = 0  # BibTeX entries in the file
    entries_without_id: int = 0

    def add(self, arxiv_id: str) -> None:
        if arxiv_id not in self.ids and len(self.ids) < MAX_SEEDS:
            self.ids.append(arxiv_id)


def _clean(raw: str) -> str | None:
    try:
        return parse_arxiv_id(raw.strip().rstrip(".,;)"))[0]
    except BadRecord:
        return None


def read_bibtex(text: str) -> Found:
    found = Found()
    starts = [m.start() for m in _ENTRY.finditer(text)]
    found.entries = len(starts)
    for start, end in zip(starts, starts[1:] + [len(text)], strict=True):
        ids = [_clean(m.group("id") or m.group("eprint")) for m in _IN_TEXT.finditer(text, start, end)]
        ids = [i for i in ids if i]
        if ids:
            found.add(ids[0])
        else:
            found.entries_without_id += 1
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
        found.unreadable += part.unreadable
        found.entries += part.entries
        found.entries_without_id += part.entries_without_id
    return found

"""arXiv identifiers: ``2401.01234v2``, ``hep-th/9901001``, their URLs and ``arXiv:`` forms."""

from __future__ import annotations

import re
import unicodedata


class BadRecord(ValueError):
    """A record that cannot be stored; the message says which field and why."""


# --- arXiv ids -------------------------------------------------------------------

# ASCII digits only: \d would take any script's digits ("٢٦٠٦.٢٠٢٨٢"), an id no paper has.
_NEW_ID = re.compile(r"(?P<id>\d{4}\.\d{4,5})(?:v(?P<v>\d+))?", re.ASCII)
PLAIN_NEW_ID = re.compile(r"\d\d(?:0[1-9]|1[0-2])\.\d{4,5}", re.ASCII)
# An old id may carry its subject class (math.GT/0309136), which arXiv's own id leaves
# out (math/0309136): read, and dropped, so one paper has one id.
_OLD_ID = re.compile(r"(?P<archive>[a-z][a-z\-]*)(?:\.[A-Z]{2})?/(?P<number>\d{7})(?:v(?P<v>\d+))?", re.ASCII)
_ID_PREFIX = re.compile(  # a pasted link may have lost its scheme: arxiv.org/abs/...
    r"^(?:arxiv:"
    r"|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
    # arXiv's DOI (10.48550/arXiv.2401.01234), bare or as a link
    r"|(?:doi:\s*|(?:https?://)?(?:dx\.)?doi\.org/)?10\.48550/arxiv\."
    # where researchers share arXiv papers under the same id
    r"|(?:https?://)?(?:www\.)?(?:huggingface\.co/papers|alphaxiv\.org/(?:abs|overview|pdf))/"
    r")", re.IGNORECASE
)
_URL_TAIL = re.compile(r"[?#].*$")  # ?context=cs.LG, #S2 after a link's id


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """``'arXiv:2503.11731v2'`` → ``('2503.11731', 2)``; accepts URLs and old-style ids.

    Raises BadRecord for anything that is not an arXiv identifier.
    """
    if not isinstance(text, str):
        raise BadRecord(f"arXiv id must be text, got {type(text).__name__}")
    if not text.isascii():
        # Full-width digits and letters (typed with a CJK keyboard) are the ASCII ones;
        # left as they are, a regex's \d takes them and the id matches no paper.
        text = unicodedata.normalize("NFKC", text)
    m = PLAIN_NEW_ID.fullmatch(text)
    if m:  # fast path: a bare new-style id without version, the common case
        return text, None
    s = text.strip()
    stripped = _ID_PREFIX.sub("", s)
    if stripped != s:  # a link: what follows its id is no part of it
        stripped = _URL_TAIL.sub("", stripped)
    s = stripped.removesuffix(".pdf").rstrip("/")
    for pattern in (_NEW_ID, _OLD_ID):
        m = pattern.fullmatch(s)
        if m:
            arxiv_id = m.group("id") if pattern is _NEW_ID else f"{m.group('archive')}/{m.group('number')}"
            if pattern is _NEW_ID:
                yymm = int(arxiv_id[2:4])
                if not 1 <= yymm <= 12:
                    break
            return arxiv_id, int(m.group("v")) if m.group("v") else None
    raise BadRecord(f"not an arXiv id: {text[:80]!r}")


def canonical_or_same(text: str) -> str:
    """The id of ``text`` in any form ``parse_arxiv_id`` reads (a version, the ``arXiv:``
    prefix, an abs or pdf link) without its version, or ``text`` itself where it is no
    arXiv id (the caller then says it has no such paper, naming what was sent)."""
    try:
        return parse_arxiv_id(text)[0]
    except BadRecord:
        return text


def no_paper_here(text: str) -> str:
    """What to answer for a paper this instance does not have: that it has not ``text``,
    or, where ``text`` is no arXiv id at all, that (a typo is mended, not looked for)."""
    if is_arxiv_id(text):
        return f"No paper arXiv:{text} here."
    return f"{str(text)[:80]!r} is not an arXiv id (ids look like 2401.01234 or hep-th/9901001)."


def is_arxiv_id(text: str) -> bool:
    try:
        parse_arxiv_id(text)
    except BadRecord:
        return False
    return True



"""BibTeX for papers (a paper's page, a collection's export): entries a researcher's
LaTeX compiles as they are, and that a bibliography style treats as a human would.

- **Fields** are LaTeX-safe (``tex_field``): math and TeX commands kept as arXiv has
  them, TeX's special characters escaped.
- **Titles** keep their capitals where a style would lower them (``tex_title``): a
  word with a capital after its first letter (VMonarch, LLMs, GPT-4o, 3D) is braced, as
  reference managers do, so "plain" does not print "Vmonarch" or "llms".
- **Keys** are ASCII (``\\cite`` under pdflatex takes nothing else), and unique within
  one file (``bibtex_entries``): papers that share a surname, year and title word get
  b, c, ... after the key, in arXiv id order, so the first keeps the key its paper page
  shows. Two entries with one key make BibTeX drop one and cite the wrong paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from anyascii import anyascii

from paperboy.papers.mathplain import plain_text
from paperboy.store.models import Paper
from paperboy.web.cards import Card

_TEX_SPECIAL = re.compile(r"(?<!\\)([&%#_])")  # special to TeX unless already escaped
_STRAY_BACKSLASH = re.compile(r"\\{2,}|\\(?![A-Za-z{}&%#_$^~])")  # "\\\\Name", "St\ütz": not TeX commands
_MATH = re.compile(r"(\$[^$]+\$)")
# Outside math, these print as other glyphs (> as ¡ in the OT1 encoding) or do something (~).
_TEXT_SYMBOLS = {"~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_TEXT_SYMBOL = re.compile(r"(?<!\\)[~<>]")
# A word (not a TeX command, no braces of its own), trailing punctuation left outside.
_WORD = re.compile(r"(?<![\w\\{}])([A-Za-z0-9][\w.\-+/@\\]*?)(?=[.,:;!?)]*(?:\s|$))")
# Braces added around cased words, kept apart from the title's own until the end.
_OPEN, _CLOSE = "\x01", "\x02"


def tex_field(text: str, *, keep_case: bool = False) -> str:
    """Text as a BibTeX field LaTeX compiles: math (``$...$``) and TeX commands kept as
    arXiv has them; a bare &, %, # or _ escaped (``80% Tokens`` no longer comments out the
    rest); ^, ~, < and > outside math spelled out; stray backslashes dropped; unbalanced
    braces escaped. ``keep_case`` braces the words whose capitals must stay (titles)."""
    parts = []
    for i, part in enumerate(_MATH.split(" ".join((text or "").split()))):
        if i % 2:  # $...$
            parts.append(part)
            continue
        part = _STRAY_BACKSLASH.sub("", part)
        part = _TEX_SPECIAL.sub(r"\\\1", part)
        part = re.sub(r"(?<!\\)\^", r"\\textasciicircum{}", part)
        part = _TEXT_SYMBOL.sub(lambda m: _TEXT_SYMBOLS[m.group(0)], part)
        if keep_case:
            part = _WORD.sub(_keep_case, part)
        parts.append(part.replace("$", "\\$"))  # a lone $ that opens no math
    out = "".join(parts)
    depth = 0
    for ch in re.sub(r"\\[{}]", "", out):
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth < 0:
            break
    if depth != 0:
        out = re.sub(r"(?<!\\)([{}])", r"\\\1", out)
    return out.replace(_OPEN, "{").replace(_CLOSE, "}")


def _keep_case(m: re.Match) -> str:
    """A word braced when a capital follows the first letter of one of its parts
    (VMonarch, LLM, GPT-4o, 3D) or is a part of its own (Top-K); not for a capital that
    only starts each part (Multi-Traversal: a sentence-case style rightly writes
    multi-traversal)."""
    word = m.group(1)
    if re.search(r"\\[A-Za-z]", word.replace("\\_", "")):  # holds a TeX command: left alone
        return word
    parts = re.split(r"[-/]", word)
    cased = (any(re.search(r"[A-Z]", p[1:]) for p in parts)
             or any(len(p) == 1 and p.isupper() for p in parts[1:]))  # Top-K, Text-to-3D-X
    return _OPEN + word + _CLOSE if cased else word


def tex_title(text: str) -> str:
    """A title as a BibTeX field whose acronyms and names a style cannot lower-case."""
    return tex_field(text, keep_case=True)


def _tex_name(name: str) -> str:
    """One author for BibTeX's "and"-separated list: a name holding a comma or " and " (a
    group, "Team, X") is braced, so it is not read as "Last, First" or as two people."""
    clean = tex_field(name)
    return f"{{{clean}}}" if "," in clean or " and " in f" {clean} " else clean


def _year(paper: Paper) -> int | None:
    if paper.submitted_at:
        return paper.submitted_at.year
    return paper.announced_on.year if paper.announced_on else None


def _ascii_word(text: str) -> str:
    """Letters and digits only, in ASCII (D'Incà is dinca, 张伟 is zhangwei), lower case."""
    return "".join(ch for ch in anyascii(text).lower() if ch.isascii() and ch.isalnum())


def cite_key(card: Card, paper: Paper) -> str:
    """The entry's key: first author's surname, year and first long word of the title."""
    surname = _ascii_word(card.authors[0].split()[-1]) if card.authors and card.authors[0].split() else ""
    year = _year(paper)
    word = next((w for w in (_ascii_word(w) for w in plain_text(card.title).split()) if w.isalpha() and len(w) > 3),
                "paper")
    return f"{surname or 'anon'}{year or ''}{word}"


def bibtex(card: Card, paper: Paper, key: str | None = None) -> str:
    """A BibTeX @misc entry for a paper, under ``key`` (its own ``cite_key`` if None)."""
    year = _year(paper)
    lines = [f"@misc{{{key or cite_key(card, paper)},",
             f"  title = {{{tex_title(card.title)}}},",
             f"  author = {{{' and '.join(_tex_name(a) for a in card.authors)}}},"]
    if year:
        lines.append(f"  year = {{{year}}},")
    lines += [f"  eprint = {{{card.arxiv_id}}},", "  archivePrefix = {arXiv},"]
    if card.categories:
        lines.append(f"  primaryClass = {{{card.categories[0]}}},")
    if paper.doi:
        lines.append(f"  doi = {{{paper.doi}}},")
    lines.append(f"  url = {{https://arxiv.org/abs/{card.arxiv_id}}},")
    lines.append("}")
    return "\n".join(lines)


def bibtex_entries(pairs: Iterable[tuple[Card, Paper]]) -> list[str]:
    """The entries of one file, in the order given, each key unique in it: papers that
    would share one are told apart by a letter (b, c, ...), in arXiv id order."""
    pairs = list(pairs)
    keys = [cite_key(card, paper) for card, paper in pairs]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    taken = set(keys)
    for key, members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: pairs[i][0].arxiv_id)
        letters = (chr(c) for c in range(ord("b"), ord("z") + 1))
        for i in members[1:]:
            suffix = next((x for x in letters if f"{key}{x}" not in taken), None)
            keys[i] = f"{key}{suffix}" if suffix else f"{key}{_ascii_word(pairs[i][0].arxiv_id)}"
            taken.add(keys[i])
    return [bibtex(card, paper, key) for (card, paper), key in zip(pairs, keys, strict=True)]

"""TeX markup outside math, turned into the text it stands for.

arXiv titles and abstracts are written by people who type TeX: ``\\emph{new}``,
``Bu~and~Tao``, ````quoted''``, ``4B--671B``, ``Erd\\H{o}s``, ``50\\%``. Cards, feeds
and digest mails all show that text, so one function cleans it for all three:
``clean_tex`` (plain text) and ``clean_tex_html`` (escaped HTML, emphasis as ``<em>``).

Math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) is left exactly as written: the
web renders it to MathML (``web/mathtext.py``), and feeds and mails turn it into Unicode
text (``papers/mathplain.py``, through ``clean_tex_with``).
Commands we do not know are left alone rather than guessed at.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from markupsafe import escape

# The math segments of a text; ``\\$`` is an escaped dollar, not a delimiter.
MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$|(?<!\\)\$(?P<d>[^$]+?)(?<!\\)\$|\\\((?P<p>.+?)\\\)|\\\[(?P<b>.+?)\\\]",
    re.DOTALL,
)

# Accent commands -> Unicode combining marks (composed with NFC afterwards).
_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
    "r": "\u030a", "d": "\u0323", "b": "\u0331",
}
# \'e  \'{e}  {\'e}  \"{\i}  \v s  \c{c}  (a letter accent needs braces or a space)
_ACCENT = re.compile(
    r"\{?\\(?:(?P<sym>['`^\"~=.])\s*|(?P<let>[uvHckrdb])(?=[\s{]))\s*"
    r"(?:\{\s*(?:\\(?P<dotless>[ij])\b\s*|(?P<braced>[A-Za-z]))\s*\}|\\(?P<dotless2>[ij])\b|(?P<bare>[A-Za-z]))\}?"
)
_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å",
    "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ",
}
_LETTER = re.compile(r"\{?\\(ss|o|O|ae|AE|oe|OE|aa|AA|l|L|i|j)(?![A-Za-z])\}?\s?")
_WORDS = {
    "ldots": "…", "dots": "…", "textellipsis": "…", "textendash": "–", "textemdash": "—",
    "LaTeX": "LaTeX", "TeX": "TeX", "textasciitilde": "~", "textbackslash": "\\",
    "textquotedblleft": "“", "textquotedblright": "”", "textquoteleft": "‘", "textquoteright": "’",
    "S": "§", "P": "¶", "copyright": "©", "textregistered": "®", "texttrademark": "™",
    "textdegree": "°", "pounds": "£", "euro": "€",
}
_WORD = re.compile(r"\\(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")(?![A-Za-z])(?:\{\})?")
# Commands whose (brace-balanced) argument is shown as it is; emphasis is kept apart to
# mark it in HTML; a footnote goes in parentheses; some arguments are dropped.
_EMPH = {"emph", "textit", "textsl", "textbf", "bf", "it", "em", "bfseries", "itshape"}
_KEEP_ARG = {"textrm", "textsf", "texttt", "textsc", "textup", "textmd", "textnormal", "text", "mbox",
             "underline", "uline", "url", "hbox", "textsuperscript", "textsubscript", "sc", "tt", "rm", "sf",
             "sl", "scshape", "ttfamily", "mathrm", "mathbf", "mathit"}
_FIRST_DROPPED = {"href", "textcolor"}  # \href{url}{text}, \textcolor{red}{text}: the second argument
_DROPPED = {"cite", "citet", "citep", "ref", "eqref", "label", "thanks", "vspace", "hspace", "color",
            "footnotemark", "affil"}
_FOOTNOTE = {"footnote"}
_CMD_ARG = re.compile(r"\\([A-Za-z]+)\*?\s*(?:\[[^\]{}]*\]\s*)?\{")
_SWITCH_ARG = re.compile(r"\{\\(em|it|bf|sl|sc|tt|rm|sf|bfseries|itshape|scshape|ttfamily)(?![A-Za-z])\s*")
_SYMBOLS = {
    "ie": "i.e.", "eg": "e.g.", "etal": "et al.", "wrt": "w.r.t.", "vs": "vs.", "etc": "etc.", "deg": "°",
    "pm": "±", "mp": "∓", "times": "×", "cdot": "·", "sim": "~", "approx": "≈", "leq": "≤", "geq": "≥",
    "le": "≤", "ge": "≥", "neq": "≠", "to": "→", "rightarrow": "→", "leftarrow": "←", "infty": "∞",
    "circ": "°", "checkmark": "✓", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ",
    "epsilon": "ε", "varepsilon": "ε", "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Delta": "Δ", "Sigma": "Σ", "Omega": "Ω", "Phi": "Φ", "Lambda": "Λ", "Gamma": "Γ",
}
_SYMBOL = re.compile(r"\{?\\(" + "|".join(sorted(_SYMBOLS, key=len, reverse=True)) + r")(?![A-Za-z])(?:\{\})?\}?")
_SPACES = re.compile(r"\\[,;:! ]|\\quad\b|\\qquad\b|\\newline\b|\\\\")
_ESCAPED = re.compile(r"\\([&%#_{}$])")
_BRACES = re.compile(r"\{([^{}\\]*)\}")
# A tie joins two words ("Bu~and~Tao", "0.35~m/s"); a tilde after a space or at the
# start ("achieving ~50% less") means "about" in 134 abstracts of the sample, and stays.
_TIE = re.compile(r"(?<=[^\s\\])~(?=\S)")
_OPEN_EMPH, _CLOSE_EMPH = "\ue000", "\ue001"  # private-use marks, removed from the input first


def _accent(m: re.Match) -> str:
    mark = _ACCENTS[m.group("sym") or m.group("let")]
    dotless = m.group("dotless") or m.group("dotless2")
    base = {"i": "i", "j": "j"}[dotless] if dotless else (m.group("braced") or m.group("bare"))
    return unicodedata.normalize("NFC", base + mark)


def closing_brace(text: str, i: int) -> int:
    """The index of the brace closing the one just before ``i`` (-1 if none)."""
    depth = 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _outside_math(text: str, pos: int) -> bool:
    return not any(m.start() <= pos < m.end() for m in MATH.finditer(text))


def _unwrap(text: str, open_emph: str, close_emph: str) -> str:
    """Argument-taking commands outside math replaced by what they show, one at a time,
    the argument found by counting braces (so it may hold math or other commands)."""
    for _ in range(200):  # bounded: a hostile text cannot make this loop long
        for m in _CMD_ARG.finditer(text):
            name = m.group(1)
            if name in _EMPH | _KEEP_ARG | _FIRST_DROPPED | _DROPPED | _FOOTNOTE and _outside_math(text, m.start()):
                break
        else:
            m = None
        if m is None:
            s = next((s for s in _SWITCH_ARG.finditer(text) if _outside_math(text, s.start())), None)
            if s is None:
                return text
            close = closing_brace(text, s.end())
            if close < 0:
                return text[:s.start()] + text[s.end():]
            inner = text[s.end():close]
            if s.group(1) in _EMPH:
                inner = open_emph + inner + close_emph
            text = text[:s.start()] + inner + text[close + 1:]
            continue
        name = m.group(1)
        close = closing_brace(text, m.end())
        if close < 0:  # unbalanced: drop the command, keep the rest
            text = text[:m.start()] + text[m.end():]
            continue
        inner, rest = text[m.end():close], text[close + 1:]
        if name in _FIRST_DROPPED:
            nxt = re.match(r"\s*\{", rest)
            if nxt:
                second = closing_brace(rest, nxt.end())
                if second >= 0:
                    inner, rest = rest[nxt.end():second], rest[second + 1:]
        if name in _EMPH:
            inner = open_emph + inner + close_emph
        elif name in _DROPPED:
            inner = ""
        elif name in _FOOTNOTE:
            inner = f" ({inner})"
        text = text[:m.start()] + inner + rest
    return text


def _clean_segment(text: str) -> str:
    """One stretch of text outside math (commands taking arguments already unwrapped)."""
    if "\\" not in text and "~" not in text and "--" not in text and "`" not in text and "''" not in text \
            and "{" not in text:
        return text
    text = _ACCENT.sub(_accent, text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _WORD.sub(lambda m: _WORDS[m.group(1)], text)
    text = _SYMBOL.sub(lambda m: _SYMBOLS[m.group(1)], text)
    for _ in range(8):
        before = text
        text = _BRACES.sub(r"\1", text)
        if text == before:
            break
    text = _SPACES.sub(" ", text)
    text = _TIE.sub(" ", text)
    text = _ESCAPED.sub(r"\1", text)
    text = text.replace("``", "“").replace("''", "”")
    text = text.replace("---", "—").replace("--", "–")
    return text


def _pieces(text: str, clean: Callable[[str], str], math: Callable[[re.Match], str]) -> str:
    out: list[str] = []
    pos = 0
    for m in MATH.finditer(text):
        out.append(clean(text[pos:m.start()]))
        out.append(math(m))
        pos = m.end()
    out.append(clean(text[pos:]))
    return "".join(out)


def _plain(text: str | None, math: Callable[[re.Match], str]) -> str:
    """``text`` with the TeX markup outside math replaced by what it means, each math
    segment given to ``math``."""
    if not text:
        return ""
    text = text.replace(_OPEN_EMPH, "").replace(_CLOSE_EMPH, "")
    if "$" not in text and "\\" not in text:  # no math, no command (most abstracts): one segment
        return _clean_segment(text)
    if "\\" in text:
        text = _unwrap(text, "", "")
    return _pieces(text, _clean_segment, math)


@lru_cache(maxsize=4096)  # the abstracts of hot pages and search results; bounded memory
def clean_tex(text: str | None) -> str:
    """``text`` with the TeX markup outside math replaced by what it means; math as written."""
    return _plain(text, lambda m: m.group(0))


def math_source(m: re.Match) -> str:
    """The TeX of a ``MATH`` match, without its delimiters."""
    return m.group("dd") or m.group("d") or m.group("p") or m.group("b") or ""


def clean_tex_with(text: str | None, math: Callable[[str], str]) -> str:
    """``clean_tex``, with each math segment's TeX (delimiters dropped) given to ``math``."""
    return _plain(text, lambda m: math(math_source(m)))


def clean_tex_html(text: str | None, math: Callable[[re.Match], str] | None = None) -> str:
    """Escaped HTML of ``text`` cleaned of TeX: emphasis as ``<em>``, each math segment
    given to ``math`` (which must return safe HTML; default: its escaped source)."""
    if not text:
        return ""
    text = text.replace(_OPEN_EMPH, "").replace(_CLOSE_EMPH, "")
    if "\\" in text:
        text = _unwrap(text, _OPEN_EMPH, _CLOSE_EMPH)

    def math_part(m: re.Match) -> str:
        source = m.group(0)
        if _OPEN_EMPH in source or _CLOSE_EMPH in source:  # emphasis spanning into math: dropped there
            m = MATH.match(source.replace(_OPEN_EMPH, "").replace(_CLOSE_EMPH, "")) or m
        return (math or (lambda x: str(escape(x.group(0)))))(m)

    out = _pieces(text, lambda seg: str(escape(_clean_segment(seg))), math_part)
    # Only balanced pairs of marks become tags; the marks cannot come from the input (removed
    # above), nor from the math's HTML (removed from its source).
    out = re.sub(f"{_OPEN_EMPH}([^{_OPEN_EMPH}{_CLOSE_EMPH}]*){_CLOSE_EMPH}", r"<em>\1</em>", out)
    return out.replace(_OPEN_EMPH, "").replace(_CLOSE_EMPH, "")


_COMMAND = re.compile(r"\\([A-Za-z]+)")


def leftover_commands(text: str | None) -> list[str]:
    """The ``\\commands`` left outside math (for ``bench/tex_leftovers.py``)."""
    if not text:
        return []
    return _COMMAND.findall(MATH.sub(" ", text))

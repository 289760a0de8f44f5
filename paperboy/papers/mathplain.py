"""TeX math as plain Unicode text, for the places that cannot render it.

A feed reader, a mail client, an inbox's subject line and a link preview show text, not
MathML. Before this they showed the source with the dollars dropped
("X^{2}-Gaussian", "\\mathcal{O}(T) Complexity", "360^\\circ Scenes"); a reader now sees
"X²-Gaussian", "𝒪(T) Complexity", "360° Scenes".

pylatexenc turns the commands into their symbols (``\\times`` ×, ``\\mathcal{O}`` 𝒪,
``\\text{…}``, ``\\log``). It leaves ``^`` and ``_`` as they are, so scripts are read here
first: one whose every character has a Unicode superscript or subscript becomes those
(``10^{-3}`` 10⁻³, ``x_{ij}`` xᵢⱼ, ``^{th}`` ᵗʰ), and any other keeps its mark, with
parentheses when it is more than one word (``ℝ^(n×d)``, ``C_detect``). What cannot be
read is left as written: never a lost formula, never an error.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
from pylatexenc.latexwalker import LatexWalker
from pylatexenc.latexwalker import get_default_latex_context_db as default_parsing_context
from pylatexenc.macrospec import MacroSpec

from paperboy.papers.textclean import clean_tex_with, closing_brace

_MAX_FORMULA = 2_000  # longer "math" is a stray dollar's doing: left as written
_MAX_DEPTH = 6  # scripts within scripts; a hostile text cannot recurse further

_SUPERSCRIPT = dict(zip("0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW*′",
                        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ*′", strict=True))
_SUBSCRIPT = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))
# Superscripts that stand for a symbol of their own rather than a raised one.
_SYMBOL_SCRIPTS = {r"\circ": "°", r"\prime": "′", r"\top": "ᵀ", r"\intercal": "ᵀ", r"\dagger": "†",
                   r"\ast": "*", r"\star": "*"}
_WORDLIKE = re.compile(r"\w+")
_UNICODE = re.compile(r"\\unicode\s*\{\s*(?:x|U\+|0x)?([0-9A-Fa-f]{2,6})\s*\}")  # MathJax's \unicode{x2013}
_PERCENT = re.compile(r"(?<!\\)%")  # a TeX comment; in an abstract, a percent sign
_HREF = re.compile(r"\\href\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
# A command followed by a space: TeX drops that space, but in plain text it is what keeps
# "p \leq 10" from reading "p ≤10". An empty group ends the command and keeps the space;
# not before a brace, where the command's argument follows.
_COMMAND_SPACE = re.compile(r"(\\[A-Za-z]+) (?=\s*[^\s{])")
# Operator names TeX spaces from what is beside them ("O(n log log n)", not "O(nloglog n)").
_NAMES = "log|ln|lg|exp|sin|cos|tan|sinh|cosh|tanh|arcsin|arccos|arctan|det|dim|ker|max|min|sup|inf|lim|arg|gcd|Pr|deg"
_NAME_AFTER_WORD = re.compile(r"(?<=[A-Za-z0-9)\]}])\\(" + _NAMES + r")(?![A-Za-z])")
_NAME_BEFORE_WORD = re.compile(r"\\(" + _NAMES + r")(?![A-Za-z])(?=[A-Za-z0-9\\])")


def _grouped(part: str) -> str:
    return part if len(part) <= 1 or _WORDLIKE.fullmatch(part) else f"({part})"


class _Unknown(Exception):
    """A command pylatexenc neither reads nor has text for: its stretch is kept as written."""


def _unknown(node, l2tobj) -> str:
    # One whose arguments were read (\boldsymbol{x}, \underline{x}) shows them; one
    # that was not read at all (\projectname, a macro of the paper's own) would be lost.
    args = [a for a in (node.nodeargd.argnlist if node.nodeargd else ()) if a is not None]
    if not args:
        raise _Unknown(node.macroname)
    return "".join(l2tobj.nodelist_to_text([a]) for a in args)


def _two(n, l2tobj) -> list[str]:
    return [l2tobj.nodelist_to_text([a]).strip() for a in n.nodeargd.argnlist[-2:] if a is not None]


_SHOWN = ("texttt", "textsf", "textrm", "textnormal", "mathtt", "mathsf", "boldsymbol", "bm", "pmb")
# Commands pylatexenc reads without text, or writes ambiguously: \frac's parts in
# parentheses where they are more than a word ("(a+b)/c", not "a+b/c"), \binom in words.
_TEXT_SPECS = [
    *(MacroTextSpec(name, simplify_repl=lambda n, l2tobj: "/".join(_grouped(p) for p in _two(n, l2tobj)))
      for name in ("frac", "dfrac", "tfrac")),
    MacroTextSpec("binom", simplify_repl=lambda n, l2tobj: "({} choose {})".format(*_two(n, l2tobj))),
    *(MacroTextSpec(name, "%(1)s") for name in _SHOWN),
    MacroTextSpec("ne", "≠"), MacroTextSpec("iff", "⟺"), MacroTextSpec("implies", "⟹"),
    MacroTextSpec("coloneqq", "≔"), MacroTextSpec("triangleq", "≜"), MacroTextSpec("deg", "deg"),
    MacroTextSpec("bigstar", "★"),
    *(MacroTextSpec(name, name) for name in ("arg", "gcd", "lcm", "Pr", "det")),
    *(MacroTextSpec(switch, "") for switch in ("bf", "it", "rm", "sf", "tt", "cal", "em", "bfseries")),
    *(MacroTextSpec(size, "") for size in ("left", "right", "middle", "big", "Big", "bigg", "Bigg", "bigl", "bigr",
                                            "Bigl", "Bigr", "biggl", "biggr", "textstyle", "displaystyle")),
]
_ARGUMENT_SPECS = [MacroSpec("binom", "{{"), MacroSpec("dfrac", "{{"), MacroSpec("tfrac", "{{"),
                   *(MacroSpec(name, "{") for name in _SHOWN)]


def _text_context():
    db = get_default_latex_context_db().filter_context()
    db.add_context_category("paperboy", prepend=True, macros=_TEXT_SPECS)
    db.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=_unknown))
    return db


def _parsing_context():
    db = default_parsing_context().filter_context()
    db.add_context_category("paperboy", prepend=True, macros=_ARGUMENT_SPECS)
    return db


_TO_TEXT = LatexNodes2Text(latex_context=_text_context(), math_mode="text", strict_latex_spaces="based-on-source")
_PARSING = _parsing_context()


def _takes_arguments(name: str) -> bool:
    spec = _PARSING.get_macro_spec(name)
    return bool(spec is not None and getattr(spec.args_parser, "argspec", ""))


def _spaced(m: re.Match) -> str:
    # Not after a command that takes an argument: "\mathbb R" and "\frac 1 2" take the
    # next token as theirs, and an empty group there would be the argument instead.
    return m.group(0) if _takes_arguments(m.group(1)[1:]) else m.group(1) + "{}\\ "


def _commands(tex: str) -> str:
    """The commands of a stretch without scripts turned into text, its outer spaces kept."""
    if not tex.strip():
        return tex
    lead, trail = tex[:len(tex) - len(tex.lstrip())], tex[len(tex.rstrip()):]
    if "\\" not in tex and "{" not in tex:
        return tex
    try:
        tex = _NAME_BEFORE_WORD.sub(r"\\\1{}\\ ", _NAME_AFTER_WORD.sub(r" \\\1", tex))
        nodes = LatexWalker(_COMMAND_SPACE.sub(_spaced, tex), latex_context=_PARSING,
                            tolerant_parsing=False).get_latex_nodes()[0]
        return lead + _TO_TEXT.nodelist_to_text(nodes).strip() + trail
    except Exception:  # an unknown command, or bad TeX (pylatexenc raises many kinds): keep the source
        return tex


def _script_argument(tex: str, i: int) -> tuple[str, int]:
    """The argument of a ``^`` or ``_`` just before ``i``, and where it ends: a braced
    group, a command with the groups right after it (``\\mathrm{T}``), or one character."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        end = _group_end(tex, i)
        return tex[i + 1:end - 1], end
    if tex[i] == "\\":
        m = re.match(r"\\(?:[A-Za-z]+|.)", tex[i:])
        end = i + m.end()
        while end < len(tex) and tex[end] == "{":
            end = _group_end(tex, end)
        return tex[i:end], end
    return tex[i], i + 1


def _group_end(tex: str, i: int) -> int:
    """The index after the brace closing the group opened at ``i`` (the end if none)."""
    close = closing_brace(tex, i + 1)
    return len(tex) if close < 0 else close + 1


def _math(tex: str, depth: int = 0) -> str:
    out: list[str] = []
    start = i = braces = 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            i += 2  # a command's first character, or an escaped one (\{, \_)
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            braces -= 1
        elif c in "^_" and braces == 0:
            out.append(_commands(tex[start:i]))
            argument, end = _script_argument(tex, i + 1)
            out.append(_script(c, argument, depth))
            i = start = end
            continue
        i += 1
    out.append(_commands(tex[start:]))
    return "".join(out)


def _script(mark: str, argument: str, depth: int) -> str:
    if mark == "^" and argument.strip() in _SYMBOL_SCRIPTS:
        return _SYMBOL_SCRIPTS[argument.strip()]
    text = (_math(argument, depth + 1) if depth < _MAX_DEPTH else argument).strip()
    table = _SUPERSCRIPT if mark == "^" else _SUBSCRIPT
    if text and all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    return mark + _grouped(text) if text else ""


def _code_point(m: re.Match) -> str:
    point = int(m.group(1), 16)
    return chr(point) if point <= 0x10FFFF and chr(point).isprintable() else m.group(0)


@lru_cache(maxsize=8192)  # a formula is turned into text once
def math_text(tex: str) -> str:
    """One formula's TeX (without its delimiters) as plain Unicode text."""
    if len(tex) > _MAX_FORMULA:
        return tex
    tex = _HREF.sub(lambda m: m.group(2) if m.group(2) == m.group(1) else f"{m.group(2)} ({m.group(1)})", tex)
    tex = _UNICODE.sub(_code_point, _PERCENT.sub(r"\\%", tex))
    return " ".join(_math(tex).split()) if "\n" in tex else _math(tex).strip()


@lru_cache(maxsize=8192)  # titles and abstracts of the day's feeds and digests
def plain_text(text: str | None) -> str:
    """``text`` cleaned of TeX markup, its math as Unicode text: for feeds, mails, subject
    lines and meta tags."""
    return clean_tex_with(text, math_text).strip()

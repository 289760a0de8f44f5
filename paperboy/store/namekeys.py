"""How members' display names are compared, so that no one passes for another: the
key a name is stored with (``users.display_name_key``, indexed) and looked up by.

Two names are one when they read the same:
- compatibility forms (full-width ＡＮＡ is ANA), case and runs of spaces folded (NFKC,
  casefold);
- letters of other scripts that look like Latin ones (Cyrillic "а" in "Аna", Greek "ο")
  read as those, from Unicode's confusables list (the ``confusable-homoglyphs`` package),
  so "Аna" is taken when "Ana" is. Accented letters stay themselves: "José" and "Jose"
  are two names, as they are two people's.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from confusable_homoglyphs import confusables

MAX_KEY = 100  # as users.display_name


@lru_cache(maxsize=4096)
def _as_latin(ch: str) -> str:
    """``ch``, or the ASCII letter or digit it is made to look like."""
    found = confusables.is_confusable(ch, preferred_aliases=["latin", "common"], greedy=False)
    if not found:
        return ch
    ascii_ = [h["c"] for h in found[0]["homoglyphs"] if h["c"].isascii() and h["c"].isalnum()]
    return ascii_[0].casefold() if ascii_ else ch


def name_key(name: str) -> str:
    """The key two display names share when they would pass for one another ("" for none)."""
    folded = " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())
    return "".join(ch if ch.isascii() else _as_latin(ch) for ch in folded)[:MAX_KEY]

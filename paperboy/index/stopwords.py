"""Words too common to search for: they neither count as matches nor get highlighted.

"diffusion models for protein design" must not match every paper that says "for".
The list is short on purpose: English function words that abstracts are full of, not
words a researcher might mean ("not", "using", "without" stay: "without" is in the design's own
example query, and a phrase in quotes still searches any word exactly).
"""

from __future__ import annotations

from functools import lru_cache

STOP_WORDS = frozenset("""
a an and are as at be been being but by can could do does for from had has have how if in into is
it its of on or our so such than that the their then there these they this those to was we were what
when where which while who will with would
""".split())


@lru_cache(maxsize=1)
def stop_terms() -> frozenset[str]:
    """The stop words as the keyword index analyses them (lower-cased, stemmed)."""
    # In the function: keyword imports this module (its queries drop stop words), so a
    # module-level import here would be a cycle.
    from paperboy.index.keyword import stem

    return frozenset(t for w in STOP_WORDS for t in stem(w))


def is_stop_word(word: str) -> bool:
    return word.lower().strip(".,;:!?()[]{}'\"") in STOP_WORDS

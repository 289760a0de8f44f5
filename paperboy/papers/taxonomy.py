"""The arXiv category taxonomy, as data: which category names are real.

A category a member names (a follow, a digest's categories) is accepted when arXiv has
that category (this list) or when a stored paper carries it (an instance may hold
categories newer than this list): ``category_name``. Names
are matched without regard to case and answered in arXiv's own spelling (``cs.lg`` is
``cs.LG``). Source: https://arxiv.org/category_taxonomy, including the archives of
old-style identifiers (``hep-th``, ``solv-int``...) that papers before 2007 carry.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperboy.store.models import PaperCategory

_GROUPS: dict[str, str] = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI "
          "OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG "
            "SP ST",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn "
               "gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives that are categories by themselves (no subject class), current and old-style.
_SINGLE = ("astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph nucl-ex nucl-th quant-ph "
           "acc-phys adap-org alg-geom ao-sci atom-ph bayes-an chao-dyn chem-ph cmp-lg comp-gas dg-ga "
           "funct-an mtrl-th patt-sol plasm-ph q-alg solv-int supr-con")

CATEGORIES: frozenset[str] = frozenset(
    [f"{group}.{sub}" for group, subs in _GROUPS.items() for sub in subs.split()] + _SINGLE.split()
)
_BY_FOLDED = {c.casefold(): c for c in CATEGORIES}
_ARCHIVES = {a.casefold(): a for a in [*_GROUPS, *_SINGLE.split()]}


def known_category(name: str) -> str | None:
    """arXiv's spelling of ``name`` if arXiv has such a category, else None."""
    return _BY_FOLDED.get(name.strip().casefold())


def known_listing(name: str) -> str | None:
    """arXiv's spelling of a category, or of a whole archive as the arXiv API takes it
    (``cs.*``), else None."""
    if name.endswith(".*"):
        archive = _ARCHIVES.get(name[:-2].strip().casefold())
        return archive + ".*" if archive else None
    return known_category(name)


def category_name(db: Session, typed: str) -> str | None:
    """The category's proper spelling if arXiv or a stored paper has it, else None."""
    typed = typed.strip()
    if not typed or len(typed) > 40:
        return None
    stored = db.scalar(select(PaperCategory.category).where(PaperCategory.category == typed).limit(1))
    if stored is not None:
        return stored
    known = known_category(typed)
    if known is not None:
        return known
    # Any spelling of a stored category (cs.lg for cs.LG) when arXiv's list lacks it.
    return db.scalar(select(PaperCategory.category)
                     .where(func.lower(PaperCategory.category) == typed.lower()).limit(1))

"""How many bytes a signed-in member's daily page weighs against an anonymous reader's,
as the member's number of collections grows (each card carries the member's save menu).

    PYTHONPATH=. .venv/bin/python bench/member_page_size.py [--collections 0,5,20,50] [--papers 50]

An in-process app on a fresh SQLite database under a temporary directory: ``--papers``
papers of one day (the page shows 50), a member with N collections (three of them
holding the first ten papers), the page fetched twice (the second from the page cache,
as a member mostly gets it). Prints the bytes of ``/`` for the member and for an
anonymous reader, and the member's bytes per card above the anonymous page. Sizes
only: no timing, so the machine's load does not matter.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import Session  # noqa: E402

from paperboy.config import Settings  # noqa: E402
from paperboy.site import create_app  # noqa: E402
from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.migrate import upgrade  # noqa: E402
from paperboy.store.models import Collection, CollectionItem  # noqa: E402
from tests.community.conftest import Site  # noqa: E402
from tests.support.factories import make_paper  # noqa: E402


def measure(collections: int, papers: int) -> tuple[int, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/paperboy.db"
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(data_dir=Path(tmp), secret_key="bench", mail_backend="null", embedder="null")
        site = Site(create_app(settings, engine), engine)
        with Session(engine) as db:
            stored = [make_paper(db, title=f"A paper title of ordinary length about subject {i} and its results").id
                      for i in range(papers)]
            db.commit()
        user, member = site.member()
        with Session(engine) as db:
            for k in range(collections):
                coll = Collection(user_id=user.id, name=f"Reading list {k}", is_public=False)
                db.add(coll)
                db.flush()
                if k < 3:
                    db.add_all(CollectionItem(collection_id=coll.id, paper_id=pid) for pid in stored[:10])
            db.commit()
        anonymous = site.client().get("/")
        page = [member.get("/") for _ in range(2)][-1]
        cards = page.text.count("<article")
        engine.dispose()
        return len(page.content), len(anonymous.content), cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collections", default="0,5,20,50")
    parser.add_argument("--papers", type=int, default=50)
    args = parser.parse_args()
    print("collections | member / (bytes) | anonymous / (bytes) | cards | member bytes per card above anonymous")
    for n in (int(x) for x in args.collections.split(",")):
        member, anonymous, cards = measure(n, args.papers)
        print(f"{n:11d} | {member:16,d} | {anonymous:19,d} | {cards:5d} | {(member - anonymous) / max(cards, 1):,.0f}")


if __name__ == "__main__":
    main()

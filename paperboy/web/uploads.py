"""The arXiv ids a member's form sends: ids or links pasted in a box and a BibTeX file
uploaded beside it (For you's seed papers, a collection's import). One reader and one set
of limits and messages for every such form; the route decides what the ids are for.
BibTeX entries without an arXiv id whose paper this instance holds are found here by
title (``papers_sent``); the rest are for a worker to look up on arXiv."""

from __future__ import annotations

import anyio
from fastapi import UploadFile
from starlette.exceptions import HTTPException

from paperboy.papers import references
from paperboy.papers.queries import titles_and_authors

NO_ARXIV_ID = ("No arXiv id found. Paste ids such as 2403.01234 or arxiv.org/abs/… links, or upload a BibTeX "
               "file whose entries have an eprint, an arXiv URL or an arXiv DOI.")


async def arxiv_ids_sent(pasted: str, bibtex: UploadFile | None) -> references.Found:
    """The arXiv ids in the pasted text and the uploaded file (none found is the caller's
    to answer, with ``NO_ARXIV_ID``); 413 for a file or a paste over ``references.MAX_BYTES``.
    The route is marked ``security.takes_uploads(references.UPLOAD_BYTES)`` so that such a
    body reaches it."""
    uploaded = ""
    if bibtex is not None and bibtex.filename:
        raw = await bibtex.read(references.MAX_BYTES + 1)
        if len(raw) > references.MAX_BYTES:
            raise HTTPException(413, f"That file is over {references.MAX_BYTES // 1_000_000} MB; export fewer entries.")
        uploaded = raw.decode("utf-8", errors="replace")
    if len(pasted) > references.MAX_BYTES:
        raise HTTPException(413, "That is too much text; paste fewer ids.")
    # In a worker thread: a 2 MB library takes a few tenths of a second to read, which
    # on the event loop every other request would wait for.
    return await anyio.to_thread.run_sync(references.read_seeds, pasted, uploaded)


async def papers_sent(request, db, pasted: str, bibtex: UploadFile | None) -> references.Found:
    """``arxiv_ids_sent``, with the BibTeX entries without an arXiv id whose paper this
    instance holds and shows found by title at once (``find_stored_titles``): their ids
    join ``found.ids``; the other entries stay in ``found.titles``."""
    found = await arxiv_ids_sent(pasted, bibtex)
    if found.titles:
        await anyio.to_thread.run_sync(find_stored_titles, request.app.state.search, db, found)
    return found


def find_stored_titles(search, db, found: references.Found) -> int:
    """Move the entries of ``found.titles`` whose paper is stored here (the keyword index's
    title phrases, then ``references.names_paper`` on the stored title and authors) into
    ``found.ids``; how many. Quick: one keyword query per 100 titles, one read."""
    candidates = titles_and_authors(db, search.titled([t.title for t in found.titles]))
    by_key: dict[str, list[tuple[str, str, list[str]]]] = {}
    for arxiv_id, title, authors in candidates:
        by_key.setdefault(references.title_key(title), []).append((arxiv_id, title, authors))
    left = []
    for ref in found.titles:
        hit = next((a for a, title, authors in by_key.get(ref.key, ())
                    if references.names_paper(ref.key, ref.first_author, title, authors)), None)
        if hit is None:
            left.append(ref)
        else:
            found.add(hit)
            found.found_by_title += 1
    found.titles = left
    return found.found_by_title

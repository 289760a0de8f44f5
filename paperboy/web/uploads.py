"""The arXiv ids a member's form sends: ids or links pasted in a box and a BibTeX file
uploaded beside it (For you's seed papers, a collection's import). One reader and one set
of limits and messages for every such form; the route decides what the ids are for."""

from __future__ import annotations

import anyio
from fastapi import UploadFile
from starlette.exceptions import HTTPException

from paperboy.papers import references

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

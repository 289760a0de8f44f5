"""``/replies``: what others said to a member (replies to their comments, new threads on
papers they submitted), newest first; the same the reply mails tell (``replies.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from paperboy.community import replies
from paperboy.store.db import write_tx
from paperboy.store.models import User, utcnow
from paperboy.web.deps import get_db
from paperboy.web.security import forget_member, require_user

router = APIRouter()
PAGE = 30


@router.get("/replies", response_class=HTMLResponse)
def replies_page(request: Request, p: int = Query(1, ge=1, le=10_000), user: User = Depends(require_user),
                 db: Session = Depends(get_db, scope="function")):
    seen_at, read_before = utcnow(), user.replies_read_at
    items, total = replies.replies_to(db.connection(), user.id, limit=PAGE, offset=(p - 1) * PAGE)
    # New: what came since the member last opened the first page (what the badge counted).
    new = {r.comment_id for r in items if read_before is None or r.created_at > read_before}
    if p == 1 and (user.unread_replies or new):
        db.close()  # one pooled connection at a time: the read's goes back first
        with write_tx(request.app.state.engine) as conn:  # on the primary (this GET may read a replica)
            replies.mark_replies_read(conn, user.id, seen_at)
        user.unread_replies = 0  # the header of this very page shows no badge
        forget_member(user.id)  # nor does this process's next page
    pages = max(1, -(-total // PAGE))
    pager = {"page": p, "pages": pages, "prev_url": f"/replies?p={p - 1}" if p > 1 else None,
             "next_url": f"/replies?p={p + 1}" if p < pages else None}
    return request.app.state.templates.TemplateResponse(request, "community/replies.html", {
        "items": items, "total": total, "pager": pager, "mails_on": user.reply_mails, "new": new})

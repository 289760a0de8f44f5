"""One-line notices after a form is sent without JavaScript ("You now follow X.").

A redirect carries a short code (``?notice=followed``), never the message itself, so a
link cannot make the site say anything it would not; names in a message come from the
page's own data (the author's heading, the member's own collection).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from paperboy.community.helpers import is_following, user_collections

# code: (message naming its object, message when the object cannot be vouched for)
MESSAGES = {
    "followed": ("You now follow {name}: {their} new papers appear on your Following page.", "Followed."),
    "unfollowed": ("You no longer follow {name}.", "Unfollowed."),
    "saved": ("Saved to {name}.", "Saved."),
    "unsaved": ("Removed from {name}.", "Removed from the collection."),
    "wanted_queued": ("That paper is not on this instance yet: it is being fetched from arXiv and will be saved "
                      "in {name} within a minute.", "That paper is not on this instance yet: it is being fetched "
                      "from arXiv and will be saved within a minute."),
    "wanted_cleared": ("The papers that could not be fetched are forgotten.",) * 2,
    "not_an_id": ("That is not an arXiv id or link: give one like 2501.01234 or https://arxiv.org/abs/2501.01234.",) * 2,
    "not_here": ("That paper is not on this instance, and this instance does not fetch papers from arXiv.",) * 2,
    "hidden": ("The paper is hidden: it is listed under Hidden papers below, where Unhide brings it back.",) * 2,
    "unhidden": ("The paper is visible again.",) * 2,
    "submitted": ("Submitted: the paper is in today's feed, marked as submitted by you.",) * 2,
    # PAPERBOY_FEED_MODE=all lists every paper on the day arXiv announced it, submitted or not.
    "submitted_listed": ("Submitted: the paper is marked as submitted by you, and you are told of each new "
                         "discussion of it; the daily feed keeps it on the day arXiv announced it.",) * 2,
    "comment_hidden": ("The comment is hidden: only moderators see it now.",) * 2,
    "comment_shown": ("The comment is shown again.",) * 2,
    "suspended": ("The member is suspended: they can read, but not vote, save, comment or submit.",) * 2,
    "unsuspended": ("The member can take part again.",) * 2,
    "suspended_hidden": ("The member is suspended and every comment of theirs is hidden: only moderators see "
                         "them now.",) * 2,
    "comments_hidden": ("Every comment of the member's is hidden: only moderators see them now.",) * 2,
    "public": ("Saved: the collection is public, so anyone with its address can read it.",) * 2,
    "private": ("Saved: the collection is private, seen by you alone.",) * 2,
    "existing": ("You already have {name}: here it is.", "You already have a collection of that name: here it is."),
    "collection_deleted": ("The collection is deleted (the papers in it are not).",) * 2,
}


def with_notice(url: str, code: str, **params: str) -> str:
    """``url`` with ``notice=code`` (and ``params``) in its query, any old notice replaced."""
    parts = urlsplit(url)
    drop = {"notice", "who", "kind", "in", *params}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in drop]
    query += [("notice", code), *params.items()]
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


def notice(request, allowed: list[str] | tuple[str, ...] = ()) -> str:
    """The message for the request's notice code, or "" (unknown codes say nothing).

    A name from the query is shown only when it is true: "followed" names a follow the
    member has, "unfollowed" one they do not have that the page itself shows (``allowed``:
    its author, its paper's authors and categories), "saved" one of their own collections."""

    params = request.query_params
    pair = MESSAGES.get(params.get("notice", ""))
    if pair is None:
        return ""
    named, plain = pair
    who, kind = params.get("who", ""), params.get("kind", "")
    name = ""
    if who and kind in ("author", "category"):
        following = is_following(request, kind, who)
        if following if params["notice"] == "followed" else (who in allowed and not following):
            name = who
    elif params.get("in"):
        name = next((f"“{c.name}”" for c in user_collections(request) if str(c.id) == params["in"]), "")
    return named.format(name=name, their="its" if kind == "category" else "their") if name else plain

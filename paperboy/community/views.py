"""Routes for accounts, votes, submissions, comments and replies, collections, follows, moderation."""

from fastapi import APIRouter

from paperboy.community import (
    account_views,
    admin_views,
    collection_views,
    paper_views,
    profile_views,
    reply_views,
    token_views,
)

router = APIRouter(include_in_schema=False)
for _module in (account_views, token_views, paper_views, profile_views, reply_views, collection_views, admin_views):
    router.include_router(_module.router)

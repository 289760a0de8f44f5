"""Request dependencies shared by every router: a database session per request."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from paperboy.config import Settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings

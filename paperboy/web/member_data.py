"""The rows each feature keeps about a member, for "download my data" and account deletion.

A feature hands the app factory its ``MemberDataPart`` (``Feature.member_data``); the
account pages export and delete through ``parts()``, so the community feature never
imports another feature (the digest's subscriptions, for one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class MemberDataPart:
    name: str  # the key of this part in the export
    export: Callable[[Session, int], Any]  # (db, user_id) -> JSON-able rows
    remove: Callable[[Session, int], None]  # (db, user_id): delete them, in the caller's transaction
    address_changed: Callable[[Session, int, str, str], None] | None = None  # (db, user_id, old, new)


_PARTS: dict[str, MemberDataPart] = {}


def register(part: MemberDataPart) -> None:
    """Add a part (idempotent by name: an app built twice registers it once)."""
    _PARTS[part.name] = part


def parts() -> tuple[MemberDataPart, ...]:
    return tuple(_PARTS.values())


def address_changed(db: Session, user_id: int, old: str, new: str) -> None:
    """A member's new address was verified: every part that follows it moves."""
    for part in parts():
        if part.address_changed is not None:
            part.address_changed(db, user_id, old, new)

"""A member's private For you feed address: ``/feeds/for-you/{key}.atom`` (or ``.rss``).

The key is the member's id and an HMAC of (member, address version) under the site's
secret key, so it is shown again whenever the member looks (nothing secret is stored),
nobody can make one for another member, and bumping ``ForYouPrefs.feed_version`` ends
every address made before. Changing ``PAPERBOY_SECRET_KEY`` ends them all, as it ends
sessions and mail links.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_KEY = re.compile(r"([1-9][0-9]{0,17})-([0-9a-f]{32})")


def _signature(secret: str, user_id: int, version: int) -> str:
    message = f"paperboy.for-you-feed:{user_id}:{version}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]  # 128 bits


def feed_key(secret: str, user_id: int, version: int) -> str:
    return f"{user_id}-{_signature(secret, user_id, version)}"


def member_of(key: str) -> int | None:
    """The member id a well-formed key names (not yet checked), else None."""
    m = _KEY.fullmatch(key)
    return int(m.group(1)) if m else None


def key_ok(secret: str, key: str, user_id: int, version: int) -> bool:
    return hmac.compare_digest(key, feed_key(secret, user_id, version))

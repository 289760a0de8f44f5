"""Signed links of a subscription: confirm, unsubscribe, settings (and preview).

Each link carries the subscription's random ``token`` signed with the instance's secret
key and a salt per purpose, so a link for one purpose never works for another, and
nobody can forge one without the key. Rotating ``Subscription.token`` revokes them all.
"""

from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

from paperboy.config import Settings

PURPOSES = ("confirm", "unsubscribe", "settings")


def _serializer(settings: Settings, purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return _cached_serializer(settings.resolved_secret_key(), purpose)


@lru_cache(maxsize=64)
def _cached_serializer(key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=f"paperboy.digest.{purpose}")


def sign(settings: Settings, purpose: str, *payload: str) -> str:
    return _serializer(settings, purpose).dumps(list(payload))


def unsign(settings: Settings, purpose: str, signed: str) -> list[str] | None:
    """The payload, or None when the link was not made by this instance for this purpose."""
    try:
        value = _serializer(settings, purpose).loads(signed)
    except BadSignature:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def links(settings: Settings, token: str, confirm_nonce: str | None = None) -> dict[str, str]:
    """Absolute URLs for one subscription."""
    base = settings.resolved_base_url
    manage = sign(settings, "settings", token)
    out = {
        "unsubscribe": f"{base}/subscriptions/unsubscribe/{sign(settings, 'unsubscribe', token)}",
        "settings": f"{base}/subscriptions/{manage}/settings",
        "preview": f"{base}/subscriptions/{manage}/preview",
    }
    if confirm_nonce:
        out["confirm"] = f"{base}/subscriptions/confirm/{sign(settings, 'confirm', token, confirm_nonce)}"
    return out

"""Email addresses: one validator for every form, and the one envelope recipient of a
message.

Validation is email-validator's (RFC 5321/5322 as mail servers accept them, no quoted
local parts, no domain literals, no DNS look-up), so display names, groups, comments
and routing tricks such as ``a,b:victim@example.org`` never reach the store. The SMTP
sender takes the envelope recipient from the message's single To address and refuses
anything else, so a header that parses as several addresses can never widen delivery.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254


class AddressError(ValueError):
    """Not a single, plain email address; the message is safe to show."""


def mail_domain(sender: str) -> str:
    """The domain of a From address ("Paperboy <digest@lab.example.org>"), which names
    the Message-IDs it sends; "localhost" when it has none."""
    return sender.rsplit("@", 1)[-1].rstrip(">").strip() or "localhost"


def normalise_address(raw: str) -> str:
    """The address as stored: validated, domain lower-cased, surrounding space removed."""
    text = (raw or "").strip()
    if not text:
        raise AddressError("Please enter an email address.")
    if len(text) > MAX_LENGTH:
        raise AddressError("That email address is too long.")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False,
                               allow_quoted_local=False, allow_domain_literal=False,
                               allow_display_name=False)
    except EmailNotValidError as exc:
        raise AddressError(f"{text[:100]!r} is not an email address: {exc}") from None
    return valid.normalized


def sole_recipient(message: EmailMessage) -> str:
    """The one address a message may be delivered to: its To header must name exactly
    one valid address (and no group), else the message is refused."""
    values = message.get_all("To") or []
    pairs = getaddresses([str(v) for v in values])
    if len(values) != 1 or len(pairs) != 1 or ":" in str(values[0]).split("<")[0]:
        raise AddressError(f"refusing to send: To must name exactly one address, got {values!r}")
    address = pairs[0][1]
    if normalise_address(address) != address.strip():
        raise AddressError(f"refusing to send to {address!r}")
    return address

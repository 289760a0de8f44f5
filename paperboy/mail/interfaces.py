"""The mail sender interface. Implementations are chosen by a setting at start-up."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class MailError(Exception):
    """Sending failed."""


class TransientMailError(MailError):
    """Worth retrying later (connection refused, 4xx reply, time-out)."""


class PermanentMailError(MailError):
    """Retrying will not help (5xx reply: unknown recipient, rejected message)."""


class MailSender(Protocol):
    name: str

    def send(self, message: EmailMessage) -> None:
        """Deliver one complete message (From, To, Subject, Message-ID set by the caller)."""

"""The mail sender interface. Implementations are chosen by a setting at start-up."""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage
from typing import Protocol


class MailError(Exception):
    """Sending failed."""


class TransientMailError(MailError):
    """Worth retrying later (connection refused, 4xx reply, time-out)."""


class PermanentMailError(MailError):
    """Retrying will not help (5xx reply: unknown recipient, rejected message)."""


class SendErrors(Counter):
    """Why sends failed in a delivery pass: each error's text (its first 300 characters),
    how many times; the digest and mail outboxes count into one, and ``most_common``
    gives what the operator is told first."""

    def note(self, error: str) -> None:
        self[error[:300]] += 1


class MailSender(Protocol):
    name: str

    def send(self, message: EmailMessage) -> None:
        """Deliver one complete message (From, To, Subject, Message-ID set by the caller)."""

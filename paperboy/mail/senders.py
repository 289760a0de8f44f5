"""Mail senders: SMTP (real delivery), console (prints), null (keeps in memory)."""

from __future__ import annotations

import smtplib
import ssl
import sys
import threading
import time
from email import message_from_bytes
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from paperboy.config import ConfigError, Settings
from paperboy.mail.addresses import AddressError, sole_recipient
from paperboy.mail.interfaces import MailError, MailSender, PermanentMailError, TransientMailError
from paperboy.mail.render import MAIL_POLICY


class ConsoleSender:
    """Prints each message to stderr: the default when no SMTP server is configured."""

    name = "console"

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr

    def send(self, message: EmailMessage) -> None:
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        print(
            f"--- mail (console sender) ---\nTo: {message['To']}\nSubject: {message['Subject']}\n\n{text}\n---",
            file=self.stream,
            flush=True,
        )


class NullSender:
    """Keeps messages in memory; for tests and for instances that send nothing."""

    name = "null"

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self.outbox.append(message)


class SMTPSender:
    """Delivers through an SMTP server given as ``smtp://user:pass@host:587?starttls=1``.

    ``smtps://`` means implicit TLS (port 465). Failures are classified so callers can
    retry transient ones and stop on permanent ones.
    """

    name = "smtp"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigError(f"PAPERBOY_SMTP_URL must start with smtp:// or smtps://, got {url!r}")
        if not parts.hostname:
            raise ConfigError("PAPERBOY_SMTP_URL names no host")
        query = parse_qs(parts.query)
        self.host = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            conn.starttls(context=ssl.create_default_context())
        return conn

    def _open(self) -> smtplib.SMTP:
        conn = self._connect()
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def send(self, message: EmailMessage) -> None:
        try:
            conn = self._open()
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise _connect_error(self, exc) from exc
        to = _envelope_recipient(message)
        with conn:
            _deliver(self, lambda c: c.send_message(message, to_addrs=[to]), conn)

    def session(self) -> SMTPSession:
        """A connection kept open across many ``send`` calls (for batches such as digests)."""
        return SMTPSession(self)


class SMTPSession:
    """Sends many messages over one SMTP connection, reopening it when needed.

    A failed transaction (4xx/5xx reply) leaves the connection usable (smtplib resets
    it); a broken or idle connection is replaced before the next message. A message is
    never re-sent here: every failure is raised to the caller, who decides.
    """

    max_per_connection = 1000
    max_idle_seconds = 10.0

    def __init__(self, sender: SMTPSender) -> None:
        self.sender = sender
        self.conn: smtplib.SMTP | None = None
        self.count = 0
        self.last_used = 0.0
        self.connections = 0

    def __enter__(self) -> SMTPSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def send(self, message: EmailMessage) -> None:
        to = _envelope_recipient(message)
        self._send(lambda conn: conn.send_message(message, to_addrs=[to]))

    def send_raw(self, mail_from: str, to: list[str], data: bytes) -> None:
        """Send an already serialised message (CRLF line ends): batch senders skip re-parsing."""
        self._send(lambda conn: conn.sendmail(mail_from, to, data))

    def _send(self, transaction) -> None:
        now = time.monotonic()
        if self.conn is not None and (
            self.count >= self.max_per_connection or now - self.last_used > self.max_idle_seconds
        ):
            self.close()
        if self.conn is None:
            try:
                self.conn = self.sender._open()
            except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                raise _connect_error(self.sender, exc) from exc
            self.count = 0
            self.connections += 1
        self.count += 1
        self.last_used = now
        try:
            _deliver(self.sender, transaction, self.conn)
        except MailError as exc:
            cause = exc.__cause__
            if not isinstance(cause, smtplib.SMTPResponseException) or cause.smtp_code == 421:
                # Broken, closed or time-out: this connection is no longer trusted.
                conn, self.conn = self.conn, None
                conn.close()
            raise


class _SingleSession:
    """The session shape for senders without connections (console, null)."""

    def __init__(self, sender: MailSender) -> None:
        self.sender = sender

    def __enter__(self) -> _SingleSession:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def send(self, message: EmailMessage) -> None:
        self.sender.send(message)

    def send_raw(self, mail_from: str, to: list[str], data: bytes) -> None:
        self.sender.send(message_from_bytes(data, policy=MAIL_POLICY))


def open_session(sender: MailSender):
    """A context manager with ``send(message)`` and ``send_raw(mail_from, to, data)``,
    pooling connections when the sender can."""
    factory = getattr(sender, "session", None)
    return factory() if factory is not None else _SingleSession(sender)


def _envelope_recipient(message: EmailMessage) -> str:
    """RCPT TO comes from the message's one To address, never from a parse of whatever
    the header holds (a group such as ``a,b:victim@x`` would name several)."""
    try:
        return sole_recipient(message)
    except AddressError as exc:
        raise PermanentMailError(str(exc)) from None


def _connect_error(sender: SMTPSender, exc: BaseException) -> MailError:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _classify(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}")
    return TransientMailError(f"cannot connect to {sender.host}:{sender.port}: {exc}")


def _deliver(sender: SMTPSender, transaction, conn: smtplib.SMTP) -> None:
    try:
        refused = transaction(conn)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _classify(min(codes), f"recipient refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        raise _classify(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TransientMailError(f"cannot deliver through {sender.host}:{sender.port}: {exc}") from exc
    if refused:
        codes = [code for code, _ in refused.values()]
        raise _classify(min(codes), f"recipient refused: {refused}")


def _classify(code: int, text: str) -> TransientMailError | PermanentMailError:
    return PermanentMailError(text) if 500 <= code < 600 else TransientMailError(text)


def get_mail_sender(settings: Settings) -> MailSender:
    """The sender the settings ask for: smtp when a URL is set, else console."""
    backend = settings.resolved_mail_backend
    if backend == "smtp":
        if not settings.smtp_url:
            raise ConfigError("PAPERBOY_MAIL_BACKEND=smtp needs PAPERBOY_SMTP_URL")
        return SMTPSender(settings.smtp_url)
    if backend == "console":
        return ConsoleSender()
    if backend == "null":
        return NullSender()
    raise ConfigError(f"PAPERBOY_MAIL_BACKEND must be smtp, console or null, got {backend!r}")

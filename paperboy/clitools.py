"""Shared CLI plumbing: the console, progress bars, settings and engine for commands."""

from __future__ import annotations

from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.engine import Engine

from paperboy.config import ConfigError, Settings, get_settings
from paperboy.mail.addresses import mail_domain
from paperboy.mail.interfaces import MailSender
from paperboy.mail.senders import get_mail_sender
from paperboy.papers.taxonomy import known_listing
from paperboy.store.db import get_engine
from paperboy.store.migrate import current_revision, upgrade

console = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error and return the Exit to raise."""
    # soft_wrap: one line however narrow the console; a script reading stderr (or a
    # terminal, which wraps by itself) gets the message whole.
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        raise fail(str(exc)) from None


LOOPBACK = ("127.0.0.1", "localhost", "::1")
SECRET_KEY_MIN = 32  # secrets.token_urlsafe(32) is 43


def start_notes(s: Settings, *, schedule: bool, serving: bool) -> None:
    """What an operator should know as a long-running command starts: settings that
    leave something silently undone."""
    if schedule and not s.categories.split():
        console.print("[yellow]note:[/] the schedule fetches no new papers: PAPERBOY_CATEGORIES is empty "
                      '(e.g. PAPERBOY_CATEGORIES="cs.LG cs.CL")', soft_wrap=True)
    for name in s.categories.split() if schedule else ():
        right = known_listing(name)
        if right is None:
            console.print(f"[yellow]note:[/] PAPERBOY_CATEGORIES: {name!r} is not an arXiv category; the schedule "
                          "fetches nothing for it (names as on arxiv.org/category_taxonomy, e.g. cs.LG, or cs.*)",
                          soft_wrap=True)
        elif right != name:
            console.print(f"[yellow]note:[/] PAPERBOY_CATEGORIES: arXiv spells {name!r} as {right!r}; "
                          "its listings may not match the other spelling", soft_wrap=True)
    if serving and not schedule and not s.secret_key and not s.is_sqlite:
        # A web node of a cluster (docs/deploy.md) with a key of its own: a member signed
        # in through one node is signed out on the next, and forms sent to another fail.
        console.print("[yellow]note:[/] PAPERBOY_SECRET_KEY is empty: this node signs sessions and links with a key "
                      f"of its own ({s.data_dir / 'secret_key'}); every web node of an instance must be given the same "
                      "PAPERBOY_SECRET_KEY (docs/deploy.md)", soft_wrap=True)
    if 0 < len(s.secret_key) < SECRET_KEY_MIN:
        # A session cookie or a digest's unsubscribe link is the key's HMAC over a known
        # text: a short key is found offline by trying keys against one, and with it any
        # member can be signed in as (a worker signs the digests' links).
        console.print(f"[yellow]note:[/] PAPERBOY_SECRET_KEY is {len(s.secret_key)} characters: a key that short can be "
                      "guessed from one session cookie, and with it anyone signs in as any member; use "
                      f"{SECRET_KEY_MIN} or more random characters (python3 -c 'import secrets; "
                      "print(secrets.token_urlsafe(32))')", soft_wrap=True)
    if s.resolved_mail_backend == "smtp" and mail_domain(s.mail_from).lower() == "localhost":
        # Receivers check the sender's domain (SPF, DKIM, DMARC): mail from @localhost is
        # refused or filed as spam, and members never see their digests or sign-in links.
        console.print(f"[yellow]note:[/] PAPERBOY_MAIL_FROM is {s.mail_from!r}: mail from a domain receivers cannot "
                      "check goes to spam or is refused; set an address of your own domain, with SPF, DKIM and "
                      "DMARC set up for it (docs/deploy.md, 'Mail that arrives')", soft_wrap=True)
    if serving and not s.base_url and s.host not in LOOPBACK:
        console.print(f"[yellow]note:[/] PAPERBOY_BASE_URL is empty: mails and feeds link to {s.resolved_base_url}; "
                      "set it to the address readers use (https://papers.example.org)", soft_wrap=True)


def engine(migrate: bool = True) -> Engine:
    """The configured database, migrated to the latest schema unless told not to."""
    from sqlalchemy.exc import OperationalError

    s = settings()
    eng = get_engine(s)
    if migrate:
        try:
            before = current_revision(eng)
            fresh = before is None
            upgrade(eng)
            after = current_revision(eng)
        except OperationalError as exc:
            raise fail(f"cannot reach the database {eng.url.render_as_string()}: {exc.orig}") from None
        if not fresh and after != before:
            # Said, not done silently: on a cluster the first command of a new version
            # upgrades the schema under every node still running the old code (docs/deploy.md).
            console.print(f"[yellow]note:[/] the database's schema was upgraded from revision {before} to {after} "
                          "for this version of Paperboy", soft_wrap=True)
        if fresh:
            # A mistyped path or database name makes a new, empty store without a word
            # (SQLite creates the file): say so, so "0 accounts" is not taken at face value.
            where = eng.url.database if eng.dialect.name == "sqlite" else eng.url.render_as_string()
            console.print(f"[yellow]note:[/] {where} held no Paperboy database; a new, empty one was made there "
                          "(PAPERBOY_DATABASE_URL, PAPERBOY_DATA_DIR)", soft_wrap=True)
    return eng


def progress(transient: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )


@contextmanager
def handled_errors():
    """Turn expected failures into one-line errors with exit code 2 (no traceback)."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    except OperationalError as exc:
        raise fail(f"database error: {exc.orig}") from None


def mail_sender(settings: Settings) -> MailSender:
    """The configured mail sender, saying so when mail is printed or dropped, not sent."""
    try:
        sender = get_mail_sender(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if sender.name == "console":
        console.print(
            "[yellow]note:[/] no SMTP server configured (PAPERBOY_SMTP_URL): mail is printed to the console, not sent"
        )
    elif sender.name == "null":
        console.print("[yellow]note:[/] PAPERBOY_MAIL_BACKEND=null: mail is dropped")
    return sender

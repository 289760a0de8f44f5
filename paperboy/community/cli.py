"""CLI commands of the community feature (registered by paperboy.cli): ``paperboy users ...``."""

from __future__ import annotations

import sys

import typer
from rich.table import Table
from sqlalchemy import func, select

from paperboy import clitools
from paperboy.community import account_data, accounts, api_tokens, rerender
from paperboy.community.paper_views import hide_comments_of
from paperboy.store.db import session_scope, writer
from paperboy.store.models import User
from paperboy.web.security import end_all_sessions, forget_member

users_app = typer.Typer(help="Member accounts.", no_args_is_help=True)
comments_app = typer.Typer(help="Comments.", no_args_is_help=True)


@users_app.command("create")
def create(
    email: str = typer.Argument(..., help="The account's email address."),
    admin: bool = typer.Option(False, "--admin", help="Make the account an administrator (moderator)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    name: str = typer.Option("", "--name", help="Display name."),
) -> None:
    """Create a verified account (asks for the password unless --password-stdin)."""

    password = _password(password_stdin)
    engine = clitools.engine()
    try:
        with session_scope(writer(engine)) as db:
            if accounts.user_by_email(db, accounts.normalise_email(email)) is not None:
                raise clitools.fail(f"an account for {email} exists already")
            user = accounts.create_user(db, email, password, name, is_admin=admin, verified=True)
            uid = user.id
    except accounts.AccountError as exc:
        raise clitools.fail(str(exc)) from None
    clitools.out.print(f"created {'admin ' if admin else ''}account {uid} for {email.strip().lower()}")


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _account(db, email: str) -> User:
    user = accounts.user_by_email(db, accounts.normalise_email(email))
    if user is None:
        raise clitools.fail(f"no account for {email.strip()}")
    return user


@users_app.command("list")
def list_users(
    admins: bool = typer.Option(False, "--admins", help="Only administrators."),
) -> None:
    """The accounts, oldest first: id, address, name, and whether each is an
    administrator, suspended or unverified."""
    engine = clitools.engine()
    with session_scope(engine) as db:
        query = select(User).order_by(User.id)
        if admins:
            query = query.where(User.is_admin.is_(True))
        rows = [(u.id, u.email, u.display_name or "", ", ".join(
            flag for flag, on in (("admin", u.is_admin), ("suspended", u.is_suspended),
                                  ("unverified", u.email_verified_at is None)) if on),
            u.created_at.strftime("%Y-%m-%d")) for u in db.scalars(query)]
    table = Table("id", "email", "name", "flags", "since", box=None)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    clitools.out.print(table)
    clitools.out.print(f"{len(rows)} account{'' if len(rows) == 1 else 's'}")


@users_app.command("admin")
def set_admin(
    email: str = typer.Argument(..., help="The account's email address."),
    on: bool = typer.Option(True, "--on/--off", help="Make it an administrator, or no longer one."),
) -> None:
    """Make an existing account an administrator (moderator), or take that away."""
    engine = clitools.engine()
    with session_scope(writer(engine)) as db:
        user = _account(db, email)
        if not on and user.is_admin and db.scalar(
                select(func.count()).select_from(User).where(User.is_admin.is_(True))) == 1:
            clitools.console.print("[yellow]note:[/] no administrator is left; make one with "
                                   "`paperboy users admin EMAIL`", soft_wrap=True)
        user.is_admin = on
        uid, address = user.id, user.email
    clitools.out.print(f"account {uid} ({address}) is {'now' if on else 'no longer'} an administrator")


@users_app.command("suspend")
def suspend(
    email: str = typer.Argument(..., help="The account's email address."),
    off: bool = typer.Option(False, "--off", help="Lift the suspension instead."),
    hide_comments: bool = typer.Option(False, "--hide-comments", help="Also hide every comment of theirs (a spammer's)."),
) -> None:
    """Suspend an account (it can read, not vote, save, comment or submit), as /admin does;
    with --hide-comments a spammer's comments go with it."""
    engine = clitools.engine()
    with session_scope(writer(engine)) as db:
        user = _account(db, email)
        user.is_suspended = not off
        uid, address = user.id, user.email
    hidden = hide_comments_of(engine, uid) if hide_comments else 0
    forget_member(uid)
    clitools.out.print(f"account {uid} ({address}) is {'no longer' if off else 'now'} suspended"
                       + (f"; {hidden} comment{'' if hidden == 1 else 's'} of theirs hidden" if hide_comments else ""))


@users_app.command("delete")
def delete(
    email: str = typer.Argument(..., help="The account's email address."),
    keep_comments: bool = typer.Option(False, "--keep-comments/--remove-comments",
                                       help="Keep their comments, signed \"deleted member\" (default: remove them)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete an account and what hangs on it (votes, collections, follows, tokens,
    subscription), as the member can on /account: a member's request to be forgotten."""
    engine = clitools.engine()
    with session_scope(engine) as db:
        user = _account(db, email)
        uid, address = user.id, user.email
    if not yes and not typer.confirm(f"delete account {uid} ({address}) and everything it holds?"):
        raise clitools.fail("nothing deleted", code=1)
    with session_scope(writer(engine)) as db:
        account_data.delete_account(db, uid, keep_comments=keep_comments)
    forget_member(uid)
    clitools.out.print(f"deleted account {uid} ({address}); its comments "
                       + ("stay, signed “deleted member”" if keep_comments else "are removed"))


@users_app.command("password")
def set_password(
    email: str = typer.Argument(..., help="The account's email address."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Give an account a new password (for a member locked out, or an account taken
    over): as a reset by mail does, it ends the account's sessions, sign-in links and API
    tokens."""
    password = _password(password_stdin)
    try:
        accounts.check_password(password)
    except accounts.AccountError as exc:
        raise clitools.fail(str(exc)) from None
    engine = clitools.engine()
    with session_scope(writer(engine)) as db:  # the write lock first: a read, then a write (store/db.py)
        user = _account(db, email)
        user.password_hash = accounts.hash_password(password)
        uid = user.id
        accounts.revoke_tokens(db, uid)
        end_all_sessions(db, uid)
        revoked = api_tokens.remove_all(db, uid)
    clitools.out.print(f"new password for account {uid}; its sessions and sign-in links ended"
                       + (f", and its {revoked} API token{'' if revoked == 1 else 's'} revoked" if revoked else ""))


@comments_app.command("render")
def render_comments(
    batch: int = typer.Option(rerender.BATCH, "--batch", min=1, max=10_000, help="Comments per transaction."),
) -> None:
    """Render stored comments again with today's Markdown rules (after an upgrade). Safe while serving."""
    engine = clitools.engine()
    total = rerender.count(engine)
    with clitools.progress() as bar:
        task = bar.add_task("comments", total=total, status="")
        done = rerender.render_stored(engine, batch, on_batch=lambda n: bar.advance(task, n))
    clitools.out.print(f"{done.seen} comment{'' if done.seen == 1 else 's'} read, "
                       f"{done.changed} rendered differently now and updated")

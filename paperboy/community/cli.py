"""CLI commands of the community feature (registered by paperboy.cli): ``paperboy users ...``."""

from __future__ import annotations

import sys

import typer

from paperboy import clitools
from paperboy.community import accounts, rerender
from paperboy.store.db import session_scope

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

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = clitools.engine()
    try:
        with session_scope(engine) as db:
            if accounts.user_by_email(db, accounts.normalise_email(email)) is not None:
                raise clitools.fail(f"an account for {email} exists already")
            user = accounts.create_user(db, email, password, name, is_admin=admin, verified=True)
            uid = user.id
    except accounts.AccountError as exc:
        raise clitools.fail(str(exc)) from None
    clitools.out.print(f"created {'admin ' if admin else ''}account {uid} for {email.strip().lower()}")


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

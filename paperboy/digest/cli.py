"""CLI commands of the digest feature: `paperboy digest ...`, `paperboy subscribers ...`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import typer

from paperboy import clitools
from paperboy.digest.models import Subscription
from paperboy.digest.outbox import deliver, enqueue_due, outbox_counts, outbox_errors
from paperboy.digest.schedule import parse_digest_period
from paperboy.digest.services import SubscriptionError, send_confirmation, subscribe, unsubscribe
from paperboy.index.service import get_search_service
from paperboy.store.db import session_scope, writer

digest_app = typer.Typer(help="Compose and send email digests.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Manage digest subscribers.", no_args_is_help=True)


def _search_factory(settings, engine):
    def make():

        return get_search_service(settings, engine)

    return make


@digest_app.command("run")
def digest_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show who would get what; write and send nothing."),
    period: str = typer.Option(None, "--period", help="Send this period to every active subscription of its kind, whatever its hour: 2025-01-15 (daily) or 2025-W03 (weekly)."),
    wait: float = typer.Option(0.0, "--wait", min=0, help="Also wait up to this many seconds for retries and expired leases."),
) -> None:
    """One pass by hand: queue the digests that are due, then deliver the outbox."""

    settings = clitools.settings()
    if period:
        try:
            parse_digest_period(period)
        except ValueError as exc:
            raise clitools.fail(str(exc)) from None
    with clitools.handled_errors():
        engine = clitools.engine()
        report = enqueue_due(settings, engine, period=period, search=_search_factory(settings, engine), dry_run=dry_run)
        out = clitools.out
        if dry_run:
            for p in report.planned[:200]:
                typer.echo(f"{p.email}\t{p.period}\t{p.papers} papers\t{'would skip (empty)' if p.state == 'skipped' else 'would send'}")
            if len(report.planned) > 200:
                out.print(f"... and {len(report.planned) - 200} more")
            out.print(f"dry run: {report.queued} to send, {report.skipped_empty} empty, {report.already} already in the outbox"
                      + (f", {report.not_composed} failed to compose (see the log)" if report.not_composed else ""))
            return
        out.print(f"queued {report.queued} digests ({report.skipped_empty} empty skipped, {report.already} already queued)")
        if report.not_composed:
            clitools.console.print(f"[yellow]note:[/] {report.not_composed} digest(s) failed to compose (the log says why); "
                                   "the next run tries them again", soft_wrap=True)
        sender = clitools.mail_sender(settings)
        r = deliver(settings, engine, sender, wait=wait)
    out.print(
        f"sent {r.sent}, retry later {r.retried}, failed {r.failed}, cancelled {r.cancelled}, "
        f"taken over from dead workers {r.taken_over} (of which resent with the same Message-ID {r.uncertain})"
    )
    for email in r.paused:
        clitools.console.print(f"[yellow]paused[/] {email}")
    for error, n in r.errors.most_common():
        clitools.console.print(f"[yellow]why:[/] {n} digest{'' if n == 1 else 's'} not sent: {error}", soft_wrap=True)


@digest_app.command("status")
def digest_status(period: str = typer.Option(None, help="Only this period.")) -> None:
    """Outbox rows per state."""

    engine = clitools.engine()
    counts = outbox_counts(engine, period)
    for state, n in sorted(counts.items()):
        typer.echo(f"{state}\t{n}")
    if not counts:  # said on stderr: a script reading the tab-separated lines gets none
        clitools.console.print("the outbox is empty" + (f" for {period}" if period else ""))
    for error, n in outbox_errors(engine, period):  # on stderr too: the reasons, not the counts
        clitools.console.print(f"[yellow]why:[/] {n} waiting or failed: {error}", soft_wrap=True)


# --- subscribers ---------------------------------------------------------------------


def _add_many(emails: list[tuple[int | None, str]], confirmed: bool, weekly: bool) -> tuple[int, int, list[str]]:

    settings = clitools.settings()
    engine = clitools.engine()
    sender = None if confirmed else clitools.mail_sender(settings)
    added = existing = 0
    errors: list[str] = []
    to_confirm = []
    with session_scope(writer(engine)) as db:
        for line, raw in emails:
            try:
                res = subscribe(db, settings, raw, confirmed=confirmed, weekly=weekly)
            except SubscriptionError as exc:
                errors.append(f"line {line}: {exc}" if line else str(exc))
                continue
            added += res.created
            existing += not res.created
            if res.needs_confirmation:
                to_confirm.append(res.subscription)
    for sub in to_confirm:
        send_confirmation(settings, sender, sub)
    return added, existing, errors


@subscribers_app.command("add")
def subscribers_add(
    emails: list[str] = typer.Argument(..., help="Addresses to subscribe."),
    confirmed: bool = typer.Option(False, "--confirmed", help="Skip the double opt-in (you have their consent)."),
    weekly: bool = typer.Option(False, "--weekly", help="Weekly instead of daily digests."),
) -> None:
    """Subscribe addresses; without --confirmed each gets a confirmation link first."""
    added, existing, errors = _add_many([(None, e) for e in emails], confirmed, weekly)
    for err in errors:
        clitools.console.print(f"[red]skipped[/] {err}")
    pending = "" if confirmed or not added else " (a confirmation mail sent to each new one)"
    clitools.out.print(f"{added} added, {existing} already known{pending}" + (f", {len(errors)} skipped" if errors else ""))
    if errors:
        raise typer.Exit(1)


def read_addresses(text: str) -> list[tuple[int, str]]:
    """(line number, address) from a CSV with an ``email`` column, or one address a line."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if "," in first or ";" in first or first.strip().lower() in ("email", "e-mail"):
        dialect = csv.Sniffer().sniff(first, delimiters=",;\t") if ("," in first or ";" in first) else csv.excel
        reader = csv.reader(io.StringIO(text), dialect)
        header = [h.strip().lower() for h in next(reader, [])]
        col = next((i for i, h in enumerate(header) if h in ("email", "e-mail", "mail", "address")), None)
        if col is None:
            raise ValueError("CSV file has no 'email' column in its first line")
        out = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            out.append((reader.line_num, row[col] if col < len(row) else ""))
        return out
    return [(i, ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("#")]


@subscribers_app.command("import")
def subscribers_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV with an email column, or one address a line."),
    confirmed: bool = typer.Option(False, "--confirmed", help="Skip the double opt-in (you have their consent)."),
    weekly: bool = typer.Option(False, "--weekly", help="Weekly instead of daily digests."),
) -> None:
    """Subscribe every address in FILE; bad lines are reported with their line numbers."""
    try:
        rows = read_addresses(file.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise clitools.fail(f"{file}: {exc}") from None
    added, existing, errors = _add_many(rows, confirmed, weekly)
    for err in errors:
        clitools.console.print(f"[red]skipped[/] {file}: {err}")
    clitools.out.print(f"{added} added, {existing} already known, {len(errors)} bad lines")
    if errors:
        raise typer.Exit(1)


@subscribers_app.command("remove")
def subscribers_remove(emails: list[str] = typer.Argument(..., help="Addresses to unsubscribe.")) -> None:
    """Unsubscribe addresses at once (a "stop emailing me" sent to the admins), as a
    digest's own unsubscribe link does: no digest is sent to them from now on."""
    from sqlalchemy import func, select

    engine = clitools.engine()
    done, unknown = [], []
    with session_scope(writer(engine)) as db:
        for email in emails:
            sub = db.scalars(select(Subscription).where(func.lower(Subscription.email) == email.strip().lower())).first()
            if sub is None:
                unknown.append(email)
            elif unsubscribe(db, sub):
                done.append(sub.email)
    for email in unknown:
        clitools.console.print(f"[red]skipped[/] {email}: no subscription for this address")
    clitools.out.print(f"{len(done)} unsubscribed" + (f": {', '.join(done)}" if done else "")
                       + f", {len(emails) - len(done) - len(unknown)} already unsubscribed")
    if unknown:
        raise typer.Exit(1)


@subscribers_app.command("list")
def subscribers_list(status: str = typer.Option(None, help="Only pending, active, paused or unsubscribed.")) -> None:
    """Every subscription: address, status, frequency and schedule."""
    from sqlalchemy import select

    engine = clitools.engine()
    stmt = select(Subscription).order_by(Subscription.id)
    if status:
        stmt = stmt.where(Subscription.status == status)

    with session_scope(engine) as db:
        n = 0
        for sub in db.scalars(stmt):
            when = f"{sub.frequency}{' ' + 'MTWTFSS'[sub.weekday] if sub.frequency == 'weekly' else ''} {sub.send_hour:02d}:00 {sub.timezone}"
            extra = f"\t{sub.paused_reason}" if sub.paused_reason else ""
            typer.echo(f"{sub.email}\t{sub.status}\t{when}{extra}")
            n += 1
    clitools.console.print(f"{n} subscriptions")

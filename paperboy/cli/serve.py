"""`paperboy serve` and `paperboy demo`."""

from __future__ import annotations

import os
import signal
from functools import partial

import typer
from sqlalchemy import func, select

from paperboy import clitools
from paperboy.config import get_settings
from paperboy.index.jobs import start_background_indexer, stop_background
from paperboy.ingest.demo import NoSample, import_sample
from paperboy.ingest.http import SourceError
from paperboy.site import create_app
from paperboy.store.models import Paper
from paperboy.worker.jobs import start_in_process

SHUTDOWN_WAIT = 20.0  # seconds `paperboy serve` waits for its background work as it stops


def serve(
    host: str = typer.Option(None, help="Address to listen on (default: PAPERBOY_HOST)."),
    port: int = typer.Option(None, min=1, max=65535, help="Port to listen on (default: PAPERBOY_PORT)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    get: str = typer.Option(None, "--get", metavar="PATH",
                            help="Answer one GET request for PATH in-process, print the response, exit 1 unless it is 2xx."),
) -> None:
    """Serve the web pages, feeds and JSON API."""
    # As if set in the environment: the app in every web process, and the links it writes
    # (mails, feeds: resolved_base_url) follow the flags, not the setting they replace.
    for name, value in (("PAPERBOY_HOST", host), ("PAPERBOY_PORT", port)):
        if isinstance(value, str | int) and value:  # demo() calls serve() directly, leaving option objects
            os.environ[name] = str(value)
            get_settings.cache_clear()
    s = clitools.settings()
    host, port = s.host, s.port
    engine = clitools.engine()  # migrate before the first request
    if isinstance(get, str):  # demo() calls serve() directly, leaving the option object
        from starlette.testclient import TestClient

        with TestClient(create_app(s, engine)) as client:
            r = client.get(get, follow_redirects=False)
        typer.echo(r.text)
        raise typer.Exit(0 if 200 <= r.status_code < 300 else 1)
    import uvicorn

    check_can_listen(host, port)
    # Made (or read) here, before uvicorn starts its processes, so every one of them
    # signs sessions and links with the same key.
    s.resolved_secret_key()
    # Checked here, in one line, before anything starts: every web process sends mail
    # (sign-up, reply mails), and a malformed address only failed there, as a traceback.
    sender = clitools.mail_sender(s)
    stop_work = None
    if s.serve_worker:
        # In this process only: with --workers N uvicorn's supervisor is this process and
        # the N web processes are spawned fresh, so the schedule and the indexer run once.
        stop_work = start_in_process(s, engine, sender)
        clitools.console.print("worker schedule and indexer running in this process "
                               "(PAPERBOY_SERVE_WORKER=false when `paperboy worker` runs instead)")
    elif s.node_indexer:
        # A web node of a cluster: the schedule runs on worker nodes, but this machine's
        # index files are its own and only a refresher here brings them up to date. It
        # runs no model: the workers embed (paper_embeddings), this node adds their vectors.
        indexer = start_background_indexer(s, engine, interval=s.index_refresh_seconds, embed=False)
        stop_work = partial(stop_background, [indexer], [indexer.stop])
        clitools.console.print("indexer running in this process (PAPERBOY_NODE_INDEXER=false to leave it out)")
    clitools.start_notes(s, schedule=s.serve_worker, serving=True)
    clitools.console.print(f"serving on http://{host}:{port}")
    # uvicorn stops on SIGTERM (systemd's stop, kill) as on Ctrl-C, then raises the
    # signal again with the handler that was here before it: Python's default for
    # SIGTERM ends the process on the spot, before the background work below is stopped
    # (an embedding child was left running, orphaned). With this one it goes on.
    signal.signal(signal.SIGTERM, _stop_requested)
    uvicorn.run("paperboy.asgi:app", host=host, port=port, workers=workers,
                # uvicorn's access lines are at info: asked for, the level is info
                log_level="info" if s.access_log else "warning", access_log=s.access_log,
                timeout_worker_healthcheck=s.serve_healthcheck_seconds,
                **proxy_options(s))
    if stop_work is not None:
        # Ctrl-C or SIGTERM: the web stopped; the background work finishes what it is
        # doing (an embedding batch: seconds), inside systemd's TimeoutStopSec (deploy/).
        clitools.console.print(f"stopping: the background work finishes what it is doing (at most {SHUTDOWN_WAIT:.0f} s)")
        stop_work(SHUTDOWN_WAIT)


def _stop_requested(signum, frame) -> None:
    """SIGTERM raised again by uvicorn once it has stopped: nothing more to do here; the
    caller stops the background work and returns (exit 0, as after Ctrl-C)."""


def check_can_listen(host: str, port: int) -> None:
    """Fail in one line, before any background work starts, when the address cannot be
    listened on; uvicorn would say so only after "serving on" and exit 3. (Another
    process may still take the port in the instant between; uvicorn then reports it.)"""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise clitools.fail(f"cannot listen on {host}:{port}: {exc.strerror} (PAPERBOY_HOST or --host)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            hint = {98: "another program, perhaps another paperboy serve, has it: choose a port with --port or "
                        "PAPERBOY_PORT", 99: "this machine has no such address: see PAPERBOY_HOST or --host",
                    13: "ports below 1024 need privileges: use a higher port behind a reverse proxy (docs/deploy.md)"}
            raise clitools.fail(f"cannot listen on {host}:{port}: {exc.strerror.lower()}; "
                                f"{hint.get(exc.errno, 'see PAPERBOY_HOST and PAPERBOY_PORT')}") from None


def proxy_options(s) -> dict:
    """uvicorn's proxy settings: X-Forwarded-* is believed only from the proxies named in
    PAPERBOY_TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1, so anything on the
    host could pick the client address that per-client rate limits count)."""
    proxies = ",".join(p.strip() for p in s.trusted_proxies.replace(" ", ",").split(",") if p.strip())
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or ""}


def demo(
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Start the web service afterwards."),
    host: str = typer.Option(None, help="Address to serve on (default: PAPERBOY_HOST)."),
    port: int = typer.Option(None, min=1, max=65535, help="Port to serve on (default: PAPERBOY_PORT)."),
) -> None:
    """Import the sample papers (../shared/data, else the last week of arXiv) and serve them."""
    s, engine = clitools.settings(), clitools.engine()
    if serve_after:  # a taken port is said now, not after the import
        check_can_listen(host if isinstance(host, str) and host else s.host,
                         port if isinstance(port, int) and port else s.port)
    try:
        import_sample(s, engine)
    except NoSample as exc:
        raise clitools.fail(str(exc)) from None
    except SourceError as exc:
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(Paper))
        if not stored:
            raise clitools.fail(
                f"no sample listings here (../shared/data/arxiv/daily) and arXiv could not be reached: {exc}. "
                "Give this machine access to export.arxiv.org, or point PAPERBOY_SAMPLE_DATA_DIR at a folder of "
                "arXiv daily listings (*.jsonl), or import papers with `paperboy ingest`.") from None
        clitools.console.print(f"[yellow]note:[/] arXiv could not be reached ({exc}); serving the {stored:,} "
                               "papers stored")
    if serve_after:
        serve(host=host, port=port, workers=1)

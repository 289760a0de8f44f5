"""What a request costs in queries, with and without a read replica.

    nice -n 10 .venv/bin/python bench/replicas.py --requests 2000

Starts its own PostgreSQL primary and streaming standby (as the tests do,
``tests/support/pg_replica.py``; needs the PostgreSQL 15 server binaries and root),
seeds the web tests' small site, and sends cached pages to an anonymous reader and to a
signed-in member in-process (Starlette's TestClient). Prints, per request, the
statements run on the primary, on the replica, and the replicas' status queries, and
the wall time per request (mostly the TestClient's own; compare the rows, not the
absolute figures). Figures depend on what else the machine is doing: say so.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()

    from sqlalchemy import event, text
    from sqlalchemy.pool import NullPool

    from paperboy.community import accounts
    from paperboy.config import load_settings
    from paperboy.site import create_app
    from paperboy.store.db import make_engine, session_scope
    from paperboy.store.migrate import upgrade
    from tests.community.conftest import PASSWORD, Browser
    from tests.support.pg_replica import StreamingPair, missing
    from tests.web.conftest import seed

    if missing():
        sys.exit(f"bench/replicas.py: {missing()}")
    pair = StreamingPair()
    try:
        pair.start()
        admin = make_engine(pair.primary_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "bench"'))
        engine = make_engine(pair.url(pair.primary_port, "bench"))
        upgrade(engine)
        seed(engine)
        with session_scope(engine) as db:
            accounts.create_user(db, "bench@example.org", PASSWORD, "Bench", verified=True)
        pair.wait_replayed("bench")
        counts = {"primary": 0, "replica": 0, "status": 0}

        def counter(name):
            def count(_conn, _cursor, statement, *_):
                counts["status" if "pg_is_in_recovery" in statement else name] += 1
            return count

        event.listen(engine, "before_cursor_execute", counter("primary"))
        print(f"{'setup':<14} {'visitor':<10} {'primary/req':>12} {'replica/req':>12} {'status/req':>11} {'ms/req':>8}")
        for label, replica_urls in (("no replica", ""), ("one replica", pair.url(pair.standby_port, "bench"))):
            settings = load_settings(data_dir=Path(tempfile.mkdtemp()), secret_key="bench", mail_backend="null",
                                     embedder="null", serve_worker=False, database_url=pair.url(pair.primary_port, "bench"),
                                     database_replica_urls=replica_urls)
            app = create_app(settings, engine)
            if app.state.reads is not None:
                event.listen(app.state.reads.replicas.engines[0], "before_cursor_execute", counter("replica"))
            member = Browser(app, base_url="http://testserver")
            member.sign_in("bench@example.org")
            pair.wait_replayed("bench")
            time.sleep(0.2)
            for visitor, client in (("anonymous", Browser(app, base_url="http://testserver")), ("member", member)):
                client.get("/").raise_for_status()  # cached from here on
                before = dict(counts)
                start = time.perf_counter()
                for _ in range(args.requests):
                    r = client.get("/")
                    assert r.status_code == 200 and r.headers["x-paperboy-cache"] == "hit"
                ms = (time.perf_counter() - start) * 1000 / args.requests
                per = {k: (counts[k] - before[k]) / args.requests for k in counts}
                print(f"{label:<14} {visitor:<10} {per['primary']:>12.3f} {per['replica']:>12.3f} "
                      f"{per['status']:>11.3f} {ms:>8.2f}")
            if app.state.reads is not None:
                app.state.reads.replicas.dispose()
        engine.dispose()
    finally:
        pair.stop()


if __name__ == "__main__":
    main()

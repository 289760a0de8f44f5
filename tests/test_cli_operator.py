"""What an operator meets as `paperboy serve` and `worker` start: flags checked, the
links following the flags, and settings that would leave something silently undone
named at once."""

from __future__ import annotations

import pytest

from paperboy.config import get_settings
from tests.support.cli import cli_runner


@pytest.fixture
def cli(fresh_url, tmp_path, monkeypatch):
    yield from cli_runner(monkeypatch, {"PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_DATA_DIR": str(tmp_path),
                                        "PAPERBOY_EMBEDDER": "null", "PAPERBOY_MAIL_BACKEND": "null",
                                        "PAPERBOY_HOST": "127.0.0.1", "PAPERBOY_PORT": "8000"},
                          unset=("PAPERBOY_BASE_URL", "PAPERBOY_CATEGORIES", "PAPERBOY_CONFIG"))


def stats_with(cli, monkeypatch, **env: str):
    """``paperboy stats`` under these settings (a command that only reads them and the
    database): its result, after the settings are read afresh."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return cli("stats")


def refused(result) -> str:
    """The one-line error of a refused command, as the operator reads it."""
    assert result.exit_code == 2 and "Traceback" not in result.output
    return " ".join(result.text.split())


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_serve_refuses_a_port_outside_1_to_65535(cli, port):
    r = cli("serve", "--port", port)
    assert r.exit_code == 2 and "--port" in r.text and ("greater than or equal to 1" in r.text
                                                       or "less than or equal to 65535" in r.text)


def test_links_follow_the_port_and_host_serve_is_given(cli, monkeypatch):
    """Feeds and mails link to PAPERBOY_BASE_URL, else to where the service listens: the
    flags, not the settings they replace."""
    r = cli("serve", "--port", "18770", "--get", "/feeds/daily.atom")
    assert r.exit_code == 0, r.output
    assert 'href="http://127.0.0.1:18770/feeds/daily.atom"' in r.output
    monkeypatch.setenv("PAPERBOY_BASE_URL", "https://papers.example.org")
    get_settings.cache_clear()
    r = cli("serve", "--port", "18771", "--get", "/feeds/daily.atom")
    assert 'href="https://papers.example.org/feeds/daily.atom"' in r.output


def test_a_worker_says_when_its_schedule_will_fetch_no_papers(cli, monkeypatch):
    r = cli("worker", "--once")
    assert r.exit_code == 0, r.output
    assert "the schedule fetches no new papers: PAPERBOY_CATEGORIES is empty" in r.text
    monkeypatch.setenv("PAPERBOY_CATEGORIES", "cs.LG")
    monkeypatch.setenv("PAPERBOY_ARXIV_API_URL", "http://127.0.0.1:9/api")  # nothing listens: fails fast
    monkeypatch.setenv("PAPERBOY_HTTP_RETRIES", "1")
    get_settings.cache_clear()
    assert "fetches no new papers" not in cli("worker", "--once").text


def test_start_notes_name_an_empty_base_url_on_a_public_address(capsys, monkeypatch, tmp_path):
    from paperboy import clitools
    from paperboy.config import Settings

    clitools.start_notes(Settings(data_dir=tmp_path, host="0.0.0.0", categories="cs.LG"), schedule=True, serving=True)
    said = " ".join(capsys.readouterr().err.split())  # notes go to stderr, as errors do
    assert "PAPERBOY_BASE_URL is empty: mails and feeds link to http://0.0.0.0:8000" in said
    assert "PAPERBOY_CATEGORIES" not in said
    clitools.start_notes(Settings(data_dir=tmp_path, host="127.0.0.1", categories="cs.LG"), schedule=True,
                         serving=True)
    assert capsys.readouterr().err == ""  # a laptop's: nothing to say


def test_a_web_node_of_a_cluster_without_a_shared_key_is_told(capsys, tmp_path):
    from paperboy import clitools
    from paperboy.config import Settings

    node = dict(data_dir=tmp_path, host="127.0.0.1", database_url="postgresql+psycopg://db.lab/paperboy")
    clitools.start_notes(Settings(**node), schedule=False, serving=True)
    said = " ".join(capsys.readouterr().err.split())
    assert "PAPERBOY_SECRET_KEY is empty: this node signs sessions and links with a key of its own" in said
    clitools.start_notes(Settings(**node, secret_key="shared-by-every-node-" + "x" * 32), schedule=False, serving=True)
    clitools.start_notes(Settings(data_dir=tmp_path, host="127.0.0.1"), schedule=True, serving=True)  # a laptop
    assert "PAPERBOY_SECRET_KEY" not in capsys.readouterr().err


def test_a_short_secret_key_is_named_at_start_with_the_way_to_make_a_long_one(tmp_path, capsys):
    from paperboy import clitools
    from paperboy.config import Settings

    clitools.start_notes(Settings(data_dir=tmp_path, host="127.0.0.1", secret_key="lab2026"), schedule=False,
                         serving=True)
    said = " ".join(capsys.readouterr().err.split())
    assert "PAPERBOY_SECRET_KEY is 7 characters" in said and "token_urlsafe" in said
    clitools.start_notes(Settings(data_dir=tmp_path, host="127.0.0.1", secret_key="lab2026"), schedule=True,
                         serving=False)  # a worker signs the digests' unsubscribe links
    assert "PAPERBOY_SECRET_KEY is 7 characters" in " ".join(capsys.readouterr().err.split())
    clitools.start_notes(Settings(data_dir=tmp_path, host="127.0.0.1", secret_key="k" * 43), schedule=False,
                         serving=True)
    assert "PAPERBOY_SECRET_KEY" not in capsys.readouterr().err


def test_mail_sent_from_localhost_is_named_at_start(tmp_path, capsys):
    from paperboy import clitools
    from paperboy.config import Settings

    lab = dict(data_dir=tmp_path, host="127.0.0.1", smtp_url="smtp://mail.lab.example.org:587")
    clitools.start_notes(Settings(**lab), schedule=True, serving=False)
    assert "PAPERBOY_MAIL_FROM is 'Paperboy <paperboy@localhost>'" in " ".join(capsys.readouterr().err.split())
    clitools.start_notes(Settings(**lab, mail_from="Lab papers <papers@lab.example.org>"), schedule=True,
                         serving=False)
    clitools.start_notes(Settings(data_dir=tmp_path, host="127.0.0.1"), schedule=True, serving=True)  # console mail
    assert "PAPERBOY_MAIL_FROM" not in capsys.readouterr().err


def test_the_sample_placeholder_secret_key_is_refused_with_the_way_to_make_one(cli, monkeypatch):
    said = refused(stats_with(cli, monkeypatch, PAPERBOY_SECRET_KEY="CHANGE-ME"))
    assert "PAPERBOY_SECRET_KEY" in said and "placeholder" in said and "token_urlsafe" in said


def test_a_data_dir_that_cannot_be_made_is_one_line_not_a_traceback(cli, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    said = refused(stats_with(cli, monkeypatch, PAPERBOY_DATA_DIR=str(blocker / "data"),
                              PAPERBOY_DATABASE_URL=f"sqlite:///{blocker}/data/pb.db"))
    assert f"cannot use {blocker}" in said and "PAPERBOY_DATA_DIR" in said


def test_a_data_dir_where_no_folder_can_be_made_is_one_line(cli, monkeypatch):
    said = refused(stats_with(cli, monkeypatch, PAPERBOY_DATA_DIR="/proc/paperboy",
                              PAPERBOY_DATABASE_URL="sqlite:////proc/paperboy/pb.db"))
    assert "cannot use /proc/paperboy" in said and "PAPERBOY_DATA_DIR" in said


def test_a_full_disk_and_a_read_only_file_system_are_named_not_shown_as_a_fault(tmp_path):
    """What a command's operator reads when the disk fills or the file system is read-only
    under it (made here as the OS and SQLite raise them: neither can be made for real
    without root's mounts)."""
    import errno
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from paperboy.cli import operator_mistake

    full = operator_mistake(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "secret_key")))
    assert full.startswith(f"cannot write {tmp_path / 'secret_key'}: the disk is full") and "nothing stored was lost" in full
    sqlite_full = OperationalError("INSERT …", {}, sqlite3.OperationalError("database or disk is full"))
    assert operator_mistake(sqlite_full).startswith("the database could not write: the disk is full")
    read_only = operator_mistake(OSError(errno.EROFS, "Read-only file system", "/srv/paperboy"))
    assert "read-only" in read_only and "PAPERBOY_DATA_DIR" in read_only
    assert operator_mistake(FileNotFoundError(errno.ENOENT, "No such file", "/somewhere/listing.jsonl")) is None


def test_a_malformed_sqlite_address_is_named(cli, monkeypatch):
    said = refused(stats_with(cli, monkeypatch, PAPERBOY_DATABASE_URL="sqlite://relative.db"))
    assert "PAPERBOY_DATABASE_URL" in said and "sqlite:////" in said


def test_a_database_a_newer_paperboy_upgraded_is_refused_with_the_way_out(cli, fresh_url):
    from sqlalchemy import text

    from paperboy.store.db import make_engine

    assert cli("db", "upgrade").exit_code == 0
    engine = make_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    r = cli("stats")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "schema is newer than this Paperboy knows" in r.text and "docs/backup.md" in r.text


def test_search_and_similar_tell_a_script_what_went_wrong_by_their_exit_code(cli):
    r = cli("search", "diffusion", "--mode", "fuzzy")
    assert r.exit_code == 2 and "--mode 'fuzzy': use hybrid, keyword or semantic" in r.text
    r = cli("search", "diffusion", "--sort", "newest")
    assert r.exit_code == 2 and "--sort 'newest': use relevance, date or votes" in r.text
    r = cli("similar", "2501.99999")
    assert r.exit_code == 1 and "no similar papers for 2501.99999" in r.text


def test_digest_status_says_an_empty_outbox_is_empty_on_stderr(cli):
    r = cli("digest", "status")
    assert r.exit_code == 0 and "the outbox is empty" in r.text


def test_a_misspelt_setting_is_refused_with_the_name_it_nearly_is(cli, monkeypatch):
    # pydantic-settings would ignore it, and the default database would quietly be used.
    said = refused(stats_with(cli, monkeypatch, PAPERBOY_DATABSE_URL="postgresql://db.internal/paperboy"))
    assert "PAPERBOY_DATABSE_URL: is not a setting" in said and "did you mean PAPERBOY_DATABASE_URL?" in said
    assert "db.internal" not in said  # the value is not echoed: a URL may carry a password


def test_variables_that_are_not_near_a_setting_are_left_to_their_owners(cli, monkeypatch):
    # deploy/paperboy.env's, the test and bench scripts', the lab's own
    others = dict.fromkeys(("PAPERBOY_WEB_PROCESSES", "PAPERBOY_TEST_WHATEVER", "PAPERBOY_BENCH_CACHE",
                            "PAPERBOY_LAB_NOTE"), "4")
    assert stats_with(cli, monkeypatch, **others).exit_code == 0


@pytest.mark.parametrize(("var", "value", "said"), [
    ("PAPERBOY_DIGEST_DEFAULT_TIMEZONE", "Europe/Pariss", "is not an IANA time zone; use one like Europe/Paris"),
    ("PAPERBOY_BASE_URL", "papers.example.org", "'papers.example.org' is not an http:// or https:// URL"),
    ("PAPERBOY_BASE_URL", "https://papers.example.org:https", "'https://papers.example.org:https' is not an http://"),
    ("PAPERBOY_INDEX_PEERS", "http://10.0.0.5:8000, 10.0.0.6:8000", "'10.0.0.6:8000' is not an http://"),
    ("PAPERBOY_EMBEDDER", "minlm", "is not one of minilm, null, hash, hash-<dim> nor a model's path or hub name; "
                                   "did you mean 'minilm'?"),
    ("PAPERBOY_EMBEDDER", "hash64", "is not one of minilm, null, hash, hash-<dim> nor a model's path or hub name; "
                                    "did you mean 'hash'?"),  # hash-64 is one: see below
    # serve started, then its web processes failed at the first mail, as a traceback
    ("PAPERBOY_SMTP_URL", "mail.lab.example:25", "is not an smtp:// or smtps:// URL with a host"),
    ("PAPERBOY_SMTP_URL", "smtp://mail.lab.example:smtp", "has a port that is no number"),
    ("PAPERBOY_MAIL_BACKEND", "smpt", "is not one of smtp, console, null; did you mean 'smtp'?"),
])
def test_settings_that_would_fail_later_and_quietly_are_refused_at_once(cli, monkeypatch, var, value, said):
    # A wrong zone made every new subscription UTC; a bare host made every mailed link dead.
    text = refused(stats_with(cli, monkeypatch, **{var: value}))
    assert f"{var}: {said}" in text
    assert "Value error" not in text  # pydantic's wording is not the operator's


@pytest.mark.parametrize("embedder", ["sentence-transformers/all-mpnet-base-v2", "hash-64", "all-mpnet-base-v2"])
def test_embedder_names_that_are_models_pass(cli, monkeypatch, embedder):
    assert stats_with(cli, monkeypatch, PAPERBOY_EMBEDDER=embedder).exit_code == 0


def test_good_values_of_those_settings_pass(cli, monkeypatch):
    assert stats_with(cli, monkeypatch, PAPERBOY_DIGEST_DEFAULT_TIMEZONE="America/New_York",
                      PAPERBOY_BASE_URL="https://papers.example.org/lab/",
                      PAPERBOY_INDEX_PEERS="http://10.0.0.5:8000,https://node2.example.org").exit_code == 0


def test_start_notes_name_categories_arxiv_has_not(capsys, tmp_path):
    from paperboy import clitools
    from paperboy.config import Settings

    clitools.start_notes(Settings(data_dir=tmp_path, categories="cs.LG cs.LGG cs.* nlin.* foo.* cs.lg"),
                         schedule=True, serving=False)
    said = " ".join(capsys.readouterr().err.split())
    assert "'cs.LGG' is not an arXiv category" in said and "'foo.*' is not an arXiv category" in said
    assert "arXiv spells 'cs.lg' as 'cs.LG'" in said
    assert "'cs.LG' is not" not in said and "'cs.*'" not in said and "'nlin.*'" not in said


def test_serve_on_a_taken_port_says_so_before_starting_anything(cli):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = cli("serve", "--port", str(port))
    assert r.exit_code == 2 and "Traceback" not in r.output
    said = " ".join(r.text.split())
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in said and "--port" in said
    assert "serving on" not in said and "worker schedule" not in said  # nothing started, nothing claimed


def test_demo_takes_a_port_and_says_a_taken_one_before_importing(cli, monkeypatch, tmp_path):
    import socket

    empty = tmp_path / "listings"
    empty.mkdir()
    monkeypatch.setenv("PAPERBOY_SAMPLE_DATA_DIR", str(empty))
    get_settings.cache_clear()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = cli("demo", "--port", str(port))  # the option scripts/start's own error advises
    said = " ".join(r.text.split())
    assert r.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}: address already in use" in said
    assert "sample imported" not in said


def test_demo_names_a_sample_folder_that_is_not_there_instead_of_taking_another(cli, monkeypatch):
    said = refused(cli_with(cli, monkeypatch, "demo", "--no-serve", PAPERBOY_SAMPLE_DATA_DIR="/nope/daily"))
    assert "PAPERBOY_SAMPLE_DATA_DIR=/nope/daily: no such folder" in said


def test_demo_without_sample_listings_or_arxiv_says_what_to_do_in_one_line(cli, monkeypatch, tmp_path):
    """A clone from GitHub has no ../shared beside it; a machine without arXiv then got a
    traceback from the first command of the README."""
    from paperboy.ingest import demo

    monkeypatch.setattr(demo, "PROJECT", tmp_path / "repo")  # a checkout with nothing beside it
    said = refused(cli_with(cli, monkeypatch, "demo", "--no-serve", PAPERBOY_ARXIV_API_URL="http://127.0.0.1:9/api",
                            PAPERBOY_HTTP_RETRIES="0", PAPERBOY_ARXIV_DELAY="0"))
    assert "arXiv could not be reached" in said and "PAPERBOY_SAMPLE_DATA_DIR" in said and "paperboy ingest" in said


def cli_with(cli, monkeypatch, *args: str, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return cli(*args)


def test_serve_on_an_address_this_machine_lacks_names_the_host(cli):
    r = cli("serve", "--host", "no-such-host.invalid")
    assert r.exit_code == 2
    assert "cannot listen on no-such-host.invalid:8000" in r.text and "PAPERBOY_HOST" in r.text


def test_a_command_that_made_a_new_empty_database_says_where(cli, monkeypatch, tmp_path):
    # A mistyped SQLite path would otherwise answer "0 accounts", and leave a file there.
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path}/paperbo.db")
    get_settings.cache_clear()
    first = cli("users", "list")
    assert first.exit_code == 0
    assert "held no Paperboy database; a new, empty one was made there" in first.text
    assert f"{tmp_path}/paperbo.db held no Paperboy database" in first.text
    again = cli("users", "list")
    assert again.exit_code == 0 and "held no Paperboy database" not in again.text


def test_a_migrated_database_is_not_called_new(cli):
    r = cli("users", "list")  # fresh_url: migrated, empty
    assert r.exit_code == 0 and "held no Paperboy database" not in r.text
    assert "schema was upgraded" not in r.text  # nothing to upgrade: nothing said


def test_a_command_that_upgrades_an_older_schema_says_so(databases, tmp_path, monkeypatch):
    """On a cluster the first command of a new version upgrades the schema under every
    node still running the old code: an operator must be told, not find out later."""
    from paperboy.store.db import make_engine
    from paperboy.store.migrate import head_revision, upgrade
    from tests.support.databases import unmigrated_url

    url = unmigrated_url(databases, tmp_path)
    engine = make_engine(url)
    upgrade(engine, "0018")
    engine.dispose()
    runner = cli_runner(monkeypatch, {"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(tmp_path)})
    run = next(runner)
    try:
        r = run("users", "list")
        assert r.exit_code == 0
        assert f"the database's schema was upgraded from revision 0018 to {head_revision()}" in r.text
        r = run("db", "upgrade")
        assert "schema was upgraded" not in r.text and f"at revision {head_revision()}, this Paperboy's own" in r.text
    finally:
        runner.close()

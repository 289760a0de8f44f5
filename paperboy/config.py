"""All settings in one place.

Every setting has a default and a line of help. Values come, in rising order of
precedence, from the defaults below, an optional TOML file (``PAPERBOY_CONFIG`` or
``paperboy.toml`` in the working directory) and ``PAPERBOY_*`` environment variables.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "paperboy"


class ConfigError(Exception):
    """A setting is missing, malformed or contradicts another one."""


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the optional TOML file; keys are the setting names without the prefix."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None):
        super().__init__(settings_cls)
        self.data: dict[str, Any] = {}
        if path is None:
            return
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        # Allow both a flat file and a [paperboy] table.
        raw = raw.get("paperboy", raw)
        unknown = sorted(set(raw) - set(settings_cls.model_fields))
        if unknown:
            import difflib

            named = []
            for key in unknown:
                near = difflib.get_close_matches(key, settings_cls.model_fields, n=1, cutoff=0.8)
                named.append(f"{key} (did you mean {near[0]}?)" if near else key)
            raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(named)}")
        self.data = raw

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def _config_path() -> Path | None:
    env = os.environ.get("PAPERBOY_CONFIG")
    if env:
        return Path(env).expanduser()
    local = Path("paperboy.toml")
    return local if local.exists() else None


MAIL_BACKENDS = ("smtp", "console", "null")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERBOY_", extra="ignore", validate_default=True)

    # --- storage
    data_dir: Path = Field(_default_data_dir(), description="Folder for the SQLite file, indexes and caches.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file paperboy.db in data_dir.")
    database_replica_urls: str = Field("", description="Comma-separated PostgreSQL URLs of hot standbys of database_url that serve the web's reads (pages, feeds, API, search); empty: none. See docs/replicas.md.")
    replica_max_lag_seconds: float = Field(5.0, description="A replica further behind the primary than this many seconds serves no reads until it catches up.", ge=0)
    replica_retry_seconds: float = Field(5.0, description="How long a replica that failed (refused, dropped, not a standby) is left aside before it is tried again.", gt=0)

    # --- web
    host: str = Field("127.0.0.1", description="Address `paperboy serve` listens on.")
    port: int = Field(8000, description="Port `paperboy serve` listens on.", ge=1, le=65535)
    base_url: str = Field("", description="Public URL of this instance, used in mail and feeds; empty means http://host:port.")
    secret_key: str = Field("", description="Key for sessions, CSRF and signed links (32 or more random characters; a shorter one is named at start); empty means a random key kept in data_dir/secret_key.")
    trusted_proxies: str = Field("", description="Addresses (IPs or CIDRs, comma-separated) of reverse proxies whose X-Forwarded-For/-Proto headers are believed; empty trusts none, so per-client limits see the real peer.")
    site_name: str = Field("Paperboy", description="Name shown in the header, mail and feeds.")
    feed_mode: str = Field("all", description="'all' shows every announced paper in the daily feed; 'submitted' only community submissions (the HF way).")
    categories: str = Field("", description="Space-separated arXiv categories the schedule fetches each day (empty: none; the schedule then fetches nothing, `paperboy serve` and `worker` say so at start).")
    for_you_warm_seconds: float = Field(60.0, description="How often each web process looks for a new day's papers, to build For you's candidates before a member asks (a second or so each day; 0: never, the first member's request builds them).", ge=0)
    page_cache_seconds: float = Field(30.0, description="How long a rendered page, shared by visitors, may be served before it is rendered again whatever changed (trending's clock, a member's display name); a write to a paper or a search index refresh on this node renews it at once. 0 turns the page cache off.", ge=0)

    # --- ingest
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv API endpoint.")
    arxiv_oai_url: str = Field("https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint.")
    arxiv_delay: float = Field(3.0, description="Seconds between requests to arXiv (their terms ask for 3).", ge=0)
    http_timeout: float = Field(30.0, description="Seconds before an HTTP request to a source times out.", gt=0)
    http_retries: int = Field(5, description="Retries of a failed HTTP request (5xx, time-out, cut connection).", ge=0)
    fetch_wanted: bool = Field(True, description="Fetch from arXiv, in the worker, the papers members import into a collection or seed For you with that this instance does not have, and save them where asked (off: they are reported as missing).")
    sample_data_dir: str = Field("", description="Folder of daily listings imported by `paperboy demo` (default: ../shared/data/arxiv/daily when present).")

    # --- index and search
    embedder: str = Field("minilm", description="'minilm' (offline all-MiniLM-L6-v2), 'null' (no vectors), 'hash' (deterministic word hashing, instant: for tests and smoke runs only), or any sentence-transformers model name; changing it re-embeds in the background while the old model keeps serving.")
    embed_batch_size: int = Field(256, description="Papers in one embedding batch (the unit a worker claims and commits).", ge=1, le=100_000)
    embed_device: str = Field("auto", description="Where `paperboy worker` runs the embedding model: 'auto' (CUDA when torch sees a GPU, else CPU), 'cpu' or 'cuda'.")
    embed_threads: int = Field(0, description="torch threads of one `paperboy worker`'s model on CPU; 0 leaves torch's default (every core). With N workers on one machine, cores / N.", ge=0)
    embed_precision: str = Field("fp32", description="How papers are embedded (workers and the indexer): 'fp32' (the model as shipped), 'int8' (Linear layers dynamically quantised, CPU only) or 'bf16' (fast only on CPUs with AMX/avx512_bf16, or CUDA); queries stay fp32. Measured on a 2-core AMX CPU: bf16 1.8-2.3x and int8 1.3-1.6x the papers/s of fp32, SciFact nDCG@10 +0.07 and -0.26 points (semantic). Not fp32 names a model of its own (e.g. all-MiniLM-L6-v2+int8@256): changing it re-embeds in the background while the old vectors serve. Speed and SciFact cost in docs/search.md.")
    embed_encode_batch: int = Field(0, description="Texts per forward pass of the model; 0 means 16 on CPU (length-sorted, little padding) and 256 on CUDA.", ge=0)
    index_dir: str = Field("", description="Folder for search index files; empty means data_dir/index.")
    vector_ef_search: int = Field(0, description="Candidates the HNSW vector index keeps while searching (usearch's expansion_search; a search for more results keeps that many): higher finds more of the true nearest papers and costs latency. 0: chosen from the index's size, from the sizes measured in docs/scale.md (256 up to 100k vectors, 384 at 300k, 1,536 at 2.6M, interpolated between them), for recall@10 of about 0.95.", ge=0, le=10_000)
    exact_vectors_max: int = Field(1_000_000, description="While this node's ANN file covers fewer vectors than are stored (a fresh node: 2.6M vectors took 7.5 min on 2 quiet cores, docs/scale.md), semantic search scans up to this many stored vectors exactly, newest papers first, held in memory as f16 (776 bytes a paper at 384 dims); 0 waits for the ANN file.", ge=0)

    # --- mail
    smtp_url: str = Field("", description="smtp://user:pass@host:587?starttls=1 or smtps://...; empty sends mail to the console.")
    mail_from: str = Field("Paperboy <paperboy@localhost>", description="From: address of every mail.")
    mail_backend: str = Field("", description="'smtp', 'console' or 'null'; empty picks smtp when smtp_url is set, else console.")
    digest_default_hour: int = Field(7, description="Local hour (0-23) a new subscription receives its digest.", ge=0, le=23)
    digest_default_timezone: str = Field("UTC", description="IANA time zone of new subscriptions (e.g. Europe/Paris).")
    digest_default_top_n: int = Field(10, description="Trending papers in a new subscription's digest.", ge=0, le=100)
    digest_batch_size: int = Field(200, description="Outbox rows one worker claims at a time.", ge=1)
    digest_lease_seconds: float = Field(600.0, description="How long a claimed or sending outbox row stays a worker's before another may take it over (keep well above the SMTP time-out).", gt=0)
    digest_retry_base_seconds: float = Field(60.0, description="First retry delay after a transient mail failure; doubles each attempt.", ge=0)
    digest_retry_max_seconds: float = Field(6 * 3600.0, description="Longest delay between two retries of one digest.", ge=0)
    digest_max_attempts: int = Field(8, description="Attempts before a digest is given up as failed (counts as a bounce).", ge=1)
    digest_bounce_limit: int = Field(3, description="Digests failed in a row that pause a subscription.", ge=1)
    alert_min_similarity: float = Field(0.5, description="A digest alert includes a paper without every word of the alert only when its meaning is this close (cosine, 0-1; see docs/digest.md).", ge=0, le=1)
    worker_poll_seconds: float = Field(30.0, description="How often `paperboy worker` looks for due jobs.", gt=0)
    worker_ingest_minutes: int = Field(60, description="Minutes between ingest (and index refresh) runs of the worker.", ge=1)
    worker_digest_minutes: int = Field(5, description="Minutes between digest passes of the worker.", ge=1)
    worker_lease_seconds: float = Field(120.0, description="Lease of a job or embedding batch a worker claims; a running worker renews it every quarter of it, so a killed worker's work is taken over within about this long.", ge=1)
    serve_worker: bool = Field(True, description="Run the worker's schedule and the indexer inside `paperboy serve` (single node); set false when `paperboy worker` processes run.")
    access_log: bool = Field(False, description="`paperboy serve` prints a line per request (client, method, path, status), as uvicorn's access log does; off by default, since a reverse proxy in front keeps its own.")
    serve_healthcheck_seconds: int = Field(60, description="With `paperboy serve --workers N`: seconds a web process may take to answer the supervisor's health check before it is taken for hung and replaced (uvicorn's own 5 replaces merely busy processes on a loaded machine).", ge=1)
    node_indexer: bool = Field(True, description="Keep this machine's search index fresh in a thread of `paperboy serve` (when PAPERBOY_SERVE_WORKER is false) and of `paperboy worker`; every machine of a cluster keeps its own index (docs/deploy.md).")
    index_peers: str = Field("", description="Comma-separated base URLs of running nodes of this deployment (their own port, e.g. http://10.0.0.5:8000): a node with no index of its own copies one of theirs (`paperboy index pull`) before its first refresh, instead of building from the database.")
    index_refresh_seconds: float = Field(30.0, description="How often the indexer inside `paperboy serve` (or `paperboy worker`) picks up new papers.", gt=0)

    # --- community
    submissions_per_day: int = Field(10, description="How many papers one member may submit a day.", ge=0)
    password_hash_time_cost: int = Field(3, ge=1, description="argon2id passes per password hash (the argon2-cffi default, RFC 9106's second profile with 64 MiB). Lower only on a machine too small for sign-ins to finish in time, or in tests.")
    password_hash_memory_kib: int = Field(65536, ge=64, description="KiB of memory per argon2id password hash; each sign-in in progress holds this much. A hash made with other parameters is redone at its next sign-in.")
    signup_open: bool = Field(True, description="Whether anyone may make an account on /signup. False: only an admin makes accounts (`paperboy users create`), as a lab's private instance wants.")
    signup_domains: str = Field("", description="Mail domains sign-up is open to, comma-separated (`lab.example.org, uni.example.edu`; a subdomain counts); empty: any address.")
    trending_half_life_hours: float = Field(48.0, description="Half-life of a vote's weight in the trending score.", gt=0)

    @field_validator("feed_mode")
    @classmethod
    def _feed_mode(cls, v: str) -> str:
        if v not in ("all", "submitted"):
            raise ValueError("must be 'all' or 'submitted'")
        return v

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, v: str) -> str:
        # deploy/paperboy.env's placeholder: copied unchanged, every instance would sign
        # sessions, CSRF tokens and unsubscribe links with a key anyone can read.
        if v.strip().upper() == "CHANGE-ME":
            raise ValueError("is the sample's placeholder; set a long random value (python3 -c 'import secrets; "
                             "print(secrets.token_urlsafe(32))'), or leave it empty for a key kept in the data dir")
        return v

    @field_validator("digest_default_timezone")
    @classmethod
    def _digest_default_timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone; use one like Europe/Paris, America/New_York or UTC") from None
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        # Every link in mail and feeds starts with it: a bare host or a typo'd scheme
        # would send readers nowhere, and silently.
        return _http_url(v, "the address readers use, like https://papers.example.org") if v else v

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: str) -> str:
        # Every web process sends mail (sign-up, reply mails): a malformed address failed
        # only there, at the first mail, as a traceback after "serving on".
        if v:
            parts = urlsplit(v)
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("is not an smtp:// or smtps:// URL with a host, like "
                                 "smtp://user:password@mail.example.org:587?starttls=1")
            try:
                parts.port  # noqa: B018 - raises for a port that is no number
            except ValueError:
                raise ValueError("has a port that is no number") from None
        return v

    @field_validator("mail_backend")
    @classmethod
    def _mail_backend(cls, v: str) -> str:
        if v and v not in MAIL_BACKENDS:
            import difflib

            near = difflib.get_close_matches(v, MAIL_BACKENDS, n=1)
            raise ValueError(f"is not one of {', '.join(MAIL_BACKENDS)}" + (f"; did you mean {near[0]!r}?" if near else ""))
        return v

    @field_validator("signup_domains")
    @classmethod
    def _signup_domains(cls, v: str) -> str:
        domains = [d.strip().lower().lstrip("@") for d in v.replace(" ", ",").split(",") if d.strip()]
        for d in domains:
            if "." not in d or not all(part and part.replace("-", "").isalnum() for part in d.split(".")):
                raise ValueError(f"{d!r} is not a mail domain, like lab.example.org")
        return ",".join(domains)

    @property
    def signup_domain_list(self) -> list[str]:
        return [d for d in self.signup_domains.split(",") if d]

    @field_validator("index_peers")
    @classmethod
    def _index_peers(cls, v: str) -> str:
        return ",".join(_http_url(p.strip(), "a node's own address, like http://10.0.0.5:8000")
                        for p in v.split(",") if p.strip())

    @field_validator("embedder")
    @classmethod
    def _embedder(cls, v: str) -> str:
        # Any other name is taken for a sentence-transformers model, which fails only when
        # the first paper is embedded; one a letter away from ours is a typo, said now.
        import difflib
        import re

        ours = ("minilm", "null", "hash")
        name = v.strip()
        near = difflib.get_close_matches(name.lower(), ours, n=1, cutoff=0.6)
        if name and name not in ours and not re.fullmatch(r"hash-\d{1,5}", name) and near and "/" not in name:
            raise ValueError(f"is not one of minilm, null, hash, hash-<dim> nor a model's path or hub name; did you mean {near[0]!r}?")
        return v

    @field_validator("embed_device")
    @classmethod
    def _embed_device(cls, v: str) -> str:
        if v not in ("auto", "cpu", "cuda"):
            raise ValueError("must be 'auto', 'cpu' or 'cuda'")
        return v

    @field_validator("embed_precision")
    @classmethod
    def _embed_precision(cls, v: str) -> str:
        if v not in ("fp32", "int8", "bf16"):
            raise ValueError("must be 'fp32', 'int8' or 'bf16'")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, v: str) -> str:
        import ipaddress

        for part in v.replace(" ", ",").split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{part.strip()!r} is not an IP address or CIDR range") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if v and not v.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if v.startswith("postgres://") or v.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; make the short form work.
            v = "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @field_validator("database_replica_urls")
    @classmethod
    def _database_replica_urls(cls, v: str, info: ValidationInfo) -> str:
        urls = [u.strip() for u in v.split(",") if u.strip()]
        if not urls:
            return ""
        primary = info.data.get("database_url")
        if primary is None:
            raise ValueError("database_url is invalid, so replicas cannot be checked against it")
        if not primary.startswith("postgresql"):
            raise ValueError("read replicas need a PostgreSQL database_url (SQLite has none)")
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        out = []
        for url in urls:
            if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
                raise ValueError(f"{_no_password(url)!r} is not a postgresql:// URL")
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
            try:
                parsed = make_url(url)
            except (ArgumentError, ValueError):
                raise ValueError(f"{_no_password(url)!r} is not a valid URL") from None
            if not parsed.host and not parsed.query.get("host"):  # ?host=/run/postgresql: a socket
                raise ValueError(f"{_no_password(url)!r} names no host")
            out.append(url)
        return ",".join(out)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls, _config_path()))

    # --- derived values
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'paperboy.db'}"

    @property
    def replica_urls(self) -> list[str]:
        return [u for u in self.database_replica_urls.split(",") if u]

    @property
    def resolved_index_dir(self) -> Path:
        return Path(self.index_dir) if self.index_dir else self.data_dir / "index"

    @property
    def resolved_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_mail_backend(self) -> str:
        """The mail backend in use: the one named, else smtp when a URL is set, else console."""
        return self.mail_backend or ("smtp" if self.smtp_url else "console")

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in data_dir (never a constant).

        Safe when several processes start at once (``paperboy serve --workers N``): the
        key is written whole to a file of its own and linked into place, which fails if
        another process got there first; then everyone reads the one that won."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            key = ""
        if key:
            return key
        return _create_secret_key(path)


def _create_secret_key(path: Path) -> str:
    import secrets
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process made
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it or set PAPERBOY_SECRET_KEY")
    return key


def _http_url(value: str, example: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL; give {example}")
    return value


# PAPERBOY_* variables that are not settings but are read by the project's own
# scripts, deploy files and tests (see deploy/paperboy.env, scripts/test).
OTHER_VARIABLES = frozenset({"CONFIG", "WEB_PROCESSES", "UPSTREAMS", "STATIC_DIR", "GALLERY"})
OTHER_PREFIXES = ("TEST_", "BENCH_")


def _misspelt_variables(environ: Mapping[str, str]) -> list[str]:
    """Errors for PAPERBOY_* variables that are not settings but nearly spell one.

    pydantic-settings ignores unknown variables, so PAPERBOY_DATABSE_URL would leave
    the default database in use without a word; one near a setting's name is refused,
    others (an operator's own) are left alone."""
    import difflib

    names = {name.upper() for name in Settings.model_fields}
    errors = []
    for var in sorted(environ):
        if not var.upper().startswith("PAPERBOY_"):
            continue
        name = var[len("PAPERBOY_"):].upper()
        if name in names or name in OTHER_VARIABLES or name.startswith(OTHER_PREFIXES):
            continue
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        if near:
            errors.append(f"{var}: is not a setting, so it would be ignored; did you mean PAPERBOY_{near[0]}?")
    return errors


def _no_password(url: str) -> str:
    """A URL fit for an error message: its password (user:password@) blanked."""
    head, sep, tail = url.partition("://")
    creds, at, rest = tail.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return head + sep + creds + at + rest


def settings_markdown() -> str:
    """The table of every setting in docs/settings.md (a test keeps the two equal)."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = "$XDG_DATA_HOME/paperboy (~/.local/share/paperboy)" if name == "data_dir" else field.default
        rows.append(f"| `PAPERBOY_{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(rows)


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's errors into one readable ConfigError."""
    lines = _misspelt_variables(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            got = err.get("input")
            if name.endswith(("_url", "_urls")) and isinstance(got, str):  # never print a password
                got = ",".join(_no_password(u) for u in got.split(","))
            msg = err["msg"].removeprefix("Value error, ")  # pydantic's wording of our own ValueErrors
            lines.append(f"PAPERBOY_{name.upper()}: {msg} (got {got!r})")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
    if lines:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines))
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

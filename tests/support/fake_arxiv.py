"""A real HTTP server on loopback standing in for arXiv's API and OAI-PMH endpoints.

It serves recorded responses (``/work/shared/data/arxiv``) and responses registered by
a test, and can be told to misbehave on the next matching requests the way the real
service does: 503 with ``Retry-After``, a response slower than the client's time-out,
an empty page in the middle of a result, a connection cut half-way through the body.

    with FakeArxiv() as fake:
        fake.load_api_recordings(API_JSON)
        fake.fail_next("503", retry_after=1)
        settings = load_settings(arxiv_api_url=fake.api_url, arxiv_delay=0)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
OS_NS = "http://a9.com/-/spec/opensearch/1.1/"

# Which query parameters select a response (sorting does not change the recordings).
_API_KEYS = ("search_query", "id_list", "start", "max_results")


@dataclass
class Canned:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class Fault:
    kind: str  # "503" | "slow" | "empty" | "cut" | "status"
    when: Callable[[dict], bool]
    retry_after: str | None = None
    seconds: float = 0.0
    status: int = 500


_TITLE_PHRASE = re.compile(r'ti:"([^"]*)"')
# One alternative of a title search: a phrase, or phrases that are all needed.
_TITLE_CLAUSE = re.compile(r'\((ti:"[^"]*"(?: AND ti:"[^"]*")+)\)|(ti:"[^"]*")')
_WORDS = re.compile(r"[^\w]+")


def _words(text: str) -> list[str]:
    """Lower-cased words, as a title phrase query compares them (the fake's own folding)."""
    return [w for w in _WORDS.split(text.lower().replace("_", " ")) if w]


def _has_phrase(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


def _api_key(params: dict) -> tuple:
    return ("api",) + tuple(params.get(k, "") for k in _API_KEYS)


def _oai_key(params: dict) -> tuple:
    return ("oai",) + tuple(sorted(params.items()))


def empty_page(body: bytes) -> bytes:
    """The same Atom page with every entry removed (what arXiv's quirk looks like)."""
    root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    for entry in root.findall(f"{{{ATOM_NS}}}entry"):
        root.remove(entry)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class FakeArxiv:
    def __init__(self) -> None:
        self.routes: dict[tuple, Canned] = {}
        self.entries_by_id: dict[str, bytes] = {}
        self.refused_ids: set[str] = set()  # arXiv calls their format incorrect (HTTP 400, its error feed)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle
    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/query"

    @property
    def oai_url(self) -> str:
        return self.base_url + "/oai"

    def start(self) -> FakeArxiv:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeArxiv:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- content
    def add_api(self, params: dict, body: bytes, status: int = 200) -> None:
        self.routes[_api_key({k: str(v) for k, v in params.items()})] = Canned(status, body, {})

    def add_oai(self, params: dict, body: bytes, status: int = 200) -> None:
        self.routes[_oai_key({k: str(v) for k, v in params.items()})] = Canned(status, body, {})

    def load_api_recordings(self, folder: Path) -> None:
        """Index the ``{url, status_code, body}`` recordings by their query, and every
        recorded entry by its versionless id (for id_list look-ups of any combination)."""
        for path in sorted(folder.glob("*.json")):
            rec = json.loads(path.read_text(encoding="utf-8"))
            params = dict(parse_qsl(urlsplit(rec["url"]).query, keep_blank_values=True))
            body = rec["body"].encode("utf-8")
            self.add_api(params, body, rec["status_code"])
            if rec["status_code"] == 200:
                root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
                for entry in root.findall(f"{{{ATOM_NS}}}entry"):
                    eid = entry.findtext(f"{{{ATOM_NS}}}id")
                    m = re.search(r"abs/(.+?)(v\d+)?$", eid or "")
                    if m:
                        self.entries_by_id[m.group(1)] = etree.tostring(entry)

    def load_oai_harvest(self, folder: Path) -> None:
        """The recorded 3-page oai_dc harvest (from=2023-03-07) and its tokens."""
        self.add_oai({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2023-03-07"},
                     (folder / "ListRecords_data_0.xml").read_bytes())
        for n, token in ((1, "6511260|1001"), (2, "6511260|2001")):
            self.add_oai({"verb": "ListRecords", "resumptionToken": token},
                         (folder / f"ListRecords_data_{n}.xml").read_bytes())

    # -- misbehaviour
    def fail_next(self, kind: str, *, times: int = 1, when: Callable[[dict], bool] | None = None,
                  retry_after: str | None = None, seconds: float = 0.0, status: int = 500) -> None:
        """Misbehave on the next ``times`` requests matching ``when`` (default: any)."""
        for _ in range(times):
            self.faults.append(Fault(kind, when or (lambda p: True), retry_after, seconds, status))

    def _take_fault(self, params: dict) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.when(params):
                    return self.faults.pop(i)
        return None

    def _compose_id_list(self, ids: list[str]) -> bytes:
        entries = [self.entries_by_id[i] for i in ids if i in self.entries_by_id]
        head = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM_NS}" xmlns:opensearch="{OS_NS}" '
            f'xmlns:arxiv="http://arxiv.org/schemas/atom"><id>fake</id><title>id_list</title>'
            f"<opensearch:itemsPerPage>{len(ids)}</opensearch:itemsPerPage>"
            f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
            f"<opensearch:startIndex>0</opensearch:startIndex>"
        ).encode()
        return head + b"".join(entries) + b"</feed>\n"

    def _compose_title_search(self, query: str, max_results: int) -> bytes | None:
        """arXiv's answer to ``ti:"..." OR (ti:"..." AND ti:"...")``: the recorded entries
        whose title holds one alternative's phrases (None for any other kind of query)."""
        alternatives = [[_words(p) for p in _TITLE_PHRASE.findall(group or single)]
                        for group, single in _TITLE_CLAUSE.findall(query)]
        rest = _TITLE_CLAUSE.sub(" ", query).replace(" OR ", " ").strip()
        if not alternatives or rest:
            return None
        hits = []
        for entry in self.entries_by_id.values():
            words = _words(etree.fromstring(entry).findtext(f"{{{ATOM_NS}}}title") or "")
            if any(all(_has_phrase(words, p) for p in phrases) for phrases in alternatives):
                hits.append(entry)
        return self._feed(hits[:max_results], total=len(hits))

    def add_entry_like(self, arxiv_id: str, new_id: str, title: str) -> None:
        """A paper of one's own for the searches: the recorded entry ``arxiv_id`` (its
        authors, dates and the rest) as ``new_id`` with ``title``."""
        entry = etree.fromstring(self.entries_by_id[arxiv_id])
        entry.find(f"{{{ATOM_NS}}}id").text = f"http://arxiv.org/abs/{new_id}v1"
        entry.find(f"{{{ATOM_NS}}}title").text = title
        for link in entry.findall(f"{{{ATOM_NS}}}link"):
            link.set("href", link.get("href", "").replace(arxiv_id, new_id))
        self.entries_by_id[new_id] = etree.tostring(entry)

    def _feed(self, entries: list[bytes], total: int) -> bytes:
        head = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM_NS}" xmlns:opensearch="{OS_NS}" '
            f'xmlns:arxiv="http://arxiv.org/schemas/atom"><id>fake</id><title>search</title>'
            f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
            f"<opensearch:totalResults>{total}</opensearch:totalResults>"
            f"<opensearch:startIndex>0</opensearch:startIndex>"
        ).encode()
        return head + b"".join(entries) + b"</feed>\n"

    def _error_feed(self, arxiv_id: str) -> bytes:
        """arXiv's answer to an id_list naming an id it calls malformed (as recorded for "abc")."""
        anchor = f"https://arxiv.org/api/errors#incorrect_id_format_for_{arxiv_id}"
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM_NS}" xmlns:opensearch="{OS_NS}">'
                f"<id>https://arxiv.org/</id><title>arXiv Search Results</title>"
                f"<opensearch:itemsPerPage>1</opensearch:itemsPerPage><opensearch:totalResults>1</opensearch:totalResults>"
                f"<opensearch:startIndex>0</opensearch:startIndex><entry><id>{anchor}</id><title>Error</title>"
                f"<summary>incorrect id format for {arxiv_id}</summary><author><name>arXiv api core</name></author>"
                f"</entry></feed>\n").encode()

    def respond(self, path: str, params: dict) -> Canned:
        if path.endswith("/api/query"):
            canned = self.routes.get(_api_key(params))
            if canned is None and params.get("id_list") and not params.get("search_query"):
                ids = params["id_list"].split(",")
                refused = [i for i in ids if i in self.refused_ids]
                if refused:
                    return Canned(400, self._error_feed(refused[0]), {})
                return Canned(200, self._compose_id_list(ids), {})
            if canned is None and params.get("search_query") and not params.get("id_list"):
                body = self._compose_title_search(params["search_query"], int(params.get("max_results") or 10))
                if body is not None:
                    return Canned(200, body, {})
        elif path.endswith("/oai"):
            canned = self.routes.get(_oai_key(params))
        else:
            canned = None
        return canned or Canned(404, b"not recorded: " + repr(sorted(params.items())).encode(), {})

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                with fake.lock:
                    fake.requests.append((url.path, params))
                fault = fake._take_fault(params)
                canned = fake.respond(url.path, params)
                body, status, headers = canned.body, canned.status, dict(canned.headers)
                if fault is not None:
                    if fault.kind == "503":
                        status, body = 503, b"Service Unavailable"
                        if fault.retry_after is not None:
                            headers["Retry-After"] = fault.retry_after
                    elif fault.kind == "status":
                        status, body = fault.status, b"error"
                    elif fault.kind == "slow":
                        time.sleep(fault.seconds)
                    elif fault.kind == "empty":
                        body = empty_page(body)
                    elif fault.kind == "cut":
                        # Promise the whole body, send half of it, hang up.
                        self.send_response(status)
                        self.send_header("Content-Type", "application/xml; charset=utf-8")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                self.send_response(status)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its time-out): that is the point of "slow"

        return Handler

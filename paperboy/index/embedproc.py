"""Papers embedded in a child process at a lower CPU priority.

The indexer inside `paperboy serve` shares the web process. Embedding there meant that a
search could wait for the model's lock, for the GIL between torch calls, and for cores
that the indexer's torch threads held: searches took seconds while the first hour's
embedding ran. In a child process the indexer holds none of these: the web process
keeps its own model for queries, and the operating system runs a search before the
niced embedding whenever both want a core.

The child starts at the first ``embed`` (not before: a refresh with nothing to embed
loads no model), lives until ``close`` and exits by itself when its parent is gone
(the pipe closes).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection

import numpy as np

from paperboy.index.embedder import DEFAULT_MAX_SEQ_LENGTH, embedder_name, get_embedder

# Added to the child's nice value: the scheduler then gives a nice-0 search thread about
# nine tenths of a core the two share (weights 1024 and 110), and the embedding the rest
# and every idle cycle.
NICE = 10


def _serve(conn: Connection, setting: str, max_seq_length: int, nice: int, ignore_ctrl_c: bool = False) -> None:
    """The child: load the embedder, then answer ("embed", texts) until told to stop."""
    if ignore_ctrl_c:
        # Ctrl-C in a terminal reaches every process of the group, and so does a SIGTERM
        # sent to the group (`timeout`, `kill -- -PGID`). A server's child is stopped by
        # the server once the web has stopped (`paperboy serve`); dying here mid-batch
        # printed two tracebacks and cost the batch an attempt. (Its parent killed, it
        # reads the end of the pipe and returns.)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        _answer(conn, setting, max_seq_length, nice)
    except KeyboardInterrupt:  # a command's Ctrl-C (`paperboy index build`): it says so itself
        return


def _answer(conn: Connection, setting: str, max_seq_length: int, nice: int) -> None:
    if nice:
        os.nice(nice)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        emb = get_embedder(setting, max_seq_length=max_seq_length)
        conn.send(("ready", (emb.name, emb.dim, os.getpid())))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if kind == "stop":
            return
        try:
            conn.send(("ok", emb.embed(payload)))
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ProcessEmbedder:
    """An ``Embedder`` whose model runs in a child process (see the module docstring)."""

    def __init__(self, setting: str, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH, nice: int = NICE,
                 ignore_ctrl_c: bool = False) -> None:
        """``ignore_ctrl_c``: the child leaves SIGINT to its parent, which stops it (a
        server's background indexer); otherwise it stops with a command's Ctrl-C."""
        self.setting = setting
        self.max_seq_length = max_seq_length
        self.nice = nice
        self.ignore_ctrl_c = ignore_ctrl_c
        self.name = embedder_name(setting, max_seq_length=max_seq_length)
        self.pid: int | None = None
        self._dim: int | None = None
        self._proc = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._start()
        return self._dim

    def _start(self) -> None:
        with self._lock:
            if self._proc is not None:
                return
            # spawn, not fork: the parent has threads (web, worker) and maybe torch state.
            ctx = multiprocessing.get_context("spawn")
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(theirs, self.setting, self.max_seq_length, self.nice,
                                                    self.ignore_ctrl_c),
                               name="paperboy-embedder", daemon=True)
            proc.start()
            theirs.close()
            try:
                kind, payload = ours.recv()
            except EOFError:
                kind, payload = "error", f"the embedding process exited ({proc.exitcode})"
            if kind != "ready":
                ours.close()
                proc.join(10)
                raise RuntimeError(f"embedder {self.setting!r} failed to start: {payload}")
            name, self._dim, self.pid = payload
            if name != self.name:  # pragma: no cover - the same function names both
                raise RuntimeError(f"embedding process loaded {name!r}, expected {self.name!r}")
            self._proc, self._conn = proc, ours

    def embed(self, texts: list[str], *, batch_size: int = 16) -> np.ndarray:
        self._start()
        with self._lock:
            if self._conn is None:
                raise RuntimeError("the embedding process was closed")
            try:
                self._conn.send(("embed", list(texts)))
                kind, payload = self._conn.recv()  # waits without the GIL
            except (EOFError, OSError) as exc:
                raise RuntimeError("the embedding process died") from exc
        if kind != "ok":
            raise RuntimeError(f"embedding failed in the child process: {payload}")
        return payload

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def close(self, timeout: float = 30.0) -> None:
        """Stop the child (after the batch in progress, if any); a later ``embed`` starts another."""
        with self._lock:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
        if proc is None:
            return
        try:
            conn.send(("stop", None))
        except OSError:
            pass
        conn.close()
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)

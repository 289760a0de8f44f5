"""CLI commands of the index package (registered by paperboy.cli).

    paperboy index build               keyword index + embeddings + ANN, incremental, resumable
    paperboy index pull NODE_URL       copy a running node's indexes instead (resumable)
    paperboy search "QUERY" [--json]   hybrid search
    paperboy similar ARXIV_ID [--json] nearest papers
    paperboy eval beir DIR [--split test]
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from paperboy import clitools
from paperboy.index import copy
from paperboy.index.beir import load_beir
from paperboy.index.embedder import (
    DEFAULT_MAX_SEQ_LENGTH,
    PRECISIONS,
    configured_embedder,
    get_embedder,
)
from paperboy.index.evaluate import evaluate
from paperboy.index.jobs import refresh_index
from paperboy.index.service import get_search_service

index_app = typer.Typer(help="Search indexes (keyword, embeddings, vectors).", no_args_is_help=True)
eval_app = typer.Typer(help="Measure search quality.", no_args_is_help=True)


@index_app.command("build")
def index_build(
    no_embed: bool = typer.Option(False, "--no-embed", help="Only the keyword index."),
) -> None:
    """Index new and changed papers, embed what is missing, update the ANN index (resumable)."""

    s = clitools.settings()
    with clitools.handled_errors():
        engine = clitools.engine()
        started = time.perf_counter()
        stats = refresh_index(s, engine, progress=True, embed=not no_embed)
    if "skipped" in stats:
        clitools.console.print(f"[yellow]skipped[/]: {stats['skipped']}")
        raise typer.Exit(1)
    parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stats.items())
    clitools.out.print(f"index up to date in {time.perf_counter() - started:.1f}s: {parts}")


@index_app.command("pull")
def index_pull(
    node: str = typer.Argument(..., help="Base URL of a running node of this deployment, e.g. http://10.0.0.5:8000"),
) -> None:
    """Copy the keyword and vector indexes of a running node instead of building them
    (resumable: run it again after an interruption). Both nodes need the same
    PAPERBOY_SECRET_KEY; the next refresh adds what changed since the copy."""
    s = clitools.settings()
    bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=clitools.console)
    with clitools.handled_errors(), bars:
        task = bars.add_task("index files", total=None)

        def progress(name: str, done: int, total: int) -> None:
            bars.update(task, completed=done, total=total)

        try:
            stats = copy.pull(s, node, progress=progress)
        except copy.CopyError as exc:
            raise clitools.fail(str(exc)) from None
    clitools.out.print(f"index copied from {node}: {stats['files']} files, {stats['bytes'] / 1e6:.1f} MB "
                       f"in {stats['seconds']:.1f}s ({stats['resumed_bytes'] / 1e6:.1f} MB were already here)")


def _hit_dict(h) -> dict:
    return dataclasses.asdict(h)


def _print_hits(hits, show) -> None:
    import re

    from rich.markup import escape

    def plain(html_text: str) -> str:
        import html

        return html.unescape(re.sub(r"</?mark>", "", html_text))

    for i, h in enumerate(hits, 1):
        show(f"[bold]{i:>2}. {h.arxiv_id}[/] {escape(plain(h.title_html))}  [dim]{h.score:.3f}[/]")
        if h.snippet:
            show(f"    [dim]{escape(plain(h.snippet))[:300]}[/]")


def search_cmd(
    query: str = typer.Argument(..., help='Query, e.g. \'diffusion "classifier-free guidance" cat:cs.CV -survey\'.'),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000),
    offset: int = typer.Option(0, "--offset", min=0),
    sort: str = typer.Option("relevance", help="relevance, date or votes"),
    mode: str = typer.Option("hybrid", help="hybrid, keyword or semantic"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Search the papers (keyword + semantic)."""

    # The site is lenient with a bad sort or mode in a link; a command is told at once.
    if sort not in ("relevance", "date", "votes"):
        raise clitools.fail(f"--sort {sort!r}: use relevance, date or votes")
    if mode not in ("hybrid", "keyword", "semantic"):
        raise clitools.fail(f"--mode {mode!r}: use hybrid, keyword or semantic")
    with clitools.handled_errors():
        svc = get_search_service(clitools.settings(), clitools.engine())
        started = time.perf_counter()
        res = svc.search(query, limit=limit, offset=offset, sort=sort, mode=mode)
        took = time.perf_counter() - started
    if as_json:
        data = dataclasses.asdict(res)
        data["took_ms"] = round(took * 1000, 2)
        clitools.out.print_json(json.dumps(data, default=str))
    else:
        for m in res.messages:
            clitools.console.print(f"[yellow]{m}[/]")
        clitools.out.print(f"{res.total} results ({res.mode}, semantic coverage {res.semantic_coverage:.0%}, {took * 1000:.1f} ms)")
        _print_hits(res.hits, clitools.out.print)
    if res.error:
        raise typer.Exit(2)


def similar_cmd(
    arxiv_id: str = typer.Argument(..., help="arXiv id (or URL) of a stored paper."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=100),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Papers most similar to one paper."""

    with clitools.handled_errors():
        hits = get_search_service(clitools.settings(), clitools.engine()).similar(arxiv_id, limit=limit)
    if as_json:
        clitools.out.print_json(json.dumps([_hit_dict(h) for h in hits], default=str))
    else:
        if not hits:
            clitools.console.print(f"no similar papers for {arxiv_id} (unknown id, or no index yet)")
        _print_hits(hits, clitools.out.print)
    if not hits:
        raise typer.Exit(1)


@eval_app.command("beir")
def eval_beir(
    path: Path = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv."),
    split: str = typer.Option("test", help="Which qrels file to score."),
    embedder: str = typer.Option("", help="Embedder setting for the run (default: PAPERBOY_EMBEDDER)."),
    seq_length: int = typer.Option(0, help="Max word pieces per document (0: the default)."),
    query_precision: str = typer.Option("", help="Query embeddings in fp32 or bf16 (default: auto, "
                                                 "bf16 where this CPU runs it faster)."),
    precision: str = typer.Option("", help="Document embeddings in fp32, int8 or bf16 (default: "
                                           "PAPERBOY_EMBED_PRECISION); queries stay fp32."),
) -> None:
    """nDCG@10 and recall@100 of keyword, vector and hybrid search on a BEIR collection."""

    s = clitools.settings()
    with clitools.handled_errors():
        col = load_beir(path, split)
    if precision and precision not in PRECISIONS:
        raise typer.BadParameter(f"--precision: {', '.join(PRECISIONS)}")
    name = configured_embedder(s.model_copy(update={"embedder": embedder or s.embedder,
                                                    "embed_precision": precision or s.embed_precision}))
    emb = get_embedder(name, max_seq_length=seq_length or DEFAULT_MAX_SEQ_LENGTH)
    emb = emb if emb.dim else None
    if query_precision and emb is not None and hasattr(emb, "query_precision"):
        if query_precision not in ("auto", "fp32", "bf16"):
            raise typer.BadParameter("--query-precision: auto, fp32 or bf16")
        emb.query_precision, emb._query_model = query_precision, None
    clitools.console.print(f"{len(col.corpus)} documents, {len(col.qrels)} judged queries ({split}); "
                           f"embedder {emb.name if emb else 'none'}")
    with clitools.progress() as bar:
        task = bar.add_task("embedding corpus (cached)", total=len(col.corpus), status="")
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, status=f"{done / (time.perf_counter() - started):.1f} docs/s")

        results = evaluate(col, emb, s.data_dir / "eval-cache", progress=progress)
        bar.update(task, completed=len(col.corpus))
    for mode, sc in results.items():
        clitools.out.print(f"{mode:<8} nDCG@10={sc.ndcg10:.3f} recall@100={sc.recall100:.3f} ({sc.queries} queries)")
    if emb is not None and hasattr(emb, "query_dtype"):
        clitools.out.print(f"query embeddings in {emb.query_dtype}")

"""Faster CPU corpus embedding: speed against quality on SciFact test.

    nice -n 10 .venv/bin/python bench/embedfast.py [--scifact ../shared/data/ir/scifact]
        [--variants fp32@128,int8@256,...] [--speed-papers 48] [--rounds 6]
        [--cache /tmp/pbwork/embedfast]

Each variant is all-MiniLM-L6-v2 (the offline package) with one change: the word-piece
cap (``@128``), torch dynamic int8 quantisation of the Linear layers
(``torch.ao.quantization.quantize_dynamic``: ``int8`` one weight scale per output
channel, as ``PAPERBOY_EMBED_PRECISION=int8`` does; ``int8t`` one per tensor, the
function's default; ``int8f`` per channel with the feed-forward output layers left fp32)
or bfloat16 weights (``bf16``). The baseline ``fp32@256`` is what workers use today.

Speed: the same SciFact abstracts are embedded the way a worker does it (length-sorted
slices of 16 through ``SentenceTransformer.encode``), in many short rounds that each
time every variant once (rotating the order), so each ratio compares figures taken
seconds apart on the shared machine; medians of the per-round ratios are printed, with
CPU seconds per paper and the load average.

Quality: the whole SciFact corpus is embedded by each variant (vectors cached in
``--cache``), then the test queries rank it by exact cosine (the semantic mode without
the HNSW approximation or the service's cosine floor) with queries embedded by the
normal fp32@256 model (how the service would search a bulk-embedded index) and by the
variant itself. Prints nDCG@10 and recall@100, and how close each variant's document
vectors are to the baseline's (cosine). With ``--hybrid`` the fp32-query case also runs
through ``paperboy.index.evaluate`` (real keyword index, HNSW, fusion). Nothing asserts.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from paperboy.index.beir import load_beir, ndcg_at, recall_at  # noqa: E402
from paperboy.index.embedder import minilm_path, paper_text  # noqa: E402

BASE = "fp32@256"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(base, variant: str):
    """A SentenceTransformer for ``variant`` (``<precision>@<word pieces>``) from ``base``."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    precision, _, length = variant.partition("@")
    model = base if precision == "fp32" else copy.deepcopy(base)
    if precision == "int8":  # what embed_precision=int8 does: one scale per output row
        model = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig})
    elif precision == "int8t":  # quantize_dynamic's default: one scale per weight tensor
        model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    elif precision == "int8f":  # per channel, but the FFN output layers (widest inputs) kept fp32
        names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
                 and not (n.endswith("output.dense") and ".attention." not in n)}
        model = quantize_dynamic(model, {n: per_channel_dynamic_qconfig for n in names})
    elif precision == "bf16":
        model = model.to(torch.bfloat16)
    elif precision != "fp32":
        raise SystemExit(f"unknown precision {precision!r}")
    return model, int(length or 256)


def encode(model, length: int, texts: list[str], slice_: int = 16) -> np.ndarray:
    """As a worker embeds: longest first, slices of ``slice_``, L2-normalised float32 rows."""
    model.max_seq_length = length
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    out = np.zeros((len(texts), model.get_sentence_embedding_dimension()), dtype=np.float32)
    for start in range(0, len(order), slice_):
        idx = order[start:start + slice_]
        vecs = model.encode([texts[i] for i in idx], batch_size=slice_, normalize_embeddings=True,
                            convert_to_tensor=True, show_progress_bar=False)
        out[idx] = vecs.float().cpu().numpy()
    # bf16 normalises in bf16 (norms 0.997-1.003): again in fp32, as the embedder does
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def ranks(doc_vecs: np.ndarray, query_vecs: np.ndarray, ids: list[str], k: int = 100) -> list[list[str]]:
    scores = query_vecs @ doc_vecs.T
    top = np.argsort(-scores, axis=1)[:, :k]
    return [[ids[j] for j in row] for row in top]


def quality(col, doc_vecs: np.ndarray, qids: list[str], query_vecs: np.ndarray) -> tuple[float, float]:
    ids = [str(d["_id"]) for d in col.corpus]
    runs = ranks(doc_vecs, query_vecs, ids)
    nd = [ndcg_at(r, col.qrels[q], 10) for q, r in zip(qids, runs, strict=True)]
    rc = [recall_at(r, col.qrels[q], 100) for q, r in zip(qids, runs, strict=True)]
    return float(np.mean(nd)), float(np.mean(rc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/ir/scifact")
    ap.add_argument("--variants", default="fp32@128,int8@256,int8@128,int8t@256,int8f@256,bf16@256,bf16@128")
    ap.add_argument("--speed-papers", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/pbwork/embedfast"))
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--hybrid", action="store_true", help="also score hybrid search through paperboy.index.evaluate")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    variants = [BASE] + [v for v in args.variants.split(",") if v and v != BASE]
    base = SentenceTransformer(minilm_path(), device="cpu").eval()
    models = {v: build(base, v) for v in variants}
    col = load_beir(args.scifact, "test")
    texts = [paper_text(d.get("title", ""), d.get("text", "")) for d in col.corpus]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, quantized engine "
          f"{torch.backends.quantized.engine}; {len(texts)} SciFact documents; load {load()}")

    if not args.skip_speed:
        speed(models, variants, texts, args.speed_papers, args.rounds)

    if args.skip_quality:
        return
    digest = hashlib.sha1("\x01".join(texts).encode()).hexdigest()[:12]
    args.cache.mkdir(parents=True, exist_ok=True)
    docs: dict[str, np.ndarray] = {}
    for v, (m, n) in models.items():
        f = args.cache / f"scifact-{digest}-{v.replace('@', '-')}.npy"
        if f.exists():
            docs[v] = np.load(f)
            docs[v] /= np.linalg.norm(docs[v], axis=1, keepdims=True)
            continue
        before, t = load(), time.perf_counter()
        docs[v] = encode(m, n, texts)
        took = time.perf_counter() - t
        print(f"corpus {v}: {len(texts)} in {took:.0f} s, {len(texts) / took:.1f} papers/s (load {before} -> {load()})")
        np.save(f, docs[v])
    qids = [q for q in col.qrels if q in col.queries]
    qtexts = [col.queries[q] for q in qids]
    queries = {v: encode(m, n, qtexts) for v, (m, n) in models.items()}

    print(f"\nSciFact test, {len(qids)} queries, semantic (exact cosine): nDCG@10 / recall@100")
    b_nd, b_rc = quality(col, docs[BASE], qids, queries[BASE])
    print(f"  {BASE:10s} {b_nd:.4f} / {b_rc:.4f}")
    for v in variants[1:]:
        nd_f, rc_f = quality(col, docs[v], qids, queries[BASE])
        nd_v, rc_v = quality(col, docs[v], qids, queries[v])
        cos = np.sum(docs[v] * docs[BASE], axis=1)
        qcos = np.sum(queries[v] * queries[BASE], axis=1)
        print(f"  {v:10s} fp32 queries {nd_f:.4f} / {rc_f:.4f} ({(nd_f - b_nd) * 100:+.2f} pt nDCG); "
              f"{v} queries {nd_v:.4f} / {rc_v:.4f} ({(nd_v - b_nd) * 100:+.2f} pt)")
        print(f"  {'':10s} cosine to fp32@256: documents min {cos.min():.4f} p1 {np.percentile(cos, 1):.4f} "
              f"median {np.median(cos):.4f}; queries min {qcos.min():.4f} median {np.median(qcos):.4f}")

    if args.hybrid:
        hybrid(col, docs, variants, models, args.cache)


def speed(models: dict, variants: list[str], texts: list[str], papers: int, rounds: int) -> None:
    """Many short rounds, each timing every variant once on the same papers (the order
    rotates), so a change of load hits all of them alike; per round, each variant's
    speed is divided by the baseline's of that round, and the medians are printed. Also
    CPU seconds per paper (this process's, both torch threads): steadier than the wall
    clock on a machine whose load swings."""
    rng = np.random.default_rng(7)
    sample = [texts[i] for i in rng.choice(len(texts), papers, replace=False)]
    for m, n in models.values():
        encode(m, n, sample[:16])  # warm up (allocations, oneDNN kernels)
    wall: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    print(f"speed: {rounds} rounds x {papers} papers per variant; load {load()}")
    for round_ in range(rounds):
        order = variants[round_ % len(variants):] + variants[:round_ % len(variants)]
        for v in order:
            m, n = models[v]
            t, c = time.perf_counter(), time.process_time()
            encode(m, n, sample)
            wall[v].append(len(sample) / (time.perf_counter() - t))
            cpu[v].append((time.process_time() - c) / len(sample))
        print(f"  round {round_ + 1}: " + ", ".join(f"{v} {wall[v][-1]:.1f}/s" for v in variants) + f"; load {load()}")
    print("\nvariant     papers/s median (min-max)   x fp32@256 same round: median (min-max)   CPU ms/paper  x by CPU")
    for v in variants:
        ratios = [r / b for r, b in zip(wall[v], wall[BASE], strict=True)]
        cpu_ms = float(np.median(cpu[v])) * 1000
        print(f"  {v:10s} {np.median(wall[v]):6.1f} ({min(wall[v]):.1f}-{max(wall[v]):.1f})"
              f"          x{np.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
              f"                   {cpu_ms:7.1f}     x{np.median(cpu[BASE]) / np.median(cpu[v]):.2f}")


class _Fixed:
    """An embedder whose corpus vectors are precomputed (a variant's) and whose queries
    are the baseline fp32 model's: what the service does over a bulk-embedded index."""

    def __init__(self, name: str, vecs: np.ndarray, texts: list[str], query_model) -> None:
        self.name, self.dim = name, vecs.shape[1]
        self._by_text = {t: v for t, v in zip(texts, vecs, strict=True)}
        self._q = query_model

    def embed(self, texts: list[str], *, batch_size: int = 16) -> np.ndarray:
        return np.stack([self._by_text[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return encode(self._q, 256, [text])[0]


def hybrid(col, docs, variants, models, cache: Path) -> None:
    from paperboy.index.evaluate import evaluate

    texts = [paper_text(d.get("title", ""), d.get("text", "")) for d in col.corpus]
    print("\nthrough the service (HNSW, cosine floor, fusion), fp32 queries: nDCG@10 / recall@100")
    for v in variants:
        with tempfile.TemporaryDirectory() as tmp:
            emb = _Fixed(f"bench-{v}", docs[v], texts, models[BASE][0])
            res = evaluate(col, emb, Path(tmp))
        print(f"  {v:10s} " + "; ".join(f"{mode} {s.ndcg10:.4f} / {s.recall100:.4f}" for mode, s in res.items()))


if __name__ == "__main__":
    main()

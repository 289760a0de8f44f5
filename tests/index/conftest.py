"""A small hand-written corpus on each backend, indexed with the deterministic hash embedder."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from paperboy.config import Settings
from paperboy.index.jobs import refresh_index
from paperboy.index.service import SearchService
from paperboy.ingest.normalise import make_record
from paperboy.ingest.pipeline import upsert_batch
from paperboy.store.models import Paper, utcnow

CORPUS = [
    # arxiv_id, title, abstract, authors, categories, announced_on
    ("2401.00001", "Graph neural networks for molecules",
     "We study message passing on molecular graphs and predict chemical properties.",
     ["Alice Smith", "Bob Jones"], ["cs.LG", "q-bio.BM"], dt.date(2024, 1, 10)),
    ("2401.00002", "Protein folding with deep learning",
     "A transformer predicts protein structure; graph neural networks are used as a baseline only.",
     ["Carol White"], ["q-bio.BM"], dt.date(2024, 1, 11)),
    ("2402.00003", "A survey of graph neural networks",
     "This survey reviews graph neural networks, message passing and their applications.",
     ["Dan Brown"], ["cs.LG"], dt.date(2024, 2, 5)),
    ("2403.00004", "Vision transformers at scale",
     "We train vision transformers on billions of images and study scaling laws.",
     ["Yann LeCun", "Eve Black"], ["cs.CV"], dt.date(2024, 3, 1)),
    ("2406.00005", "Robot grasping in clutter",
     "A robot learns grasping policies in clutter from depth images with reinforcement learning.",
     ["Frank Green"], ["cs.RO"], dt.date(2024, 6, 20)),
    ("2407.00006", "Diffusion models for image generation",
     "Classifier-free guidance improves sample quality of diffusion models for image generation.",
     ["Grace Hall", "Yann LeCun"], ["cs.CV", "cs.LG"], dt.date(2024, 7, 2)),
    ("2501.00007", "Energy based models revisited",
     "Energy based models and joint embedding predictive architectures learn world models.",
     ["Yann LeCun"], ["cs.LG"], dt.date(2025, 1, 15)),
    ("2502.00008", "Molecular property prediction with message passing",
     "Message passing neural networks on molecular graphs predict chemical properties of molecules.",
     ["Ivan Gray"], ["physics.chem-ph", "cs.LG"], dt.date(2025, 2, 1)),
]


def add_papers(engine, rows, **fields) -> None:
    records = [
        make_record(arxiv_id=a, title=t, abstract=ab, authors=au, categories=c, announced_on=d, source="listing", **fields)
        for a, t, ab, au, c, d in rows
    ]
    with engine.begin() as conn:
        upsert_batch(conn, records)


def set_paper(engine, arxiv_id: str, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.arxiv_id == arxiv_id).values(modified_at=utcnow(), **values))


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, embedder="hash")


@pytest.fixture
def corpus(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False)
    return fresh_engine


@pytest.fixture
def service(corpus, settings):
    return SearchService(settings, corpus)


def ids(results) -> list[str]:
    return [h.arxiv_id for h in results.hits]

"""bench/snapshot_gen.py writes Kaggle lines that the real `paperboy ingest snapshot`
imports whole, with the distributions it measured from the shared real sample."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.config import get_settings
from paperboy.store.db import make_engine
from paperboy.store.models import Author, Paper, PaperAuthor, PaperCategory

GEN = Path(__file__).resolve().parents[2] / "bench" / "snapshot_gen.py"
RECORDS = 3000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("bench_snapshot_gen", GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample(gen):
    return gen.measure_sample()


@pytest.fixture(scope="module")
def snapshot(gen, sample, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "snapshot.json"
    gen.write_snapshot(path, RECORDS, seed=5, sample=sample)
    return path


def test_the_same_seed_writes_the_same_bytes(gen, sample, snapshot, tmp_path):
    again = tmp_path / "again.json"
    gen.write_snapshot(again, RECORDS, seed=5, sample=sample)
    assert again.read_bytes() == snapshot.read_bytes()
    gen.write_snapshot(again, RECORDS, seed=6, sample=sample)
    assert again.read_bytes() != snapshot.read_bytes()


def test_distributions_match_the_sample(gen, sample, snapshot):
    got, want = gen.measure_snapshot(snapshot), gen.sample_figures(sample)
    assert got["papers"] == RECORDS
    for key in ("title_words", "abstract_words"):
        for g, w in zip(got[key], want[key], strict=True):  # 10th, 50th, 90th percentiles
            assert abs(g - w) <= max(1, 0.06 * w), (key, got[key], want[key])
    assert got["authors_mean"] == pytest.approx(want["authors_mean"], rel=0.1)
    assert got["cross_listed"] == pytest.approx(want["cross_listed"], abs=0.04)
    assert got["versions_mean"] == pytest.approx(want["versions_mean"], abs=0.15)
    top = list(want["primary_share"])[:3]
    assert list(got["primary_share"])[:3] == top
    for cat in top:
        assert got["primary_share"][cat] == pytest.approx(want["primary_share"][cat], abs=0.04)
    # Author names reuse as on the sample's Heaps curve at this file's size.
    assert got["distinct_names"] == pytest.approx(gen.expected_distinct_names(sample, got["author_slots"]), rel=0.05)
    assert got["years"][0] <= 1993 and got["years"][1] == 2026  # arXiv from 1991; 0.01 % in 1991


def test_as_many_papers_use_each_word_as_in_the_sample(gen, sample, snapshot, tmp_path):
    """A keyword index's posting lists (and a conjunction's cost) follow how many papers
    use each word; words drawn one by one from the vocabulary spread each over more papers
    than real text, where a paper about a thing repeats its word and others never use it."""
    got = gen.doc_freq_ratio(gen.measure_snapshot(snapshot)["abstract_doc_freq"], sample.abstract_doc_freq)
    assert 0.93 <= got["median"] <= 1.1 and got["p90"] <= 1.3, got
    drawn = tmp_path / "unigram.json"
    gen.write_snapshot(drawn, RECORDS, seed=5, sample=sample, text="unigram")
    spread = gen.doc_freq_ratio(gen.measure_snapshot(drawn)["abstract_doc_freq"], sample.abstract_doc_freq)
    assert spread["p90"] > got["p90"] + 0.2, (spread, got)  # what the check tells apart


def test_ids_follow_the_dates_in_arxivs_schemes(snapshot):
    ids = []
    with snapshot.open("rb") as fh:
        for line in fh:
            o = orjson.loads(line)
            ids.append(o["id"])
            _, _, mon, year, *_ = o["versions"][0]["created"].split()
            yymm = f"{int(year) % 100:02d}{MONTHS.index(mon) + 1:02d}"
            if (int(year), MONTHS.index(mon) + 1) < (2007, 4):
                assert re.fullmatch(rf"[a-z-]+/{yymm}\d{{3}}", o["id"]), o["id"]
                assert o["id"].split("/")[0] == o["categories"].split()[0].split(".")[0]
            elif int(year) < 2015:
                assert re.fullmatch(rf"{yymm}\.\d{{4}}", o["id"]), o["id"]
            else:
                assert re.fullmatch(rf"{yymm}\.\d{{5}}", o["id"]), o["id"]
            dates = [v["created"] for v in o["versions"]]
            assert [v["version"] for v in o["versions"]] == [f"v{i}" for i in range(1, len(dates) + 1)]
            assert o["update_date"] >= "1991-08-01"
    assert ids == sorted(ids) and len(set(ids)) == RECORDS  # the Kaggle file's order


def test_imports_whole_through_the_snapshot_command(gen, snapshot, fresh_url, monkeypatch):
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ingest", "snapshot", str(snapshot), "--batch-size", "700"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{RECORDS} new, 0 updated, 0 unchanged, 0 failed" in result.output, result.output
    figures = gen.measure_snapshot(snapshot)
    lines = [orjson.loads(line) for line in snapshot.read_bytes().splitlines()]
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Paper)) == RECORDS
            assert conn.scalar(select(func.count()).select_from(PaperAuthor)) == figures["author_slots"]
            assert conn.scalar(select(func.count()).select_from(Author)) == figures["distinct_names"]
            assert conn.scalar(select(func.count()).select_from(PaperCategory)) == sum(
                len(o["categories"].split()) for o in lines)
            last = lines[-1]
            title, version = conn.execute(select(Paper.title, Paper.version).where(
                Paper.arxiv_id == last["id"])).one()
            assert title == " ".join(last["title"].split())
            assert version == len(last["versions"])
    finally:
        engine.dispose()

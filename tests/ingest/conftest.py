from __future__ import annotations

import pytest

from paperboy.config import load_settings
from tests.conftest import SHARED_DATA
from tests.support.fake_arxiv import FakeArxiv

API = SHARED_DATA / "arxiv" / "api"
API_XML = API / "new_api_2026_body_xml"
API_JSON = API / "new_api_2026_json_wrapped"
API_LEGACY = API / "legacy_api_2016_xml"
OAI = SHARED_DATA / "arxiv" / "oai-pmh"
KAGGLE = SHARED_DATA / "arxiv" / "kaggle" / "arxiv-metadata-oai-snapshot.head200.json"


@pytest.fixture
def fake_arxiv(shared_data):
    with FakeArxiv() as fake:
        fake.load_api_recordings(API_JSON)
        fake.load_oai_harvest(OAI)
        yield fake


@pytest.fixture
def fake_settings(fake_arxiv, tmp_path):
    """Settings pointing at the fake arXiv, without the 3 s politeness delay."""
    return load_settings(
        data_dir=tmp_path, arxiv_api_url=fake_arxiv.api_url, arxiv_oai_url=fake_arxiv.oai_url,
        arxiv_delay=0, http_timeout=1.0, http_retries=3,
    )

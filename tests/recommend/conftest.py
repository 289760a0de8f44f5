"""The recommend tests use the community tests' site: an app on a fresh database and
members who sign in through the real forms."""

import pytest

from paperboy.rank import foryou
from tests.community.conftest import site  # noqa: F401  (the fixture)


@pytest.fixture(autouse=True)
def _fresh_pools():
    """Candidates are cached per process for minutes; every test starts without them."""
    foryou.POOLS.clear()
    yield
    foryou.POOLS.clear()

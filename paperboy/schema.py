"""The whole schema: importing every package's models registers them on Base.metadata,
so migrations (``store/migrations/env.py``) and tests see every table.

It sits above every package that owns tables (store's core tables, community, digest,
index, mail, rank, worker), so no lower layer has to know about the ones above it."""

import paperboy.community.models  # noqa: F401
import paperboy.digest.models  # noqa: F401
import paperboy.index.models  # noqa: F401
import paperboy.mail.models  # noqa: F401
import paperboy.rank.models  # noqa: F401
import paperboy.worker.models  # noqa: F401
from paperboy.store.models import Base

metadata = Base.metadata

"""The whole schema: importing every stage's models registers them on Base.metadata."""

import paperboy.community.models  # noqa: E402,F401
import paperboy.digest.models  # noqa: E402,F401

# Each stage that owns tables is imported here so migrations and tests see them all.
import paperboy.index.models  # noqa: E402,F401
import paperboy.mail.models  # noqa: E402,F401
from paperboy.store.models import Base

metadata = Base.metadata

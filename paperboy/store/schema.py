"""The whole schema: importing every package's models registers them on Base.metadata,
so migrations and tests see every table."""

import paperboy.community.models  # noqa: F401
import paperboy.digest.models  # noqa: F401
import paperboy.index.models  # noqa: F401
import paperboy.mail.models  # noqa: F401
import paperboy.worker.models  # noqa: F401
from paperboy.store.models import Base

metadata = Base.metadata

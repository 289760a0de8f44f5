"""The reading pages: daily/weekly/monthly feeds, trending, search, paper, author and
category pages, and the RSS/Atom/JSON feeds."""

"""The JSON API under /api and its documentation page /docs."""

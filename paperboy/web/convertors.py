"""Path convertors.

``{arxiv_id:arxiv}``: new-style (2403.01234) and old-style (hep-th/9901001) arXiv ids,
with an optional version. Routes that use it only see ids, so ``/papers/<id>/vote`` and
other sub-paths stay free for other routers.

``{x:id}``: a row id. Row ids are ``integer`` columns, 32 bits on PostgreSQL: a number
past the largest (2**31 - 1) becomes 0, which no row has, and longer numbers than 19
digits do not match the route (404), so no database is ever asked about a number it
cannot hold (PostgreSQL answered such a look-up with an error, a 500)."""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor


class ArxivIdConvertor(Convertor):
    regex = r"(?:\d{4}\.\d{4,5}|[a-zA-Z][a-zA-Z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?:v\d+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


MAX_ID = 2**31 - 1  # PostgreSQL's integer, the type of every row id (store/models.py)


class RowIdConvertor(Convertor):
    regex = r"[0-9]{1,19}"

    def convert(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0

    def to_string(self, value: int) -> str:
        return str(value)


if "id" not in CONVERTOR_TYPES:
    register_url_convertor("id", RowIdConvertor())
if "arxiv" not in CONVERTOR_TYPES:
    register_url_convertor("arxiv", ArxivIdConvertor())

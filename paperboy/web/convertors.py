"""Path convertors.

``{arxiv_id:arxiv}``: new-style (2403.01234) and old-style (hep-th/9901001) arXiv ids,
with an optional version. Routes that use it only see ids, so ``/papers/<id>/vote`` and
other sub-paths stay free for other routers.

``{x:id}``: a row id. Longer numbers than any stored id do not match the route (404),
and a 19-digit number past the largest 64-bit integer becomes 0, which no row has, so
no database is ever asked about a number it cannot hold."""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor


class ArxivIdConvertor(Convertor):
    regex = r"(?:\d{4}\.\d{4,5}|[a-zA-Z][a-zA-Z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?:v\d+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


MAX_ID = 2**63 - 1


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

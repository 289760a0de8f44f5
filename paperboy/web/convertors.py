"""The ``{arxiv_id:arxiv}`` path convertor: new-style (2403.01234) and old-style
(hep-th/9901001) arXiv ids, with an optional version. Routes that use it only see ids,
so ``/papers/<id>/vote`` and other sub-paths stay free for other routers."""

from __future__ import annotations

from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor


class ArxivIdConvertor(Convertor):
    regex = r"(?:\d{4}\.\d{4,5}|[a-zA-Z][a-zA-Z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?:v\d+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


if "arxiv" not in CONVERTOR_TYPES:
    register_url_convertor("arxiv", ArxivIdConvertor())

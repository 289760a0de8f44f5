"""OAI-PMH ListRecords pages in arXiv's own metadata format, written for these tests
after arXiv's published schema (http://arxiv.org/OAI/arXiv.xsd)."""

from __future__ import annotations

from xml.sax.saxutils import escape

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<responseDate>2025-03-20T10:00:00Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXiv" set="cs">http://export.arxiv.org/oai2</request>
<ListRecords>
"""


def arxiv_record(r: dict) -> str:
    if r.get("deleted"):
        return (f'<record><header status="deleted"><identifier>oai:arXiv.org:{r["id"]}</identifier>'
                f"<datestamp>2025-03-19</datestamp></header></record>\n")
    authors = "".join(
        "<author>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in a.items()) + "</author>"
        for a in r.get("authors", [])
    )
    optional = "".join(
        f"<{tag}>{escape(r[tag])}</{tag}>"
        for tag in ("updated", "comments", "msc-class", "acm-class", "journal-ref", "doi", "license")
        if tag in r
    )
    return f"""<record>
<header><identifier>oai:arXiv.org:{r["id"]}</identifier><datestamp>2025-03-19</datestamp><setSpec>cs</setSpec></header>
<metadata>
<arXiv xmlns="http://arxiv.org/OAI/arXiv/" xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">
<id>{escape(r["id"])}</id><created>{r["created"]}</created>{optional}
<authors>{authors}</authors>
<title>{escape(r["title"])}</title>
<categories>{r["categories"]}</categories>
<abstract>{escape(r["abstract"])}</abstract>
</arXiv>
</metadata>
</record>
"""


def arxiv_page(records: list[dict], token: str | None, cursor: int = 0, size: int | None = None) -> bytes:
    tok = ""
    if token is not None or size is not None:
        tok = f'<resumptionToken cursor="{cursor}" completeListSize="{size or 0}">{token or ""}</resumptionToken>'
    return (HEAD + "".join(arxiv_record(r) for r in records) + tok + "</ListRecords></OAI-PMH>\n").encode()


def oai_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f'<responseDate>2025-03-20T10:00:00Z</responseDate><request verb="ListRecords">x</request>'
        f'<error code="{code}">{message}</error></OAI-PMH>'
    ).encode()


PAGE_1 = [
    {
        "id": "2503.00001", "created": "2025-03-01", "updated": "2025-03-10",
        "authors": [{"keyname": "Bal\\'azs", "forenames": "Csaba"}, {"keyname": "King", "forenames": "Martin L.", "suffix": "Jr"}],
        "title": "Learning to rank\n  under drift", "categories": "cs.LG stat.ML",
        "comments": "12 pages; code at https://github.com/example/drift", "msc-class": "68T05, 62H30",
        "acm-class": "I.2.6; H.3.3", "journal-ref": "J. Mach. Learn. 1 (2025) 1", "doi": "10.1000/xyz123",
        "license": "http://creativecommons.org/licenses/by/4.0/",
        "abstract": "  We study ranking\nwhen the data drift.\n",
    },
    {"id": "cs/0112017", "created": "2001-12-14", "authors": [{"keyname": "Old", "forenames": "A."}],
     "title": "An old-style identifier", "categories": "cs.DL", "abstract": "Old."},
    {"id": "2503.00002", "deleted": True},
]
PAGE_2 = [
    {"id": "2503.00003", "created": "2025-03-02", "authors": [{"keyname": "Noether", "forenames": "Emmy"}],
     "title": "Symmetry in transformers", "categories": "cs.CL cs.LG", "abstract": "Symmetries."},
    {"id": "2503.00004", "created": "2025-13-45", "authors": [{"keyname": "Bad", "forenames": "Date"}],
     "title": "A record with a bad date", "categories": "cs.AI", "abstract": "x"},
    {"id": "25030.0005", "created": "2025-03-02", "authors": [{"keyname": "Bad", "forenames": "Id"}],
     "title": "A record with a bad id", "categories": "cs.AI", "abstract": "x"},
]

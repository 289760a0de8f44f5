"""Safe XML parsing for sources: no entity expansion, no DTDs, no network."""

from __future__ import annotations

from lxml import etree

from paperboy.ingest.http import SourceError


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False,
    )


def parse_xml(content: bytes, where: str) -> etree._Element:
    """Parse a whole document or raise SourceError naming ``where`` and the line."""
    if not content or not content.strip():
        raise SourceError(f"{where}: empty response where XML was expected")
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None) or (exc.position[0] if getattr(exc, "position", None) else "?")
        raise SourceError(f"{where}: line {line}: malformed XML ({exc.msg})") from None
    if root is None:
        raise SourceError(f"{where}: no XML document")
    # A document type declaring entities is hostile or broken; we never expand them.
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None and tree.docinfo.internalDTD.entities():
        raise SourceError(f"{where}: XML declares entities (refused)")
    return root


def text_of(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    return "".join(el.itertext())

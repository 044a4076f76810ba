"""XSD validation shared by the sandbox's XML formats (EGISSO packages, the accompaniment export)."""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

# A schema's error_log lives on the shared cached object: validate one document at a time per process.
_VALIDATION_LOCK = threading.Lock()


def safe_parser() -> Any:
    """A fresh parser (lxml parsers are not thread-safe) that never expands entities, loads DTDs or
    touches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False)


def validate_document(schema: Any, xml_bytes: bytes, what: str) -> list[str]:
    """XSD errors of ``xml_bytes`` as ``line N: message`` strings; [] if valid. ``what`` names the format."""
    try:
        document = etree.fromstring(xml_bytes, safe_parser())
    except etree.XMLSyntaxError as error:
        return [f"not well-formed: {error}"]
    # No real file has one, and unexpanded entity references make libxml2's validator fail internally.
    if document.getroottree().docinfo.doctype:
        return [f"a DOCTYPE is not allowed in {what}"]
    with _VALIDATION_LOCK:
        if schema.validate(document):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]

"""Check a trace against the raw bytes: the payload's sha256, and the record's pointer inside it.

A staged record keeps the JSON pointer (``/entry/3/resource``) or XPath (``/export/szn:family[2]``) of the
record in its payload. Resolving it again proves the trace ends at the bytes the agency sent and gives the
record's line and byte offset in an XML file. XML steps are matched by local name (the prefixes are the
mapping's, not the document's) and ``[n]`` counts same-named siblings, as the mapper wrote it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg2.extensions
from lxml import etree  # type: ignore[import-untyped]

from registry import staging

Conn = psycopg2.extensions.connection
RESOLVE_LIMIT = 64 << 20
"""Payloads above this size are verified by hash only (a pointer in a 1 GB file is not parsed here)."""


class PayloadCache:
    """Payload bytes and parsed documents, each loaded once per lineage query."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self._bytes: dict[int, bytes] = {}
        self._docs: dict[int, Any] = {}

    def data(self, payload_id: int) -> bytes:
        if payload_id not in self._bytes:
            self._bytes[payload_id] = b"".join(staging.payload_bytes(self.conn, payload_id))
        return self._bytes[payload_id]

    def document(self, payload_id: int, content_type: str) -> Any:
        if payload_id not in self._docs:
            self._docs[payload_id] = _parse(self.data(payload_id), content_type)
        return self._docs[payload_id]


def verify(
    cache: PayloadCache, payload_id: int, sha256: str, content_type: str, pointer: str | None, size: int
) -> dict[str, Any]:
    """{sha256_ok, pointer_resolved, line, byte_offset, node}: the trace checked against the stored bytes."""
    out: dict[str, Any] = {"sha256_ok": hashlib.sha256(cache.data(payload_id)).hexdigest() == sha256}
    if pointer is None or size > RESOLVE_LIMIT:
        return {**out, "pointer_resolved": None}
    doc = cache.document(payload_id, content_type)
    if doc is None:
        return {**out, "pointer_resolved": False}
    if isinstance(doc, tuple):
        root, data = doc
        element = resolve_xpath(root, pointer)
        if element is None:
            return {**out, "pointer_resolved": False}
        line = int(element.sourceline or 0)
        return {**out, "pointer_resolved": True, "line": line, "byte_offset": _line_offset(data, line)}
    node = resolve_json_pointer(doc, pointer)
    return {**out, "pointer_resolved": node is not _MISSING, "node": _describe(node)}


def _parse(data: bytes, content_type: str) -> Any:
    """A JSON document, or (XML root, bytes); None when the bytes do not parse."""
    if "json" in content_type:
        try:
            return json.loads(data)
        except ValueError:
            return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser), data
    except etree.XMLSyntaxError:
        return None


_MISSING = object()


def resolve_json_pointer(doc: Any, pointer: str) -> Any:
    """The node at an RFC 6901 JSON pointer, or ``_MISSING``."""
    node = doc
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return _MISSING
    return node


def resolve_xpath(root: Any, pointer: str) -> Any:
    """The element at the mapper's XPath (``/a/p:b[2]/p:c[1]``), or None."""
    steps = [s for s in pointer.split("/") if s]
    if not steps or _local(steps[0]) != etree.QName(root).localname:
        return None
    element = root
    for step in steps[1:]:
        name, index = _local(step), _index(step)
        same = [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]
        if len(same) < index:
            return None
        element = same[index - 1]
    return element


def _local(step: str) -> str:
    return step.split("[", 1)[0].rpartition(":")[2]


def _index(step: str) -> int:
    if "[" not in step:
        return 1
    text = step.split("[", 1)[1].rstrip("]")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def _line_offset(data: bytes, line: int) -> int:
    """Byte offset of the start of 1-based ``line``."""
    offset = 0
    for _ in range(max(0, line - 1)):
        nxt = data.find(b"\n", offset)
        if nxt < 0:
            break
        offset = nxt + 1
    return offset


def _describe(node: Any) -> dict[str, Any] | None:
    """What the pointer found, by shape and id only (never a personal value)."""
    if node is _MISSING:
        return None
    if isinstance(node, dict):
        return {"type": "object", "resourceType": node.get("resourceType"), "id": node.get("id")}
    return {"type": type(node).__name__}

"""Read the records of a payload for a mapping: streaming, hardened XML and JSON pages.

XML is parsed with a pull parser fed in blocks, so memory stays flat for a file of any size: each record
element is mapped when it ends, then cleared with its preceding siblings. The parser never loads a DTD,
never expands entities, never touches the network, and keeps libxml2's depth and text-size limits
(``huge_tree`` off); a document that declares a DOCTYPE is refused outright (XXE, billion laughs).

XSD validation is per record: when a record ends, a small document is built from copies of its ancestors
(tag, attributes, namespaces), their earlier children that are not records (headers) and the record, and
validated on its own. Only errors located in the record are its errors: what the partial document lacks
after the record (later records, trailers) and cross-record constraints (xs:unique) are not the record's
fault. Records parsed ahead in the same block, and the cleared earlier ones, never enter the check.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from lxml import etree  # type: ignore[import-untyped]

from mapper.engine import CompiledRecord, Mapping, RecordResult
from mapper.paths import Binding, bind_namespaces
from schemas.privacy import shape

BLOCK = 1 << 20
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass
class SourceRecord:
    """One record read from a payload, with what the mapping made of it."""

    pointer: str
    raw: bytes
    result: RecordResult
    position: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    xsd_errors: list[str] = field(default_factory=list)


@dataclass
class PayloadFailure:
    """The payload itself could not be read further (parse error, hostile input)."""

    reason_code: str
    reason: str
    position: dict[str, Any] = field(default_factory=dict)


SchemaFor = Callable[[str], "etree.XMLSchema | None"]
"""Root namespace URI → the XSD to validate records with (None: no validation)."""


def read_json(payload: bytes, mapping: Mapping) -> Iterator[SourceRecord | PayloadFailure]:
    """The records of a JSON page for every record spec of ``mapping``."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        yield PayloadFailure("parse_error", f"not valid JSON{where}: {type(exc).__name__}")
        return
    selectors = dict.fromkeys(s for r in mapping.records for s in r.spec.selectors)
    for selector in selectors:
        specs = mapping.specs_for(selector)
        for node, pointer in walk_json(doc, selector):
            yield _map(specs, node, pointer, (), partial(_json_bytes, node))


def _json_bytes(node: Any) -> bytes:
    return json.dumps(node, ensure_ascii=False).encode()


def walk_json(doc: Any, selector: str) -> Iterator[tuple[Any, str]]:
    """Nodes matching a dotted selector with ``[*]`` wildcards, with their JSON pointers."""
    nodes: list[tuple[Any, str]] = [(doc, "")]
    for step in selector.split("."):
        name, wildcard = (step[:-3], True) if step.endswith("[*]") else (step, False)
        nxt: list[tuple[Any, str]] = []
        for node, ptr in nodes:
            value = node.get(name) if name and isinstance(node, dict) else (node if not name else None)
            here = f"{ptr}/{name}" if name else ptr
            if wildcard and isinstance(value, list):
                nxt += [(item, f"{here}/{i}") for i, item in enumerate(value)]
            elif not wildcard and value is not None:
                nxt.append((value, here))
        nodes = nxt
    yield from nodes


def _map(specs: list[CompiledRecord], node: Any, pointer: str, binding: Binding,
         raw: Callable[[], bytes]) -> SourceRecord:
    for spec in specs:
        if spec.applies(node, binding):
            return SourceRecord(pointer, raw(), spec.apply(node, pointer, binding))
    return SourceRecord(pointer, b"", RecordResult("(no spec applies)"))


class _LineIndex:
    """Byte offsets of line starts for the last few blocks fed, to place records in the file."""

    def __init__(self) -> None:
        self.lines: list[int] = [1]
        self.offsets: list[int] = [0]
        self.fed = 0
        self.line = 1

    def feed(self, block: bytes) -> None:
        start = 0
        while (i := block.find(b"\n", start)) >= 0:
            self.line += 1
            self.lines.append(self.line)
            self.offsets.append(self.fed + i + 1)
            start = i + 1
        self.fed += len(block)
        if len(self.lines) > 200_000:  # keep memory flat: forget lines far behind the parser
            del self.lines[:100_000], self.offsets[:100_000]

    def offset_of(self, line: int | None) -> int | None:
        if line is None:
            return None
        i = bisect.bisect_left(self.lines, line)
        return self.offsets[i] if i < len(self.lines) and self.lines[i] == line else None


def read_xml(stream: IO[bytes], mapping: Mapping, schema_for: SchemaFor | None = None,
             strict: bool = True) -> Iterator[SourceRecord | PayloadFailure]:
    """Stream the records of an XML payload; stops with a ``PayloadFailure`` when the XML breaks."""
    tags = _record_tags(mapping)
    parser = etree.XMLPullParser(events=("start", "end"), resolve_entities=False, no_network=True,
                                 load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    index, state = _LineIndex(), _XmlState(mapping, schema_for, strict, tags)
    first = True
    while block := stream.read(BLOCK):
        if first and _DOCTYPE.search(block[:65536]):
            yield PayloadFailure("hostile_input", "document declares a DOCTYPE or ENTITY (refused: XXE risk)")
            return
        first = False
        index.feed(block)
        try:
            parser.feed(block)
            yield from state.drain(parser, index)
        except etree.XMLSyntaxError as exc:
            yield _syntax_failure(exc, index)
            return
    try:
        parser.close()
        yield from state.drain(parser, index)
    except etree.XMLSyntaxError as exc:
        yield _syntax_failure(exc, index)


def _syntax_failure(exc: Any, index: _LineIndex) -> PayloadFailure:
    line = getattr(exc, "lineno", None)
    message = re.sub(r"'[^']*'", "'…'", str(getattr(exc, "msg", exc)))  # libxml2 may quote content
    return PayloadFailure("parse_error", f"XML is not well-formed at line {line}: {message}",
                          {"line": line, "byte_offset": index.offset_of(line)})


def _record_tags(mapping: Mapping) -> dict[str, str]:
    """Clark-notation tag → selector, for every namespace a selector's prefix may stand for."""
    choices = mapping.spec.namespace_choices()
    tags: dict[str, str] = {}
    for record in mapping.records:
        for selector in record.spec.selectors:
            prefix, _, local = selector.rpartition(":")
            for uri in choices.get(prefix, [""]) if prefix else [""]:
                tags[f"{{{uri}}}{local}" if uri else local] = selector
    return tags


class _XmlState:
    def __init__(self, mapping: Mapping, schema_for: SchemaFor | None, strict: bool,
                 tags: dict[str, str]) -> None:
        self.mapping, self.schema_for, self.strict, self.tags = mapping, schema_for, strict, tags
        self.counts: dict[str, int] = {}
        self.schema: Any = None
        self.bindings: dict[frozenset[str], Binding] = {}

    def drain(self, parser: Any, index: _LineIndex) -> Iterator[SourceRecord]:
        for event, element in parser.read_events():
            if event == "start":
                if element.getparent() is None and self.schema_for is not None:
                    self.schema = self.schema_for(etree.QName(element).namespace or "")
                continue
            selector = self.tags.get(element.tag)
            if selector is not None and not _inside_record(element, self.tags):
                yield self._record(element, selector, index)
                element.clear()
                parent = element.getparent()
                for previous in list(element.itersiblings(preceding=True)):
                    if previous.tag in self.tags:  # earlier (cleared) records; headers stay for the XSD check
                        parent.remove(previous)

    def _record(self, element: Any, selector: str, index: _LineIndex) -> SourceRecord:
        n = self.counts[selector] = self.counts.get(selector, 0) + 1
        pointer = f"{_ancestor_path(element)}/{selector}[{n}]"
        binding = self._binding(element)
        xsd_errors = self._validate(element)
        raw = etree.tostring(element)
        position = {"line": element.sourceline, "byte_offset": index.offset_of(element.sourceline),
                    "xpath": pointer}
        if xsd_errors and self.strict:
            return SourceRecord(pointer, raw, RecordResult(selector), position, xsd_errors=xsd_errors)
        record = _map(self.mapping.specs_for(selector), element, pointer, binding, lambda: raw)
        record.position, record.xsd_errors = position, xsd_errors
        record.warnings = [f"xsd (lenient): {e}" for e in xsd_errors]
        return record

    def _binding(self, element: Any) -> Binding:
        declared = frozenset(v for v in element.nsmap.values() if v)
        if declared not in self.bindings:
            self.bindings[declared] = bind_namespaces(self.mapping.spec.namespace_choices(), set(declared))
        return self.bindings[declared]

    def _validate(self, element: Any) -> list[str]:
        if self.schema is None:
            return []
        record = _record_document(element, self.tags)
        document = record.getroottree()
        if self.schema.validate(document):
            return []
        where = document.getpath(record)
        return [sanitize_xsd_error(e.message) for e in self.schema.error_log
                if (e.path or "") == where or (e.path or "").startswith(where + "/")][:5]


def _record_document(element: Any, tags: dict[str, str]) -> Any:
    """A copy of ``element`` inside copies of its ancestors and their earlier non-record children."""
    chain = [element, *element.iterancestors()]
    copy: Any = None
    for node, below in zip(reversed(chain[1:]), reversed(chain[:-1]), strict=True):
        shell = etree.Element(node.tag, dict(node.attrib), nsmap=node.nsmap)
        if copy is not None:
            copy.append(shell)
        copy = shell
        for sibling in reversed(list(below.itersiblings(preceding=True))):
            if sibling.tag not in tags and isinstance(sibling.tag, str):
                copy.append(deepcopy(sibling))
    record = deepcopy(element)
    if copy is None:  # the record is the document element
        return record
    copy.append(record)
    return record


def _inside_record(element: Any, tags: dict[str, str]) -> bool:
    return any(a.tag in tags for a in element.iterancestors())


def _ancestor_path(element: Any) -> str:
    parts = [_prefixed(a) for a in element.iterancestors()]
    return "/" + "/".join(reversed(parts)) if parts else ""


def _prefixed(element: Any) -> str:
    qname = etree.QName(element)
    return f"{element.prefix}:{qname.localname}" if element.prefix else qname.localname


_VALUE_PATTERNS = (
    (re.compile(r"'([^']*)' is not a valid value"), "a value shaped '{}' is not a valid value"),
    (re.compile(r"[Tt]he value '([^']*)'"), "the value shaped '{}'"),  # also "… is not an element of the set"
)


def _shaped(replacement: str, match: re.Match[str]) -> str:
    return replacement.format(shape(match.group(1)))


def sanitize_xsd_error(message: str) -> str:
    """An XSD error message with every quoted value replaced by its shape (element names kept)."""
    for pattern, replacement in _VALUE_PATTERNS:
        message = pattern.sub(partial(_shaped, replacement), message)
    return re.sub(r"\{[a-z]+:[^{}']*\}", "", message).strip()  # Clark names → local names; code sets stay

"""Read the records of a payload for a mapping: streaming, hardened XML and JSON pages.

XML is parsed with a pull parser fed in blocks, so memory stays flat for a file of any size: each record
element is mapped when it ends, then cleared with its preceding siblings. The parser never loads a DTD,
never expands entities, never touches the network, and keeps libxml2's depth and text-size limits
(``huge_tree`` off); a document that declares a DOCTYPE is refused outright (XXE, billion laughs): a cheap
byte scan of the first block, then, whatever the encoding or however late the DOCTYPE comes, the parser's
own report of a DTD when the root element starts. Libxml2's fatal errors (an undeclared entity) stop the
read at once with the parser's first error; records parsed before a break are kept. A document that
declares a single-byte encoding but holds UTF-8 text is refused (it would be read as mojibake).

JSON pages are read whole (the caller caps their size); a page must have the shape its selectors expect.

XSD validation is per record: when a record ends, a small document is built from copies of its ancestors
(tag, attributes, namespaces), their earlier children that are not records (headers) and the record, and
validated on its own. Only errors located in the record are its errors: what the partial document lacks
after the record (later records, trailers) and cross-record constraints (xs:unique) are not the record's
fault. Records parsed ahead in the same block, and the cleared earlier ones, never enter the check.
"""

from __future__ import annotations

import bisect
import codecs
import json
import re
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from lxml import etree  # type: ignore[import-untyped]

from mapper import strict_json
from mapper.engine import CompiledRecord, Mapping, RecordResult
from mapper.errors import RecordMappingError
from mapper.paths import Binding, bind_namespaces
from schemas.privacy import shape

BLOCK = 1 << 20
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
DOCTYPE_REFUSED = "document declares a DOCTYPE or ENTITY (refused: XXE risk)"
_DECLARED_ENCODING = re.compile(rb"\A\s*<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
# Single-byte encodings in which genuine non-ASCII text is (practically) never valid UTF-8.
_SINGLE_BYTE = re.compile(r"(windows|cp)-?125\d|(cp|ibm)866|koi8-?[ru]|iso-?8859-\d+|latin-?\d",
                          re.IGNORECASE)


@dataclass
class SourceRecord:
    """One record read from a payload, with what the mapping made of it."""

    pointer: str
    raw: bytes
    result: RecordResult
    position: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    xsd_errors: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    """The record's non-ASCII text as the agency sent it (text nodes, attribute values, JSON strings):
    what the pull's encoding gate reads, whatever the mapping made of it."""


@dataclass
class PayloadFailure:
    """The payload itself could not be read further (parse error, hostile input)."""

    reason_code: str
    reason: str
    position: dict[str, Any] = field(default_factory=dict)


@dataclass
class PayloadNote:
    """Something the run should say about the payload while its records (if any) go on (no values)."""

    message: str


SchemaFor = Callable[[str], "etree.XMLSchema | None"]
"""Root namespace URI → the XSD to validate records with (None: no validation)."""


class HostileRecordError(RecordMappingError):
    """A record carries something the reader refuses to map (an unresolved entity reference)."""

    reason_code = "hostile_input"


class RecordParseError(RecordMappingError):
    """A record could not be read on its own (nested too deeply to serialise)."""

    reason_code = "parse_error"


def read_json(payload: bytes, mapping: Mapping) -> Iterator[SourceRecord | PayloadFailure]:
    """The records of a JSON page for every record spec of ``mapping``.

    Decoded strictly (``mapper.strict_json``): a record holding a flaw (a 5,000-digit or overflowing
    number, NaN, a duplicate key, nesting past the record limit) is refused on its own with the reason;
    a flaw in the page's envelope, outside every record, refuses the page.
    """
    try:
        decoded = strict_json.loads(payload)
    except RecursionError:  # the C decoder recurses once per level: a hostile page must not escape as a crash
        yield PayloadFailure("parse_error", "not valid JSON: nested too deeply (RecursionError)")
        return
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        yield PayloadFailure("parse_error", f"not valid JSON{where}: {type(exc).__name__}")
        return
    doc = decoded.doc
    selectors = list(dict.fromkeys(s for r in mapping.records for s in r.spec.selectors))
    misfits = [s for s in selectors if not fits_selector(doc, s)]
    if misfits:  # all or nothing: a page of another shape must not pass for an empty (or partial) page
        yield PayloadFailure("parse_error",
                             f"page does not have the shape the mapping expects: {', '.join(misfits)}")
        return
    found = [(sel, node, pointer) for sel in selectors for node, pointer in walk_json(doc, sel)]
    if decoded.flawed:
        envelope = strict_json.flaws_in(doc, skip={id(node) for _, node, _ in found}, max_depth=None)
        if envelope:
            yield PayloadFailure("hostile_input", f"the page itself is flawed: {'; '.join(envelope[:5])}")
            return
    for selector, node, pointer in found:
        flaws = strict_json.flaws_in(node, pointer=pointer)
        if flaws:
            error = HostileRecordError(f"flawed JSON: {'; '.join(flaws[:5])}")
            yield SourceRecord(pointer, strict_json.dumps_as_sent(node), RecordResult(selector, error=error))
            continue
        record = _map(mapping.specs_for(selector), node, pointer, (), partial(_json_bytes, node))
        record.texts = _json_texts(node)
        yield record


def _json_texts(node: Any) -> list[str]:
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _xml_texts(element: Any) -> list[str]:
    texts = [t.strip() for t in element.itertext() if not t.isascii() and t.strip()]
    return texts + [v for el in element.iter() for v in el.attrib.values() if not v.isascii()]


def _json_bytes(node: Any) -> bytes:
    return strict_json.dumps_as_sent(node)


def _steps(selector: str) -> Iterator[tuple[str, bool]]:
    for step in selector.split("."):
        yield (step[:-3], True) if step.endswith("[*]") else (step, False)


def fits_selector(doc: Any, selector: str) -> bool:
    """Whether the page's envelope has the selector's shape, down to its first ``[*]`` list.

    Every step to the first ``[*]`` must be there: objects for named steps, a list at the ``[*]``. Below the
    list the items are the records: a missing part there is the record's business (as before). One absence
    is a valid empty page: a FHIR Bundle leaves ``entry`` out when it has none (FHIR JSON has no empty
    arrays). An empty list is a valid empty page everywhere.
    """
    node = doc
    for name, wildcard in _steps(selector):
        if name:
            if not isinstance(node, dict):
                return False
            if node.get(name) is None:
                return wildcard and node.get("resourceType") == "Bundle"
            node = node[name]
        if wildcard:
            return isinstance(node, list)
    return True


def walk_json(doc: Any, selector: str) -> Iterator[tuple[Any, str]]:
    """Nodes matching a dotted selector with ``[*]`` wildcards, with their JSON pointers."""
    nodes: list[tuple[Any, str]] = [(doc, "")]
    for name, wildcard in _steps(selector):
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
    try:
        for spec in specs:
            if spec.applies(node, binding):
                return SourceRecord(pointer, raw(), spec.apply(node, pointer, binding))
    except RecursionError:  # a record nested just under the decoder's limit: refuse it, not the pull
        error = RecordParseError("the record is nested too deeply to read (RecursionError)")
        return SourceRecord(pointer, b"", RecordResult(specs[0].name if specs else "", error=error))
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
             strict: bool = True) -> Iterator[SourceRecord | PayloadFailure | PayloadNote]:
    """Stream the records of an XML payload; stops with a ``PayloadFailure`` when the XML breaks."""
    for item in _XmlReader(mapping, schema_for, strict).items(stream):
        yield item
        if isinstance(item, PayloadFailure):
            return  # nothing after a break is trusted


def _xml_parser() -> Any:
    return etree.XMLPullParser(events=("start", "end"), resolve_entities=False, no_network=True,
                               load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)


class _XmlReader:
    """Feeds the parser block by block; yields records, and a ``PayloadFailure`` (then stops) on a break."""

    def __init__(self, mapping: Mapping, schema_for: SchemaFor | None, strict: bool) -> None:
        self.parser = _xml_parser()
        self.index = _LineIndex()
        self.state = _XmlState(mapping, schema_for, strict, _record_tags(mapping))

    def items(self, stream: IO[bytes]) -> Iterator[SourceRecord | PayloadFailure | PayloadNote]:
        encoding: _EncodingCheck | None = None
        while block := stream.read(BLOCK):
            if encoding is None:
                if _DOCTYPE.search(block[:65536]):  # the cheap first line; drain() checks what the parser saw
                    yield PayloadFailure("hostile_input", DOCTYPE_REFUSED)
                    return
                encoding = _EncodingCheck(block)
            if (mismatch := encoding.check(block)) is not None:
                yield mismatch
                return
            self.index.feed(block)
            yield from self._step(partial(self.parser.feed, block))
        yield from self._step(self.parser.close)
        if not self.state.counts and self.state.root is not None:
            yield self.state.nothing_found()

    def _step(self, call: Callable[[], Any]) -> Iterator[SourceRecord | PayloadFailure]:
        try:
            call()
        except etree.XMLSyntaxError as exc:
            yield from self.state.drain(self.parser, self.index)  # the good records parsed before the break
            yield _syntax_failure(self.parser, exc, self.index)
            return
        yield from self.state.drain(self.parser, self.index)
        # Some fatal errors (an undeclared entity) stop libxml2 without failing feed(): the document would
        # end silently there, its later records missing, and close() would only say "no element found".
        fatal = _first_error(self.parser, etree.ErrorLevels.FATAL)
        if fatal is not None:
            yield _failure_from_log(fatal, self.index)


class _EncodingCheck:
    """A document declaring a single-byte encoding whose non-ASCII bytes are valid UTF-8 is UTF-8 text.

    Read as declared (e.g. windows-1251) every Cyrillic letter would become two characters of mojibake
    ("Сидоров" → "РЎРёРґРѕСЂРѕРІ") without any decoding error. Genuine single-byte Cyrillic is never valid
    UTF-8 (two letters in a row are two lead bytes), so the first block holding non-ASCII bytes decides.
    """

    def __init__(self, first_block: bytes) -> None:
        match = _DECLARED_ENCODING.match(first_block)
        declared = match.group(1).decode("ascii") if match else ""
        self.declared: str | None = declared if _SINGLE_BYTE.fullmatch(declared) else None
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def check(self, block: bytes) -> PayloadFailure | None:
        if self.declared is None or block.isascii():
            return None
        declared, self.declared = self.declared, None  # decided by this block either way
        try:
            self.decoder.decode(block, final=False)
        except UnicodeDecodeError:
            return None
        return PayloadFailure("parse_error", f"the document declares encoding {declared} but its bytes are "
                                             "UTF-8: its text would be mis-decoded (mojibake)")


def _first_error(parser: Any, level: int) -> Any:
    """The parser's own first error of at least ``level`` (its ``feed_error_log``: the thread-wide log that
    ``XMLSyntaxError.error_log`` copies also holds errors of earlier documents)."""
    return next((e for e in parser.feed_error_log if e.level >= level), None)


def _syntax_failure(parser: Any, exc: Any, index: _LineIndex) -> PayloadFailure:
    entry = _first_error(parser, etree.ErrorLevels.ERROR)
    if entry is not None:  # the first real error, not its echo ("no element found", "Extra content")
        return _failure_from_log(entry, index)
    line = getattr(exc, "lineno", None)
    return _parse_failure(line, str(getattr(exc, "msg", exc)), index)


def _failure_from_log(entry: Any, index: _LineIndex) -> PayloadFailure:
    message = entry.message.strip()
    if entry.type_name == "ERR_UNDECLARED_ENTITY":
        message = f"undeclared entity reference ({message})"
    return _parse_failure(entry.line, message, index)


def _parse_failure(line: int | None, message: str, index: _LineIndex) -> PayloadFailure:
    message = re.sub(r"'[^']*'", "'…'", message)  # libxml2 may quote content
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
        self.root: tuple[str, list[str]] | None = None  # root tag and the namespaces declared on it

    def nothing_found(self) -> PayloadFailure | PayloadNote:
        """No record element matched: an empty export of a known format is a note, anything else refused.

        A document whose root namespace the mapping does not know (another format, another version) would
        otherwise map to nothing without a word: it is quarantined naming what was found.
        """
        assert self.root is not None
        tag, declared = self.root
        qname = etree.QName(tag)
        known = {u for uris in self.mapping.spec.namespace_choices().values() for u in uris}
        found = (f"root element {qname.localname!r} in namespace {qname.namespace or '(none)'!r}, "
                 f"namespaces declared: {', '.join(sorted(declared)) or 'none'}")
        if (qname.namespace or "") in known or (not known and not qname.namespace):
            return PayloadNote(f"no record in this document ({found})")
        wanted = sorted(dict.fromkeys(s for r in self.mapping.records for s in r.spec.selectors))
        return PayloadFailure("mapping_error",
                              f"no record of mapping {self.mapping.name!r} in this document: {found}; "
                              f"the mapping reads {', '.join(wanted)} in namespaces "
                              f"{', '.join(sorted(known)) or '(none)'}")

    def drain(self, parser: Any, index: _LineIndex) -> Iterator[SourceRecord | PayloadFailure]:
        for event, element in parser.read_events():
            if event == "start":
                if element.getparent() is None:
                    if _declares_dtd(element):
                        yield PayloadFailure("hostile_input", DOCTYPE_REFUSED)
                        return
                    self.root = (element.tag, [u for u in element.nsmap.values() if u])
                    if self.schema_for is not None:
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
        if next(element.iter(etree.Entity), None) is not None:  # never with the DTD refused; never dropped
            error = HostileRecordError("the record holds an unresolved entity reference (refused)")
            return SourceRecord(pointer, raw, RecordResult(selector, error=error), position)
        record = _map(self.mapping.specs_for(selector), element, pointer, binding, lambda: raw)
        record.position, record.xsd_errors, record.texts = position, xsd_errors, _xml_texts(element)
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


def _declares_dtd(root: Any) -> bool:
    """What the parser saw before the root element: a DOCTYPE, an internal or external DTD subset."""
    info = root.getroottree().docinfo
    return bool(info.doctype or info.internalDTD is not None or info.externalDTD is not None
                or info.system_url or info.public_id)


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

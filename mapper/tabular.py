"""Read JSON Lines and CSV payloads for a mapping: one record per line or row, streamed.

JSON Lines: each non-empty line is one JSON document, decoded strictly (``mapper.strict_json``); a line
that is not JSON, or holds a flaw, is refused on its own and the file goes on. CSV: the mapping's ``csv``
options say the delimiter, the encoding and whether the first row names the columns; a row becomes an object
of column → text (empty cells are absent), mapped with JMESPath like a JSON record. Text that is not in the
declared encoding stops the file there (what came before is kept), as a broken XML document does.

Records are never held all at once: a line or row is read, mapped and yielded.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from functools import partial
from typing import IO, Any

from mapper import strict_json
from mapper.engine import Mapping, RecordResult
from mapper.errors import RecordMappingError
from mapper.readers import (
    HostileRecordError,
    PayloadFailure,
    RecordParseError,
    SourceRecord,
    _json_texts,
    _map,
)

MAX_LINE = 8 << 20  # one record of JSON Lines: a longer line is refused unread to its end
csv.field_size_limit(MAX_LINE)


def read_jsonl(stream: IO[bytes], mapping: Mapping) -> Iterator[SourceRecord | PayloadFailure]:
    """Every line of a JSON Lines payload as a record of every spec selecting ``*``."""
    specs = mapping.specs_for("*")
    offset = 0
    for number, line in enumerate(_lines(stream), start=1):
        start, offset = offset, offset + len(line)
        text = line.strip()
        if not text:
            continue
        pointer = f"/line/{number}"
        position = {"line": number, "byte_offset": start}
        error: RecordMappingError
        if len(line) > MAX_LINE:
            error = RecordParseError(f"line over {MAX_LINE >> 20} MiB (refused)")
            yield SourceRecord(pointer, line[:4096], RecordResult("*", error=error), position)
            continue
        try:
            decoded = strict_json.loads(text)
        except (RecursionError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            error = RecordParseError(f"line {number} is not valid JSON ({type(exc).__name__})")
            yield SourceRecord(pointer, text, RecordResult("*", error=error), position)
            continue
        flaws = strict_json.flaws_in(decoded.doc, pointer=pointer) if decoded.flawed else []
        if flaws:
            error = HostileRecordError(f"flawed JSON: {'; '.join(flaws[:5])}")
            yield SourceRecord(pointer, text, RecordResult("*", error=error), position)
            continue
        record = _map(specs, decoded.doc, pointer, (), partial(bytes, text))
        record.position, record.texts = position, _json_texts(decoded.doc)
        yield record


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # skip the rest of an oversized line
        yield line


def read_csv(stream: IO[bytes], mapping: Mapping) -> Iterator[SourceRecord | PayloadFailure]:
    """Every row of a CSV payload as a record of every spec selecting ``*``."""
    options = mapping.spec.csv
    encoding = codecs.lookup(options.encoding).name
    lines = _Decoded(stream, encoding)
    rows = csv.reader(lines, delimiter=options.delimiter, quotechar=options.quote)
    specs = mapping.specs_for("*")
    header: list[str] | None = None
    number = 0
    try:
        for cells in rows:
            number += 1
            raw = lines.take()
            if header is None and options.header:
                header = [c.strip().lstrip("\ufeff") for c in cells]
                continue
            if not any(c.strip() for c in cells):
                continue
            yield _row(specs, header, cells, number, raw)
    except UnicodeDecodeError as exc:
        yield PayloadFailure("parse_error", f"line {lines.number} is not {encoding} text ({exc.reason}); "
                             "the file stops there", {"line": lines.number})
    except csv.Error as exc:
        yield PayloadFailure("parse_error", f"line {lines.number} is not CSV ({exc})", {"line": lines.number})


class _Decoded:
    """The payload's lines, each decoded on its own (a newline byte is never inside a character of UTF-8
    or of a single-byte code page), so a bad line stops the file exactly there."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.stream, self.encoding, self.number = stream, encoding, 0
        self.raw: list[bytes] = []  # the bytes of the row being read (a quoted cell may span lines)

    def __iter__(self) -> Iterator[str]:
        for line in _lines(self.stream):
            self.number += 1
            self.raw.append(line)
            yield line.decode(self.encoding)

    def take(self) -> bytes:
        """The bytes of the row the reader has just returned, as sent."""
        raw, self.raw = b"".join(self.raw), []
        return raw


def _row(specs: list[Any], header: list[str] | None, cells: list[str], number: int,
         raw: bytes) -> SourceRecord:
    pointer, position = f"/row/{number}", {"row": number}
    names = header if header is not None else [f"c{i}" for i in range(1, len(cells) + 1)]
    if len(cells) > len(names):
        error = RecordParseError(f"row {number} has {len(cells)} cells, the header names {len(names)}")
        return SourceRecord(pointer, raw, RecordResult("*", error=error), position)
    row = {name: cell for name, cell in zip(names, cells, strict=False) if cell.strip()}
    record = _map(specs, row, pointer, (), lambda: raw)
    record.position, record.texts = position, [v for v in row.values() if not v.isascii()]
    return record

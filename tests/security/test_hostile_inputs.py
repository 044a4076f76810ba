"""Hostile inputs through the real pipeline: file drop → mapper → staging on the test PostgreSQL.

Every case drops one hostile file (``a_case.xml`` / ``a_case.json``) and one good file (``zz_good.*``, read
after it) in a folder of its own, under a source code of its own, and runs ``Puller(...).run()`` twice.
For each case the suite checks that:

* the pull does not crash: it returns, or raises only ``QualityGateError`` (after committing);
* the hostile input is in ``quarantine`` with a specific ``reason_code`` and a reason that names the problem
  but none of the personal values in the file (nor does the run row);
* the raw bytes are kept: a ``raw_payload`` row holds the file exactly, and the quarantine row's
  ``raw_content`` is zstd that decompresses to the bytes it stands for;
* good records are still staged: those before the break in the same file when the format allows it, and
  always those of the good file in the same folder;
* a second pull adds nothing (idempotent);
* nothing connects out: a TCP listener on 127.0.0.1 runs for the whole test, every external reference in
  the files (XXE, external DTD, parameter entities, XInclude, schemaLocation) points at it, and it must see
  zero connections.

A bug found here is kept visible as a strict xfail (with its reason) until it is fixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg2
import pytest
import yaml
import zstandard

import schemas.base
from connectors import pipeline
from connectors.config import SourceConfig
from connectors.errors import QualityGateError
from connectors.pipeline import Puller, PullStats
from registry import staging
from tests.sources import query

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
QUARANTINE_RAW_LIMIT = 16 << 20  # the pipeline keeps at most this much of a failed payload

# ---------------------------------------------------------------------------------------------------------
# Personal values used in the files: none of them may appear in a quarantine reason, position or run row.
FAMILY, GIVEN, BIRTH = "Иванова", "Анастасия", "2015-03-04"
GOOD_FAMILY, GOOD_GIVEN = "Петрова", "Мария"
SNILS_OK = "112-233-445 95"  # a valid checksum
SNILS_BAD_CHECKSUM = "112-233-445 96"
SNILS_LETTERS = "112-2З3-445 95"  # a Cyrillic З typed for the digit 3
PASSPORT_SHORT = "4415 56412"  # 9 digits instead of 10
BIRTH_CERT_BAD = "ZZ-ВЕ 654987"  # the series is not a Roman numeral
OMS_SHORT = "1234 5678 9012 345"  # 15 digits instead of 16
ADDRESS = "174585, Новгородская область, Пестово, ул. Ленина, д. 104"
PHONE = "+79828220194"
LOCAL_TOO_LONG = "L" * 250  # a local id must be 1–200 characters
BAD_DATE = "31.02.2015г"
PERSONAL = (
    FAMILY, GIVEN, BIRTH, GOOD_FAMILY, GOOD_GIVEN, SNILS_OK, SNILS_BAD_CHECKSUM, SNILS_LETTERS, "11223344596",
    PASSPORT_SHORT, "441556412", BIRTH_CERT_BAD, OMS_SHORT, "123456789012345", ADDRESS, PHONE,
    LOCAL_TOO_LONG[:40], BAD_DATE, "A" * 40,
)

# ---------------------------------------------------------------------------------------------------------
# A tiny XML mapping (a person per <person>) and an XSD for the cases run with strict validation.
XML_MAPPING = """\
mapping: hostile_xml
version: 1.0.0
source: hostile_xml
format: xml
records:
  - name: person
    select: person
    emit:
      - kind: person
        id: {path: "@id"}
        fields:
          family_name: {path: family}
          given_name: {path: given}
          birth_date: {path: birth, date: [iso]}
          identifiers:
            - {kind: snils, value: {path: snils}}
"""
XML_XSD = """\
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="root">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="person" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="family" type="xs:string"/>
              <xs:element name="given" type="xs:string"/>
              <xs:element name="birth" type="xs:date" minOccurs="0"/>
              <xs:element name="snils" type="xs:string" minOccurs="0"/>
            </xs:sequence>
            <xs:attribute name="id" type="xs:string" use="required"/>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""
DECL = '<?xml version="1.0" encoding="utf-8"?>\n'
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def person_xml(pid: str, family: str = FAMILY, given: str = GIVEN, extra: str = "", attrs: str = "") -> str:
    """One ``<person>`` record of the test XML format."""
    return (f'<person id="{pid}"{attrs}><family>{family}</family><given>{given}</given>'
            f"<birth>{BIRTH}</birth>{extra}</person>\n")


def xml_doc(*records: str, decl: str = DECL, prolog: str = "", root_attrs: str = "") -> str:
    """A whole XML document around ``records``."""
    return f"{decl}{prolog}<root{root_attrs}>\n{''.join(records)}</root>\n"


GOOD_XML = xml_doc(person_xml("g1", GOOD_FAMILY, GOOD_GIVEN), person_xml("g2", GOOD_FAMILY, GOOD_GIVEN))


def participant(pid: str, **fields: Any) -> dict[str, Any]:
    """One NGO participant (``mappings/ngo.yaml``), overridable field by field."""
    base: dict[str, Any] = {
        "id": pid, "last_name": FAMILY, "first_name": GIVEN, "middle_name": None, "birth_date": BIRTH,
        "gender": "F", "snils": None, "household_id": None, "address": ADDRESS, "phone": PHONE,
        "deleted": False, "role_in_household": "child",
    }
    return {**base, **fields}


def page(*participants: dict[str, Any]) -> bytes:
    """An NGO JSON page."""
    return json.dumps({"data": list(participants), "next_cursor": None}, ensure_ascii=False).encode()


GOOD_JSON = page(participant("g1", last_name=GOOD_FAMILY, first_name=GOOD_GIVEN),
                 participant("g2", last_name=GOOD_FAMILY, first_name=GOOD_GIVEN))


# ---------------------------------------------------------------------------------------------------------
class Listener:
    """A TCP listener on 127.0.0.1 (ephemeral port) that counts every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-listener", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            # Answer like a web server would, with content that would show up if it were ever spliced in.
            try:
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nEXFILTRATED")
            finally:
                conn.close()

    def outbound(self) -> int:
        """Connections seen so far, after giving the accept loop time to count one still in the backlog."""
        time.sleep(0.1)
        return self.connections

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A listener that every external reference in the hostile files points at."""
    server = Listener()
    yield server
    server.close()


@dataclass
class Drop:
    """A source of its own with its own drop folder."""

    source: SourceConfig
    folder: Path
    url: str

    @property
    def code(self) -> str:
        return self.source.code


def _ngo_with_all_identifiers(tmp_path: Path) -> Path:
    """``mappings/ngo.yaml`` plus passport, birth certificate and OMS policy fields (one per id kind)."""
    spec = yaml.safe_load((ROOT / "mappings" / "ngo.yaml").read_text("utf-8"))
    person = spec["records"][0]["emit"][0]
    person["fields"]["identifiers"] += [
        {"kind": "passport_rf", "value": {"path": "passport"}},
        {"kind": "birth_certificate", "value": {"path": "birth_certificate"}},
        {"kind": "oms_policy", "value": {"path": "oms"}},
    ]
    path = tmp_path / "ngo_all_ids.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    return path


MappingName = Literal["xml", "xml_xsd", "ngo", "ngo_all_ids"]


@pytest.fixture
def make_drop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Callable[[MappingName], Drop]:
    """Build a fresh source (own code, connection and drop folder) for a mapping."""

    def make(mapping: MappingName) -> Drop:
        code = f"hx_{uuid.uuid4().hex[:12]}"
        folder = tmp_path / code
        folder.mkdir()
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{code.upper()}", json.dumps({"conn_type": "fs", "extra": {"path": str(folder)}})
        )
        config: dict[str, Any] = {
            "code": code, "name": "hostile input test", "connector": "file_drop", "connection_id": code,
        }
        if mapping.startswith("xml"):
            mapping_file = tmp_path / "hostile_xml.yaml"
            mapping_file.write_text(XML_MAPPING, "utf-8")
            config.update(agency="social_protection", mapping=str(mapping_file))
            if mapping == "xml_xsd":
                xsd = tmp_path / "hostile.xsd"
                xsd.write_text(XML_XSD, "utf-8")
                config.update(xsd={"": str(xsd)}, validation="strict")
        else:
            path = "mappings/ngo.yaml" if mapping == "ngo" else str(_ngo_with_all_identifiers(tmp_path))
            config.update(agency="ngo", mapping=path, options={"patterns": ["*.json"]})
        return Drop(SourceConfig.model_validate(config), folder, database_url)

    return make


# ---------------------------------------------------------------------------------------------------------
def _pull(drop: Drop) -> tuple[PullStats | None, float]:
    """Run one real pull, allowing ``QualityGateError`` (then no stats); any other exception propagates."""
    started = time.monotonic()
    try:
        stats: PullStats | None = Puller(drop.source, url=drop.url).run()
    except QualityGateError:
        stats = None
    return stats, time.monotonic() - started


_query = query  # the shared helper (tests/sources.py)


def _counts(drop: Drop) -> dict[str, int]:
    tables = ("quarantine", "staged_record", "raw_payload")
    return {t: _query(drop.url, f"SELECT count(*) FROM {t} WHERE source_code = %s", (drop.code,))[0][0]
            for t in tables}


def _staged_ids(drop: Drop) -> set[str]:
    rows = _query(drop.url, "SELECT source_record_id FROM staged_record WHERE source_code = %s "
                  "AND record_kind = 'person' AND superseded_by IS NULL", (drop.code,))
    return {r[0] for r in rows}


def _warnings_of(drop: Drop, record_id: str) -> list[str]:
    rows = _query(drop.url, "SELECT warnings FROM staged_record WHERE source_code = %s "
                  "AND source_record_id = %s AND record_kind = 'person' AND superseded_by IS NULL",
                  (drop.code, record_id))
    return [w for r in rows for w in r[0]]


def _staged_text(drop: Drop) -> str:
    rows = _query(drop.url, "SELECT canonical::text FROM staged_record WHERE source_code = %s", (drop.code,))
    return "\n".join(r[0] for r in rows)


def _quarantine(drop: Drop) -> list[dict[str, Any]]:
    rows = _query(drop.url, "SELECT reason_code, reason, position::text, raw_sha256, raw_compression, "
                  "raw_content, payload_id, record_pointer FROM quarantine WHERE source_code = %s",
                  (drop.code,))
    keys = ("reason_code", "reason", "position", "raw_sha256", "compression", "raw", "payload_id", "pointer")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _payload_bytes(drop: Drop, data: bytes) -> tuple[int, bytes, bool]:
    """(payload_id, stored bytes, processed?) of the raw payload of ``data``."""
    rows = _query(drop.url, "SELECT payload_id, processed_at IS NOT NULL FROM raw_payload "
                  "WHERE source_code = %s AND sha256 = %s", (drop.code, hashlib.sha256(data).hexdigest()))
    assert rows, "the file's raw bytes were not kept"
    payload_id, processed = rows[0]
    conn = psycopg2.connect(drop.url)
    try:
        stored = b"".join(staging.payload_bytes(conn, payload_id))
    finally:
        conn.close()
    return payload_id, stored, processed


def _assert_no_personal_values(text: str, where: str) -> None:
    """No personal value, nor any word of one (an error may quote a fragment: "…Пестово, ул. Ленина…")."""
    leaked = [v for v in PERSONAL if v in text or any(w in text for w in re.findall(r"\w{5,}", v))]
    assert not leaked, f"{where} contains personal values (shapes: {[len(v) for v in leaked]})"


def _assert_runs_clean(drop: Drop) -> None:
    for error, stats in _query(drop.url, "SELECT coalesce(error, ''), stats::text FROM run "
                               "WHERE source_code = %s", (drop.code,)):
        _assert_no_personal_values(error + stats, "the run row")


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One hostile file and what the hub must make of it."""

    id: str
    mapping: MappingName
    build: Callable[[str], bytes]  # listener URL → the file's bytes
    reason_code: str | None  # None: nothing to quarantine (the hostile part is inert and must stay so)
    reason_has: str = ""  # the reason must name the problem
    staged: frozenset[str] = frozenset()  # records of the hostile file that must be staged
    forbidden: frozenset[str] = frozenset()  # records of the hostile file that must not be staged
    timed: bool = False
    dropped: str = ""  # a value cut from a staged record (never staged), with a warning naming ...
    warning_has: str = ""  # ... this, on the record

    @property
    def suffix(self) -> str:
        return ".xml" if self.mapping.startswith("xml") else ".json"


def _ids(*ids: str) -> frozenset[str]:
    return frozenset(ids)


BILLION_LAUGHS = "".join(
    f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">' for i in range(1, 10)
)
DEEP_XML = "<a>" * 10_000 + "deep" + "</a>" * 10_000
LATE = "<!--" + " padding " * 8_000 + "-->\n"  # 72 KB of comment: pushes a DOCTYPE past the first 64 KiB


def _cut_after(data: bytes, marker: bytes) -> bytes:
    """``data`` cut right after ``marker`` (an interrupted transfer)."""
    return data[: data.index(marker) + len(marker)]


def _utf16(text: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-16"?>\n' + text).encode("utf-16")


def _xxe_doc(url: str) -> str:
    return xml_doc(person_xml("x1", family=f"{FAMILY}&xxe;"),
                   decl="", prolog=f'<!DOCTYPE root [<!ENTITY xxe SYSTEM "{url}/xxe">]>\n')


def _external_dtd_doc(url: str) -> str:
    return xml_doc(person_xml("x1"), decl="", prolog=f'<!DOCTYPE root SYSTEM "{url}/external.dtd">\n')


def _parameter_entity_doc(url: str) -> str:
    return xml_doc(person_xml("x1"), decl="",
                   prolog=f'<!DOCTYPE root [<!ENTITY % pe SYSTEM "{url}/pe.dtd"> %pe;]>\n')


DOCTYPE_REFUSED = "DOCTYPE"

CASES: list[Any] = [
    # XXE: an external entity makes the parser read a local file (/etc/passwd, the hub's credentials) or
    # call an internal URL (SSRF) and splice the answer into staged data, where it leaks onwards.
    Case("xxe_external_entity", "xml", lambda u: _xxe_doc(u).encode(),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    # Billion laughs: 10 nested levels of 10 references expand a 1 KB file to 10⁹ copies (GBs of memory):
    # the pull worker (and Airflow with it) dies, and every other agency's pull with it.
    Case("billion_laughs", "xml",
         lambda u: xml_doc(person_xml("x1", family="&lol9;"), prolog=f"<!DOCTYPE root [{BILLION_LAUGHS}]>\n"
                           ).encode(), "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    # External DTD: loading it is a network request of the attacker's choosing (SSRF, a beacon that tells
    # which file was opened when), and the DTD can define entities and default attributes that change data.
    Case("external_dtd", "xml", lambda u: _external_dtd_doc(u).encode(),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    # Parameter entities are expanded inside the DTD itself: the classic blind-XXE out-of-band channel
    # (read a file, send it in a URL), which works even where general entities are not expanded.
    Case("parameter_entities", "xml", lambda u: _parameter_entity_doc(u).encode(),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    # The same three, hidden from a check that looks only at the start of the file or at ASCII bytes: the
    # parser's own report of a DTD (when the root element starts) refuses them.
    Case("xxe_after_64kib", "xml", lambda u: (LATE + _xxe_doc(u)).encode(),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    Case("xxe_utf16", "xml", lambda u: _utf16(_xxe_doc(u)),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    Case("external_dtd_utf16", "xml", lambda u: _utf16(_external_dtd_doc(u)),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    Case("external_dtd_after_64kib", "xml", lambda u: (LATE + _external_dtd_doc(u)).encode(),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    Case("parameter_entities_after_64kib", "xml", lambda u: (LATE + _parameter_entity_doc(u)).encode(),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    Case("parameter_entities_utf16", "xml", lambda u: _utf16(_parameter_entity_doc(u)),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    Case("billion_laughs_utf16", "xml", lambda u: _utf16(xml_doc(
        person_xml("x1", family="&lol9;"), decl="", prolog=f"<!DOCTYPE root [{BILLION_LAUGHS}]>\n")),
         "hostile_input", DOCTYPE_REFUSED, forbidden=_ids("x1")),
    # XInclude needs no DOCTYPE: a parser (or a later tool) that processes it fetches the href (file read,
    # SSRF) and splices it into the record. With the XSD it is an element the schema does not allow.
    Case("xinclude_strict_xsd", "xml_xsd",
         lambda u: xml_doc(person_xml("x1", extra=f'<xi:include href="{u}/inc" parse="text"/>'),
                           root_attrs=' xmlns:xi="http://www.w3.org/2001/XInclude"').encode(),
         "xsd_violation", "include", forbidden=_ids("x1")),
    # Without an XSD the XInclude element is inert: the record is staged, the href never fetched.
    Case("xinclude_no_xsd", "xml",
         lambda u: xml_doc(person_xml("x1", extra=f'<xi:include href="{u}/inc" parse="text"/>'),
                           root_attrs=' xmlns:xi="http://www.w3.org/2001/XInclude"').encode(),
         None, staged=_ids("x1")),
    # schemaLocation hints: a validator that honours them downloads an attacker-chosen schema (SSRF) and
    # lets the sender pick the rules its own file is checked against. The hub validates with its own XSD.
    Case("schema_location", "xml_xsd",
         lambda u: xml_doc(person_xml("x1"), root_attrs=(
             f' xmlns:xsi="{XSI}" xsi:noNamespaceSchemaLocation="{u}/evil.xsd"')).encode(),
         None, staged=_ids("x1")),
    # Deep nesting: recursion in parsers, XPath, serialisers and validators exhausts the C stack (a segfault
    # takes the whole worker down) or memory. libxml2 stops at depth 256 without XML_PARSE_HUGE.
    Case("deep_nesting_10000", "xml",
         lambda u: xml_doc(person_xml("x1"), person_xml("x2", extra=DEEP_XML)).encode(),
         "parse_error", "depth", forbidden=_ids("x2"), timed=True),
    # A declaration that lies about the encoding either breaks parsing or silently turns every Cyrillic
    # name into mojibake that never matches the other agencies' records: the child "disappears".
    Case("declares_cp1251_utf8_bytes", "xml",
         lambda u: xml_doc(person_xml("x1"), decl='<?xml version="1.0" encoding="windows-1251"?>\n').encode(),
         "parse_error", "encoding", forbidden=_ids("x1")),
    Case("declares_utf8_cp1251_bytes", "xml",
         lambda u: xml_doc(person_xml("x1")).encode("cp1251"),
         "parse_error", "encoding", forbidden=_ids("x1")),
    # A file cut mid-record (an interrupted transfer) looks like a complete, smaller file: accepted silently,
    # the records after the cut would just be missing. Records before the cut are fine and must be staged.
    Case("truncated_xml", "xml",
         lambda u: _cut_after(xml_doc(person_xml("x1"), person_xml("x2"), person_xml("x3")).encode(),
                              b'<person id="x3"><family>'),
         "parse_error", "not well-formed", staged=_ids("x1", "x2"), forbidden=_ids("x3")),
    # A 10 MB text field: memory and database bloat per record (a DoS at scale); no real name is that long,
    # so it is an attack or corruption. libxml2 refuses text nodes over 10,000,000 bytes without huge_tree.
    Case("text_field_10mb", "xml",
         lambda u: xml_doc(person_xml("x1"), person_xml("x2", family="A" * (10 * MIB))).encode(),
         "parse_error", "too long", staged=_ids("x1"), forbidden=_ids("x2"), timed=True),
    # NUL bytes truncate strings in C code (libxml2, libpq) and can smuggle data past checks that stop at
    # NUL; PostgreSQL text and jsonb cannot hold them at all.
    Case("nul_bytes", "xml",
         lambda u: xml_doc(person_xml("x1"), person_xml("x2", family=f"{FAMILY}\x00{FAMILY}")).encode(),
         "parse_error", "0x0", forbidden=_ids("x2")),
    # Invalid UTF-8 is decoded differently by different components (replacement characters, overlong forms
    # that slip past filters): the same person ends up with different names in different places.
    Case("invalid_utf8", "xml",
         lambda u: xml_doc(person_xml("x1"), person_xml("x2", family="@@BAD@@")).encode()
         .replace(b"@@BAD@@", b"\xc3\x28\xff\xfe\xed\xa0\x80"),
         "parse_error", "encoding", forbidden=_ids("x2")),
    # An entity reference without a DOCTYPE: the error must be named, or nobody can fix the export.
    Case("undeclared_entity", "xml",
         lambda u: xml_doc(person_xml("x1"), person_xml("x2", family=f"{FAMILY}&undeclared;")).encode(),
         "parse_error", "line 4: undeclared entity", staged=_ids("x1"), forbidden=_ids("x2")),
    # An empty file (a failed export) must not read as "the agency has nobody": it must be visible.
    Case("empty_file", "xml", lambda u: b"", "parse_error", "no element found"),
    # A file that is not XML at all (an image, an archive, a scanned document) may itself be personal data:
    # it must be kept and flagged, never half-parsed.
    Case("png_not_xml", "xml", lambda u: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
         "parse_error", "Start tag expected"),
    # A huge number of attributes: duplicate checks are quadratic in some parsers (CPU DoS) and every
    # attribute costs memory; the XSD allows only @id.
    Case("attributes_100000", "xml_xsd",
         lambda u: xml_doc(person_xml("x1", attrs="".join(f' a{i}="{i}"' for i in range(100_000)))).encode(),
         "xsd_violation", "not allowed", forbidden=_ids("x1"), timed=True),
    # ---------------------------------------------------------------------------------------------- JSON
    # A truncated page (a dropped connection, a full disk) must not pass for a short page.
    Case("json_truncated", "ngo", lambda u: page(participant("x1"), participant("x2"))[:-40],
         "parse_error", "not valid JSON", forbidden=_ids("x1", "x2")),
    # Invalid UTF-8 in a UTF-8 document (see invalid_utf8 above).
    Case("json_invalid_utf8", "ngo",
         lambda u: page(participant("x1", last_name="@@BAD@@")).replace(b"@@BAD@@", b"\xc3\x28\xff"),
         "parse_error", "UnicodeDecodeError", forbidden=_ids("x1")),
    # A raw NUL byte inside a JSON string (not allowed by JSON: control characters must be escaped).
    Case("json_nul_raw", "ngo",
         lambda u: page(participant("x1", last_name="@@NUL@@"))
         .replace(b"@@NUL@@", FAMILY.encode() + b"\x00"),
         "parse_error", "not valid JSON", forbidden=_ids("x1")),
    # An escaped NUL (\u0000) in a name: valid JSON, but a NUL in a name is never genuine.
    Case("json_nul_escaped_in_name", "ngo", lambda u: page(participant("x1", last_name=f"{FAMILY}\x00")),
         "validation_error", "family_name", forbidden=_ids("x1")),
    # A 10 MB string in a name (see text_field_10mb above).
    Case("json_string_10mb", "ngo", lambda u: page(participant("x1", last_name="A" * (10 * MIB))),
         "validation_error", "at most 100 characters", forbidden=_ids("x1"), timed=True),
    # The same 10 MB in a free-text field: the address line is capped at 500 characters.
    Case("json_string_10mb_in_address", "ngo", lambda u: page(participant("x1", address="A" * (10 * MIB))),
         "validation_error", "address", forbidden=_ids("x1"), timed=True),
    # Deeply nested arrays: Python's json recurses once per level; 100,000 levels exhaust the recursion limit.
    Case("json_deep_arrays_100000", "ngo", lambda u: b"[" * 100_000 + b"]" * 100_000,
         "parse_error", "nested too deeply", timed=True),
    # A page of another shape must not pass for an empty page (marked processed with zero records, silently):
    # a top-level array instead of the page object, or a 'data' that is not a list.
    Case("json_top_level_array", "ngo", lambda u: json.dumps([participant("x1")]).encode(),
         "parse_error", "page does not have the shape the mapping expects: data[*]", forbidden=_ids("x1")),
    Case("json_data_not_a_list", "ngo",
         lambda u: json.dumps({"data": participant("x1"), "next_cursor": None}).encode(),
         "parse_error", "page does not have the shape the mapping expects: data[*]", forbidden=_ids("x1")),
    Case("json_data_missing", "ngo",
         lambda u: json.dumps({"items": [participant("x1")], "next_cursor": None}).encode(),
         "parse_error", "page does not have the shape the mapping expects: data[*]", forbidden=_ids("x1")),
    # A NUL or lone surrogate (valid JSON escapes that PostgreSQL cannot store) are never genuine text.
    Case("json_nul_escaped_in_address", "ngo",
         lambda u: page(participant("x1", address=ADDRESS + "@@X@@")).replace(b"@@X@@", b"\\u0000"),
         "validation_error", "NUL", forbidden=_ids("x1")),
    Case("json_lone_surrogate_in_name", "ngo",
         lambda u: page(participant("x1", first_name=GIVEN + "@@X@@")).replace(b"@@X@@", b"\\udc00"),
         "validation_error", "given_name", forbidden=_ids("x1")),
    # UTF-8 read as windows-1251 somewhere upstream arrives as letters-only mojibake.
    Case("json_mojibake_name", "ngo",
         lambda u: page(participant("x1", last_name="Сидоров".encode().decode("cp1251"))),
         "encoding_mismatch", "UTF-8 text read as windows-1251", forbidden=_ids("x1")),
    # ------------------------------------------------------------------ identifiers and values (NGO mapping)
    # A wrong identifier links a child to someone else's file (a wrong SNILS is a different person), so it is
    # never staged; but the person is (field-level policy, issue 12): the identifier is cut with a warning
    # that names its kind, never its digits.
    Case("snils_bad_checksum", "ngo", lambda u: page(participant("x1", snils=SNILS_BAD_CHECKSUM)),
         None, staged=_ids("x1"), dropped="11223344596", warning_has="snils: checksum"),
    Case("snils_not_digits", "ngo", lambda u: page(participant("x1", snils=SNILS_LETTERS)),
         None, staged=_ids("x1"), dropped="2З3", warning_has="snils: expected digits"),
    Case("passport_rf_short", "ngo_all_ids", lambda u: page(participant("x1", passport=PASSPORT_SHORT)),
         None, staged=_ids("x1"), dropped="56412", warning_has="passport_rf"),
    Case("birth_certificate_bad_series", "ngo_all_ids",
         lambda u: page(participant("x1", birth_certificate=BIRTH_CERT_BAD)),
         None, staged=_ids("x1"), dropped="654987", warning_has="birth_certificate"),
    Case("oms_policy_short", "ngo_all_ids", lambda u: page(participant("x1", oms=OMS_SHORT)),
         None, staged=_ids("x1"), dropped="9012", warning_has="oms_policy"),
    Case("local_id_too_long", "ngo", lambda u: page(participant(LOCAL_TOO_LONG)),
         "invalid_identifier", "local", forbidden=_ids(LOCAL_TOO_LONG)),
    # An unparseable date must not become a wrong date: it is cut (the person has no birth date, and the
    # warning says why), never guessed.
    Case("unparseable_date", "ngo", lambda u: page(participant("x1", birth_date=BAD_DATE)),
         None, staged=_ids("x1"), dropped="31.02", warning_has="not a date"),
]


def _case_id(case: Any) -> str:
    return str(case.id) if isinstance(case, Case) else ""


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_hostile_input_is_quarantined_not_crashing(
    case: Case, make_drop: Callable[[MappingName], Drop], listener: Listener,
    record_property: Callable[[str, object], None],
) -> None:
    """The full contract for one hostile file (see the module docstring)."""
    drop = make_drop(case.mapping)
    data = case.build(listener.url)
    (drop.folder / f"a_case{case.suffix}").write_bytes(data)
    good = GOOD_XML.encode() if case.suffix == ".xml" else GOOD_JSON
    (drop.folder / f"zz_good{case.suffix}").write_bytes(good)

    started = time.monotonic()
    try:
        _pull(drop)  # anything but QualityGateError escapes and fails the case
    finally:
        seconds = time.monotonic() - started
        if case.timed:  # measured, not asserted
            record_property("first_pull_seconds", round(seconds, 3))
            print(f"\nTIMING {case.id}: first pull {seconds:.3f} s for {len(data):,} bytes")
        assert listener.outbound() == 0, "the pipeline connected out"

    # raw bytes kept, payload done
    payload_id, stored, processed = _payload_bytes(drop, data)
    assert stored == data
    assert processed

    # quarantine: the specific reason, the raw bytes, no personal values
    rows = _quarantine(drop)
    if case.reason_code is None:
        assert rows == [], [r["reason_code"] for r in rows]
    else:
        assert [r["reason_code"] for r in rows] == [case.reason_code], [r["reason"] for r in rows]
        row = rows[0]
        assert case.reason_has.lower() in row["reason"].lower(), row["reason"]
        _assert_no_personal_values(row["reason"], "the quarantine reason")
        _assert_no_personal_values(row["position"], "the quarantine position")
        assert row["payload_id"] == payload_id
        assert row["compression"] == "zstd"
        raw = zstandard.ZstdDecompressor().decompress(bytes(row["raw"]))
        assert hashlib.sha256(raw).hexdigest() == row["raw_sha256"]
        if row["pointer"] is None:  # the payload failed as a whole: its head is kept
            assert raw == data[:QUARANTINE_RAW_LIMIT]
        else:
            assert raw
    _assert_runs_clean(drop)

    # good records staged (before the break, and the good file after the hostile one); hostile ones not
    staged = _staged_ids(drop)
    assert {"g1", "g2"} <= staged
    assert case.staged <= staged
    assert not case.forbidden & staged
    assert "EXFILTRATED" not in _staged_text(drop)
    if case.warning_has:
        warnings = _warnings_of(drop, "x1")
        assert any(case.warning_has in w for w in warnings), warnings
        _assert_no_personal_values("\n".join(warnings), "the warnings")
        assert case.dropped not in _staged_text(drop)

    # a second pull adds nothing
    before = _counts(drop)
    stats, _ = _pull(drop)
    assert stats is not None
    assert stats.payloads_skipped == 2
    assert stats.records == stats.quarantined == stats.new == 0
    assert _counts(drop) == before
    assert listener.outbound() == 0


# ---------------------------------------------------------------------------------------------------------
def test_listener_counts_connections(listener: Listener) -> None:
    """The no-outbound-connection assertions are meaningful: the listener does see a connection."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2) as sock:
        assert sock.recv(64).startswith(b"HTTP/1.0 200")
    deadline = time.monotonic() + 2
    while listener.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener.connections == 1


BYPASSES = {
    "xxe_after_64kib": lambda u: (LATE + _xxe_doc(u)).encode(),
    "xxe_utf16": lambda u: _utf16(_xxe_doc(u)),
    "external_dtd_after_64kib": lambda u: (LATE + _external_dtd_doc(u)).encode(),
    "external_dtd_utf16": lambda u: _utf16(_external_dtd_doc(u)),
    "parameter_entities_after_64kib": lambda u: (LATE + _parameter_entity_doc(u)).encode(),
    "parameter_entities_utf16": lambda u: _utf16(_parameter_entity_doc(u)),
    "billion_laughs_utf16": lambda u: _utf16(xml_doc(
        person_xml("x1", family="&lol9;"), decl="", prolog=f"<!DOCTYPE root [{BILLION_LAUGHS}]>\n")),
}


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_doctype_past_the_refusal_still_never_reaches_the_network(
    name: str, make_drop: Callable[[MappingName], Drop], listener: Listener
) -> None:
    """Defence in depth: should the DOCTYPE refusal ever be bypassed, the parser settings still hold.

    No connection, no crash, no entity expanded into staged data, the raw bytes kept. (The refusal catches
    all of these today: see the cases of the same names above.)
    """
    drop = make_drop("xml")
    data = BYPASSES[name](listener.url)
    (drop.folder / "a_case.xml").write_bytes(data)
    (drop.folder / "zz_good.xml").write_bytes(GOOD_XML.encode())
    _pull(drop)
    assert listener.outbound() == 0
    _payload_bytes(drop, data)
    text = _staged_text(drop)
    assert "EXFILTRATED" not in text
    assert "lollol" not in text
    assert {"g1", "g2"} <= _staged_ids(drop)
    _assert_runs_clean(drop)
    for row in _quarantine(drop):
        _assert_no_personal_values(row["reason"], "the quarantine reason")


SAME_BLOCK_BREAKS = {  # placeholder in x3 → the bytes that break the XML
    "nul_bytes": FAMILY.encode() + b"\x00",
    "deep_nesting": DEEP_XML.encode(),
    "invalid_utf8": b"\xc3\x28\xff",
}


@pytest.mark.parametrize("name", sorted(SAME_BLOCK_BREAKS))
def test_records_before_a_break_in_the_same_block_are_staged(
    name: str, make_drop: Callable[[MappingName], Drop], listener: Listener
) -> None:
    """A break late in a small file must not lose the good records before it."""
    drop = make_drop("xml")
    data = xml_doc(person_xml("x1"), person_xml("x2"), person_xml("x3", family="@@BREAK@@")).encode()
    (drop.folder / "a_case.xml").write_bytes(data.replace(b"@@BREAK@@", SAME_BLOCK_BREAKS[name]))
    _pull(drop)
    assert listener.outbound() == 0
    assert [r["reason_code"] for r in _quarantine(drop)] == ["parse_error"]
    assert {"x1", "x2"} <= _staged_ids(drop)
    assert "x3" not in _staged_ids(drop)


def test_utf8_bytes_declared_cp1251_are_not_staged_as_mojibake(
    make_drop: Callable[[MappingName], Drop], listener: Listener
) -> None:
    """Wrong declared encoding, the silent variant: every byte is valid windows-1251."""
    drop = make_drop("xml")
    data = xml_doc(person_xml("x1", family="Сидоров", given="Ася"),
                   decl='<?xml version="1.0" encoding="windows-1251"?>\n').encode("utf-8")
    (drop.folder / "a_case.xml").write_bytes(data)
    _pull(drop)
    assert listener.outbound() == 0
    assert "РЎРёРґРѕСЂРѕРІ" not in _staged_text(drop)
    rows = _quarantine(drop)
    assert [r["reason_code"] for r in rows] == ["parse_error"]
    assert "mojibake" in rows[0]["reason"]


def test_genuine_cp1251_file_is_read_as_declared(
    make_drop: Callable[[MappingName], Drop], listener: Listener
) -> None:
    """The check above leaves real windows-1251 files alone: their names are staged as written."""
    drop = make_drop("xml")
    data = xml_doc(person_xml("x1", family="Сидоров", given="Ася"),
                   decl='<?xml version="1.0" encoding="windows-1251"?>\n').encode("cp1251")
    (drop.folder / "a_case.xml").write_bytes(data)
    _pull(drop)
    assert _quarantine(drop) == []
    assert _staged_ids(drop) == {"x1"}
    assert "Сидоров" in _staged_text(drop)


# JSON escapes that are valid JSON but that PostgreSQL (or UTF-8) cannot store: \u0000 in a field without a
# character rule, or a lone surrogate (\ud800) anywhere in a record. One such value must not make the whole
# pull fail — and fail again on every retry, so that no later file of the agency is ever staged.
# The NGO mapping also files the record id as the person's local identifier, and an identifier error decides
# the reason code (mapper/errors.py RecordInvalidError): a NUL in the id is an invalid identifier.
UNSTORABLE = {
    "nul_in_address": (b"@@X@@", b"\\u0000", "address", "validation_error"),
    "nul_in_id": (b"@@X@@", b"\\u0000", "id", "invalid_identifier"),
    "lone_surrogate_in_address": (b"@@X@@", b"\\ud800", "address", "validation_error"),
}


@pytest.mark.parametrize("name", sorted(UNSTORABLE))
def test_json_escapes_postgres_cannot_store_are_quarantined(
    name: str, make_drop: Callable[[MappingName], Drop], listener: Listener
) -> None:
    """The record with the unstorable value is quarantined; the pull and the next file go on."""
    placeholder, escape, field, reason_code = UNSTORABLE[name]
    drop = make_drop("ngo")
    value = ADDRESS + placeholder.decode() if field == "address" else "x1" + placeholder.decode()
    data = page(participant("x1", **{field: value})).replace(placeholder, escape)
    (drop.folder / "a_case.json").write_bytes(data)
    (drop.folder / "zz_good.json").write_bytes(GOOD_JSON)
    _pull(drop)
    assert listener.outbound() == 0
    _payload_bytes(drop, data)
    assert {"g1", "g2"} <= _staged_ids(drop)
    rows = _quarantine(drop)
    assert [r["reason_code"] for r in rows] == [reason_code]
    assert rows[0]["pointer"] == "/data/0"
    assert zstandard.ZstdDecompressor().decompress(bytes(rows[0]["raw"]))  # the record's bytes are kept
    _assert_no_personal_values(rows[0]["reason"], "the quarantine reason")
    again, _ = _pull(drop)  # and the next pull has nothing left to do
    assert again is not None
    assert again.payloads_skipped == 2


def test_a_failed_pull_keeps_personal_values_out_of_the_run_row(
    make_drop: Callable[[MappingName], Drop], listener: Listener
) -> None:
    """Whatever fails, the run row (read by operators, shown in Airflow) never holds personal data."""
    drop = make_drop("ngo")
    data = page(participant("x1", address=ADDRESS + "@@X@@")).replace(b"@@X@@", b"\\u0000")
    (drop.folder / "a_case.json").write_bytes(data)
    with contextlib.suppress(Exception):  # the crash is another test's business; this one is the run row
        _pull(drop)
    assert listener.outbound() == 0
    _assert_runs_clean(drop)


def test_a_database_error_quoting_data_stays_out_of_the_run_row_and_the_raised_error(
    make_drop: Callable[[MappingName], Drop], listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's own refusal of a record: its CONTEXT quotes the address; only SQLSTATE and class remain.

    The guards that now quarantine a \\u0000 are switched off so that the value reaches PostgreSQL.
    """
    monkeypatch.setattr(schemas.base, "_UNSTORABLE", re.compile("(?!)"))  # matches nothing
    drop = make_drop("ngo")
    data = page(participant("x1", address=ADDRESS + "@@X@@")).replace(b"@@X@@", b"\\u0000")
    (drop.folder / "a_case.json").write_bytes(data)
    with pytest.raises(pipeline.PullFailedError) as failure:
        _pull(drop)
    message = str(failure.value)
    assert "SQLSTATE 22P05" in message, message  # untranslatable_character
    _assert_no_personal_values(message, "the raised error")
    [(status, error)] = _query(drop.url, "SELECT status, error FROM run WHERE source_code = %s", (drop.code,))
    assert (status, error) == ("failed", message)
    _assert_runs_clean(drop)
    assert _staged_ids(drop) == set()  # the payload's transaction rolled back as a whole


def test_an_unexpected_error_quoting_data_stays_out_of_the_run_row(
    make_drop: Callable[[MappingName], Drop], listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any exception's text may quote data: the run row keeps its class and where it was raised."""
    def boom(*args: Any) -> None:
        raise ValueError(f"cannot handle {FAMILY} {ADDRESS}")

    monkeypatch.setattr(staging, "mark_processed", boom)
    drop = make_drop("ngo")
    (drop.folder / "a_case.json").write_bytes(GOOD_JSON)
    with pytest.raises(pipeline.PullFailedError, match=r"^ValueError at .*boom") as failure:
        _pull(drop)
    _assert_no_personal_values(str(failure.value), "the raised error")
    _assert_runs_clean(drop)


def test_a_json_payload_over_the_limit_is_refused_unread(
    make_drop: Callable[[MappingName], Drop], listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON is parsed whole: a page over ``JSON_LIMIT`` (256 MiB; lowered here) is quarantined as hostile."""
    monkeypatch.setattr(pipeline, "JSON_LIMIT", len(GOOD_JSON) + 10)
    drop = make_drop("ngo")
    data = page(*(participant(f"x{i}") for i in range(5)))
    (drop.folder / "a_case.json").write_bytes(data)
    (drop.folder / "zz_good.json").write_bytes(GOOD_JSON)
    _pull(drop)
    rows = _quarantine(drop)
    assert [(r["reason_code"], r["pointer"]) for r in rows] == [("hostile_input", None)]
    assert "limit" in rows[0]["reason"]
    assert zstandard.ZstdDecompressor().decompress(bytes(rows[0]["raw"])) == data
    assert _staged_ids(drop) == {"g1", "g2"}
    assert _payload_bytes(drop, data)[1:] == (data, True)

"""Unit tests of the readers' and the canonical model's defences against hostile or broken input.

The end-to-end contract (through the pull pipeline and PostgreSQL) is in
tests/security/test_hostile_inputs.py; these pin the pieces: DOCTYPE detection whatever the encoding, the
parser's own first error, records before a break, the declared-encoding check, JSON page shapes, unstorable
strings, free-text limits and the mojibake heuristic (with no false positive on real names).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import sandbox.names as names
from mapper import Mapping, load_mapping
from mapper.errors import FieldMappingError
from mapper.readers import BLOCK, PayloadFailure, SourceRecord, fits_selector, read_json, read_xml
from mapper.values import _code
from schemas.base import TEXT_LIMIT, looks_like_mojibake
from schemas.person import Address, Person
from schemas.validation import error_list

ROOT = Path(__file__).resolve().parents[2]
XML_MAPPING = """\
mapping: unit_xml
version: 1.0.0
source: unit_xml
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
"""
SECRET = "Иванова"


@pytest.fixture(scope="module")
def xml_mapping(tmp_path_factory: pytest.TempPathFactory) -> Mapping:
    path = tmp_path_factory.mktemp("mapping") / "unit_xml.yaml"
    path.write_text(XML_MAPPING, "utf-8")
    return load_mapping(path)


@pytest.fixture(scope="module")
def ngo_mapping() -> Mapping:
    return load_mapping(ROOT / "mappings" / "ngo.yaml")


def person(pid: str, family: str = SECRET, given: str = "Анна") -> str:
    return f'<person id="{pid}"><family>{family}</family><given>{given}</given></person>\n'


def doc(*records: str, prolog: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>\n') -> str:
    return f"{decl}{prolog}<root>\n{''.join(records)}</root>\n"


def xml_items(data: bytes, mapping: Mapping) -> list[SourceRecord | PayloadFailure]:
    return list(read_xml(io.BytesIO(data), mapping))


def summary(items: list[SourceRecord | PayloadFailure]) -> list[str]:
    """``ok <id>`` per mapped record, ``<code>`` per failed one, ``! <code>: <reason>`` per payload break."""
    out = []
    for item in items:
        if isinstance(item, PayloadFailure):
            out.append(f"! {item.reason_code}: {item.reason}")
        elif item.result.error is not None:
            out.append(item.result.error.reason_code)
        else:
            out.append("ok " + ",".join(r.source_record_id for r in item.result.records))
    return out


# ------------------------------------------------------------------------------------------------ XML
DTDS = {
    "internal subset": '<!DOCTYPE root [<!ENTITY e "x">]>\n',
    "external subset": '<!DOCTYPE root SYSTEM "http://127.0.0.1:9/x.dtd">\n',
    "public id": '<!DOCTYPE root PUBLIC "-//X//DTD X//EN" "x.dtd">\n',
    "bare doctype": "<!DOCTYPE root>\n",
}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be"])
@pytest.mark.parametrize("late", [False, True], ids=["early", "after-a-1.5-MiB-comment"])
@pytest.mark.parametrize("dtd", sorted(DTDS))
def test_any_dtd_is_refused_whatever_the_encoding_or_position(
    dtd: str, late: bool, encoding: str, xml_mapping: Mapping
) -> None:
    """The byte scan sees only ASCII in the first 64 KiB; the parser's docinfo sees every DOCTYPE."""
    padding = "<!--" + " padding " * (BLOCK * 3 // 2 // 9) + "-->\n" if late else ""
    text = doc(person("x1"), decl=f'<?xml version="1.0" encoding="{encoding.upper()}"?>\n',
               prolog=padding + DTDS[dtd])
    data = text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode(encoding)
    assert summary(xml_items(data, xml_mapping)) == [
        "! hostile_input: document declares a DOCTYPE or ENTITY (refused: XXE risk)"]


def test_an_unresolved_entity_never_silently_disappears(
    xml_mapping: Mapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the DTD refusal ever miss one, a record holding an unexpanded entity is refused, not staged
    with the entity dropped from its text."""
    monkeypatch.setattr("mapper.readers._declares_dtd", lambda root: False)
    monkeypatch.setattr("mapper.readers._DOCTYPE", re.compile(b"(?!)"))
    data = doc(person("x1"), person("x2", family=f"{SECRET}&e;"), prolog=DTDS["internal subset"]).encode()
    assert summary(xml_items(data, xml_mapping)) == ["ok x1", "hostile_input"]


def test_a_document_without_doctype_is_read(xml_mapping: Mapping) -> None:
    assert summary(xml_items(doc(person("x1"), person("x2")).encode(), xml_mapping)) == ["ok x1", "ok x2"]


def test_an_undeclared_entity_is_named_with_its_line_and_stops_the_read(xml_mapping: Mapping) -> None:
    """libxml2 stops at it without failing feed(); the reader reports the parser's own error at once."""
    late = "".join(person(f"y{i}") for i in range(30_000))  # more than one block after the break
    data = doc(person("x1"), person("x2", family=f"{SECRET}&undeclared;"), late).encode()
    assert len(data) > 2 * BLOCK
    items = xml_items(data, xml_mapping)
    assert summary(items) == [
        "ok x1", "! parse_error: XML is not well-formed at line 4: undeclared entity reference "
                 "(Entity '…' not defined)"]
    failure = items[-1]
    assert isinstance(failure, PayloadFailure)
    assert failure.position == {"line": 4, "byte_offset": data.index(b'<person id="x2"')}


def test_the_first_error_is_this_documents_own(xml_mapping: Mapping) -> None:
    """``XMLSyntaxError.error_log`` copies a thread-wide log: an earlier document's error must not show."""
    xml_items(doc(person("x1", family="A\x00")).encode(), xml_mapping)  # leaves "Char 0x0" in that log
    items = xml_items(doc(person("x1"), '<person id="x2"><family>').encode()[:-8], xml_mapping)
    assert summary(items)[0] == "ok x1"
    assert "0x0" not in summary(items)[-1]
    assert "not well-formed at line 4" in summary(items)[-1]


@pytest.mark.parametrize("breaker", [b"\x00", b"\xc3\x28\xff", ("<a>" * 300).encode()],
                         ids=["nul", "invalid-utf8", "too-deep"])
def test_records_parsed_before_a_break_in_the_same_block_are_kept(
    breaker: bytes, xml_mapping: Mapping
) -> None:
    data = doc(person("x1"), person("x2"), person("x3", family="@@")).encode().replace(b"@@", breaker)
    result = summary(xml_items(data, xml_mapping))
    assert result[:2] == ["ok x1", "ok x2"]
    assert len(result) == 3
    assert result[2].startswith("! parse_error: XML is not well-formed at line 5")


def test_utf8_text_declared_windows_1251_is_refused_as_mojibake(xml_mapping: Mapping) -> None:
    data = doc(person("x1", family="Сидоров", given="Ася"),
               decl='<?xml version="1.0" encoding="windows-1251"?>\n').encode("utf-8")
    assert summary(xml_items(data, xml_mapping)) == [
        "! parse_error: the document declares encoding windows-1251 but its bytes are UTF-8: its text would "
        "be mis-decoded (mojibake)"]


@pytest.mark.parametrize("encoding", ["windows-1251", "cp1251", "koi8-r", "cp866", "iso-8859-5"])
def test_genuine_single_byte_cyrillic_is_read_as_declared(encoding: str, xml_mapping: Mapping) -> None:
    data = doc(person("x1", family="Сидоров", given="Ася"), person("x2", family="ЁЛКИН", given="Ян"),
               decl=f'<?xml version="1.0" encoding="{encoding}"?>\n').encode(encoding)
    items = xml_items(data, xml_mapping)
    assert summary(items) == ["ok x1", "ok x2"]
    first = items[0]
    assert isinstance(first, SourceRecord)
    assert first.result.records[0].record.model_dump()["family_name"] == "Сидоров"


def test_the_first_block_with_non_ascii_bytes_decides(xml_mapping: Mapping) -> None:
    """ASCII records before it are the same in either encoding; the block with Cyrillic is refused."""
    ascii_part = "".join(person(f"a{i}", family="Smith", given="Ann") for i in range(40_000))
    data = doc(ascii_part, person("x1", family="Сидоров"),
               decl='<?xml version="1.0" encoding="windows-1251"?>\n').encode("utf-8")
    assert len(data) > 2 * BLOCK
    result = summary(xml_items(data, xml_mapping))
    assert result[-1].startswith("! parse_error: the document declares encoding windows-1251")
    assert all(r.startswith("ok a") for r in result[:-1])


# ----------------------------------------------------------------------------------------------- JSON
def ngo_page(**extra: Any) -> dict[str, Any]:
    participant = {"id": "x1", "last_name": "Петрова", "first_name": "Мария", "birth_date": "2015-03-04",
                   "gender": "F", "deleted": False, "role_in_household": "child"}
    return {"data": [{**participant, **extra}], "next_cursor": None}


@pytest.mark.parametrize(("page", "fits"), [
    ({"data": [], "next_cursor": None}, True),
    ({"data": [{"id": "1"}]}, True),
    ([{"id": "1"}], False),
    ({"data": {"id": "1"}}, False),
    ({"data": None}, False),
    ({"items": []}, False),
    ("data", False),
    (None, False),
])
def test_a_page_must_have_the_selectors_shape(page: Any, fits: bool) -> None:
    assert fits_selector(page, "data[*]") is fits


@pytest.mark.parametrize(("page", "fits"), [
    ({"resourceType": "Bundle", "type": "searchset", "total": 0}, True),  # FHIR leaves out empty arrays
    ({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}, True),
    ({"resourceType": "Bundle", "entry": [{"search": {}}]}, True),  # an entry without resource: the record's
    ({"resourceType": "Bundle", "entry": {"resource": {}}}, False),
    ({"resourceType": "OperationOutcome"}, False),
    ({"entry_list": []}, False),
    ([], False),
])
def test_a_fhir_bundle_without_entry_is_an_empty_page(page: Any, fits: bool) -> None:
    assert fits_selector(page, "entry[*].resource") is fits


def test_a_page_of_another_shape_fails_as_a_whole(ngo_mapping: Mapping) -> None:
    items = list(read_json(json.dumps([ngo_page()["data"][0]]).encode(), ngo_mapping))
    assert summary(items) == ["! parse_error: page does not have the shape the mapping expects: data[*]"]


def test_an_empty_page_is_a_page(ngo_mapping: Mapping) -> None:
    assert list(read_json(b'{"data": [], "next_cursor": null}', ngo_mapping)) == []


@pytest.mark.parametrize("depth", [1_500, 100_000])
def test_deeply_nested_json_is_a_parse_error(depth: int, ngo_mapping: Mapping) -> None:
    items = list(read_json(b"[" * depth + b"]" * depth, ngo_mapping))
    assert summary(items) == ["! parse_error: not valid JSON: nested too deeply (RecursionError)"]


def test_a_lone_surrogate_keeps_its_raw_bytes_and_fails_validation(ngo_mapping: Mapping) -> None:
    data = json.dumps(ngo_page(address="ул. Ленина @@")).replace("@@", "\\ud800").encode()
    [item] = list(read_json(data, ngo_mapping))
    assert isinstance(item, SourceRecord)
    assert b"\\ud800" in item.raw  # escaped as sent: it has no UTF-8 form
    assert item.result.error is not None
    assert item.result.error.reason_code == "validation_error"


@pytest.mark.parametrize("field", ["address", "id"])
def test_a_nul_never_reaches_a_record(field: str, ngo_mapping: Mapping) -> None:
    page = ngo_page(**{field: "x1@@" if field == "id" else "ул. Ленина@@"})
    [item] = list(read_json(json.dumps(page).replace("@@", "\\u0000").encode(), ngo_mapping))
    assert isinstance(item, SourceRecord)
    assert item.result.error is not None
    assert "NUL" in str(item.result.error)


# ------------------------------------------------------------------------------------- canonical model
def _errors(model: type[Any], **data: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return error_list(exc.value)


@pytest.mark.parametrize(("field", "limit"), [
    ("text", 500), ("region", 200), ("district", 200), ("locality", 200), ("street", 200), ("house", 50),
    ("building", 50), ("apartment", 50),
])
def test_address_fields_have_a_length_limit_and_pii_free_errors(field: str, limit: int) -> None:
    value = (SECRET + " ") * (limit // len(SECRET))
    value += "д" * (limit + 1 - len(value))
    [error] = _errors(Address, **{field: value, "text": "x"} if field != "text" else {field: value})
    assert error == {"field": field, "error": f"String should have at most {limit} characters",
                     "type": "string_too_long"}
    assert SECRET not in json.dumps(error, ensure_ascii=False)


def test_every_string_of_every_model_is_capped_and_storable() -> None:
    from schemas.care import PlannedService

    [error] = _errors(PlannedService, kind="legal", description="д" * (TEXT_LIMIT + 1))
    assert error["error"] == f"description: must be at most {TEXT_LIMIT} characters, got {TEXT_LIMIT + 1}"
    [error] = _errors(PlannedService, kind="legal", description=f"{SECRET}\x00")
    assert error["error"] == ("description: contains a NUL character or an unpaired surrogate "
                              "(never genuine text)")


def test_names_keep_their_own_length_message() -> None:
    provenance = {"source_system": "ngo", "source_record_id": "1", "mapping_version": "1"}
    errors = _errors(Person, provenance=provenance, family_name="A" * 10_000, given_name="Анна")
    assert [e["error"] for e in errors] == ["must be at most 100 characters, got 10000"]


# -------------------------------------------------------------------------------------------- mojibake
def _all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _all_strings(key)
            yield from _all_strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _all_strings(item)


def _sandbox_names() -> set[str]:
    """Every string of sandbox/names.py (given names, patronymics, diminutives, family names, places)."""
    found = {s for k, v in vars(names).items() if not k.startswith("__") for s in _all_strings(v)}
    return found | {names.feminine_family_name(f) for f in names.FAMILY_NAMES}


REAL = ["Рябова", "Сергей", "Всеволод", "Прохор", "Сёмин", "Пётр", "ФЁДОР", "РЯБОВА", "Ася", "Ян",
        "Рій", "Рівне", "ПЕТРІВ", "Семён-Сергеевич", "Д'Артаньян", "Ivanov"]


@pytest.mark.parametrize("name", REAL)
def test_real_names_are_not_mojibake(name: str) -> None:
    assert not looks_like_mojibake(name)


def test_no_name_of_the_sandbox_looks_like_mojibake() -> None:
    population = _sandbox_names()
    assert len(population) > 500
    assert [n for n in population if looks_like_mojibake(n)] == []


def test_every_sandbox_name_read_as_windows_1251_is_mojibake() -> None:
    """The mis-decoded form of every real name is caught (0x98, the UTF-8 tail of 'И', is undefined)."""
    garbled = {n: n.encode().decode("cp1251", "replace") for n in _sandbox_names()}
    assert [n for n, g in garbled.items() if g != n and not looks_like_mojibake(g)] == []


def test_a_mojibake_name_is_refused_without_echoing_it() -> None:
    provenance = {"source_system": "ngo", "source_record_id": "1", "mapping_version": "1"}
    errors = _errors(Person, provenance=provenance, family_name="Сидоров".encode().decode("cp1251"),
                     given_name="Анна")
    assert errors == [{"field": "family_name", "error": "text looks like mis-decoded Cyrillic (mojibake)",
                       "type": "value_error"}]


# ----------------------------------------------------------------------------------------- code tables
def test_an_unknown_code_is_described_by_its_shape() -> None:
    with pytest.raises(FieldMappingError) as exc:
        _code({"a": 1}, "relationship", SECRET, None, "membership.role")
    assert str(exc.value) == "membership.role: code shaped 'Яяяяяяя' is not in code table 'relationship'"

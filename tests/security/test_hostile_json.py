"""Hostile JSON loses one record, never a page or a pull: numbers, constants, duplicate keys, broken pages.

Through the real pipeline: a file drop of several files where one record carries the hostile value must
stage every other record of every file and quarantine that one record with its reason and its bytes; a
flaw in a page's envelope refuses that page (kept, quarantined) and the pull goes on; an unparseable REST
or FHIR page is stored as a raw payload and quarantined as a whole, and the pull goes on with the next
endpoint or resource type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from mapper import strict_json
from tests.security.servers import Answer, ScriptedServer
from tests.sources import MakeSource, Source, http_connection, query


def person(pid: int, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "last_name": "Петрова", "first_name": "Мария", "birth_date": "2015-03-04",
            "gender": "F", "updated_at": "2026-11-01T00:00:00+03:00", **extra}


def page_bytes(*records: dict[str, Any]) -> bytes:
    return json.dumps({"data": list(records), "next_cursor": None}, ensure_ascii=False).encode()


@pytest.fixture
def drop(tmp_path: Path, make_source: MakeSource) -> tuple[Source, Path]:
    folder = tmp_path / "drop"
    folder.mkdir()
    connection = {"conn_type": "fs", "extra": {"path": str(folder)}}
    return make_source("file_drop", "mappings/ngo.yaml", connection, options={"patterns": ["*.json"]}), folder


def _quarantined_raw(source: Source) -> list[tuple[str, str, bytes]]:
    rows = query(source.url, "SELECT reason_code, reason, raw_compression, raw_content FROM quarantine "
                 "WHERE source_code = %s ORDER BY quarantine_id", (source.code,))
    return [(c, r, zstandard.ZstdDecompressor().decompress(bytes(b)) if z == "zstd" else bytes(b))
            for c, r, z, b in rows]


HOSTILE = {
    "5000_digit_integer": (b"9" * 5000, "5000 digits"),
    "overflowing_float": (b"1e400", "out of range"),
    "nan": (b"NaN", "NaN is not a JSON number"),
    "infinity": (b"-Infinity", "is not a JSON number"),
    "long_decimal": (b"0." + b"1" * 200, "characters"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_number_costs_one_record_of_one_file(drop: tuple[Source, Path], case: str) -> None:
    source, folder = drop
    literal, reason = HOSTILE[case]
    bad = page_bytes(person(1), person(2, id="__BAD__"), person(3)).replace(b'"__BAD__"', literal)
    (folder / "a.json").write_bytes(bad)
    (folder / "b.json").write_bytes(page_bytes(person(10), person(11)))
    (folder / "c.json").write_bytes(page_bytes(person(20)))
    source.pull()
    assert source.staged() == {"1", "3", "10", "11", "20"}
    [(code, text, raw)] = _quarantined_raw(source)
    assert code == "hostile_input"
    assert reason in text
    assert "/data/1" in text
    assert literal[:64] in raw  # the record's bytes, the literal as sent
    assert "Петрова" not in text
    assert source.pull().payloads_skipped == 3  # a rerun adds nothing


def test_duplicate_keys_in_a_record_quarantine_that_record(drop: tuple[Source, Path]) -> None:
    source, folder = drop
    text = page_bytes(person(1), person(2), person(3)).decode()
    text = text.replace('"id": 2,', '"id": 2, "last_name": "Другая",', 1)
    (folder / "a.json").write_text(text, "utf-8")
    source.pull()
    assert source.staged() == {"1", "3"}
    [(code, reason, _raw)] = _quarantined_raw(source)
    assert code == "hostile_input"
    assert "duplicate key last_name" in reason
    assert "Другая" not in reason


def test_a_duplicate_key_in_the_envelope_refuses_the_page(drop: tuple[Source, Path]) -> None:
    source, folder = drop
    first = json.dumps([person(1)], ensure_ascii=False)
    second = json.dumps([person(2)], ensure_ascii=False)
    (folder / "a.json").write_text(f'{{"data": {first}, "data": {second}, "next_cursor": null}}', "utf-8")
    (folder / "b.json").write_bytes(page_bytes(person(10)))
    source.pull()
    assert source.staged() == {"10"}
    [(code, reason, _raw)] = _quarantined_raw(source)
    assert code == "hostile_input"
    assert "duplicate key data" in reason


def test_a_record_nested_past_the_limit_is_refused_alone(drop: tuple[Source, Path]) -> None:
    source, folder = drop
    deep: Any = "x"
    for _ in range(strict_json.MAX_RECORD_DEPTH + 5):
        deep = {"k": deep}
    (folder / "a.json").write_bytes(page_bytes(person(1), person(2, extra=deep), person(3)))
    source.pull()
    assert source.staged() == {"1", "3"}
    [(code, reason, _raw)] = _quarantined_raw(source)
    assert code == "hostile_input"
    assert "nested more than" in reason


def test_an_unparseable_rest_page_is_kept_and_the_next_endpoint_pulled(
    make_source: MakeSource, agency: ScriptedServer
) -> None:
    broken = b'{"data": [{"id": 1, "last_name": "\xd0\x9f\xd0\xb5'  # cut in the middle of a name
    agency.routes["/api/v1/participants"] = lambda _s: Answer(200, broken)
    agency.routes["/api/v1/more"] = lambda _s: Answer(200, page_bytes(person(5)))
    source = make_source("rest_cursor", "mappings/ngo.yaml", http_connection(agency, auth="api_key"),
                         options={"endpoints": ["/api/v1/participants", "/api/v1/more"]})
    source.pull()
    assert source.staged() == {"5"}
    [(code, reason, raw)] = _quarantined_raw(source)
    assert code == "protocol_violation"
    assert "not JSON" in reason
    assert raw == broken
    assert broken in source.raw_payloads()
    # the next night asks again: the same bytes are quarantined once, the watermark did not pass them
    source.pull()
    assert len(_quarantined_raw(source)) == 1
    assert [s.path for s in agency.seen].count("/api/v1/participants") == 6  # 3 tries a night


def test_an_unparseable_fhir_page_is_kept_and_the_next_resource_pulled(
    make_source: MakeSource, agency: ScriptedServer
) -> None:
    agency.routes["/fhir/Patient"] = lambda _s: Answer(200, b"<html>maintenance</html>")
    agency.routes["/fhir/Condition"] = lambda _s: Answer(200, json.dumps(
        {"resourceType": "Bundle", "type": "searchset", "total": 0}).encode())
    source = make_source("fhir", "mappings/health.yaml", http_connection(agency, auth="bearer"),
                         agency="health", options={"resources": ["Patient", "Condition"]})
    source.pull()
    [(code, _reason, raw)] = _quarantined_raw(source)
    assert code == "protocol_violation"
    assert raw == b"<html>maintenance</html>"
    assert "/fhir/Condition" in [s.path for s in agency.seen]


def test_a_cursor_that_repeats_ends_the_endpoint(make_source: MakeSource, agency: ScriptedServer) -> None:
    looping = json.dumps({"data": [person(1)], "next_cursor": "same"}, ensure_ascii=False).encode()
    agency.routes["/api/v1/participants"] = lambda _s: Answer(200, looping)
    source = make_source("rest_cursor", "mappings/ngo.yaml", http_connection(agency, auth="api_key"),
                         options={"endpoints": ["/api/v1/participants"]})
    source.pull()
    assert source.staged() == {"1"}
    assert len(agency.seen) == 2
    [(code, reason, _raw)] = _quarantined_raw(source)
    assert code == "protocol_violation"
    assert "loops" in reason


def test_the_strict_decoder_marks_and_keeps_literals() -> None:
    decoded = strict_json.loads(b'{"a": [1, 1e999, NaN], "b": {"x": 1, "x": 2}, "c": ' + b"7" * 100 + b"}")
    assert decoded.flawed
    flaws = strict_json.flaws_in(decoded.doc)
    assert len(flaws) == 4
    assert strict_json.dumps_as_sent(decoded.doc).endswith(b"7" * 100 + b"}")
    assert not strict_json.loads(b'{"a": 1.5, "b": [1, 2]}').flawed


def _drop_of(tmp_path: Path, make_source: MakeSource, mapping_text: str) -> tuple[Source, Path]:
    """A file-drop source of *.json files mapped by ``mapping_text``, and its folder."""
    folder = tmp_path / "drop"
    folder.mkdir()
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping_text, "utf-8")
    drop = {"conn_type": "fs", "extra": {"path": str(folder)}}
    return make_source("file_drop", str(mapping), drop, options={"patterns": ["*.json"]}), folder


PERSON_EMIT = """\
mapping: typed
version: 1.0.0
source: typed
format: json
records:
  - name: person
    select: "data[*]"
    emit:
      - kind: person
"""

TYPED_MAPPING = PERSON_EMIT + """\
        id: {path: id}
        fields:
          family_name: {path: "names[?rank > `0`].family | [0]"}
          given_name: {path: "join(' ', given)"}
          birth_date: {path: birth_date, date: [iso]}
"""


def test_a_value_of_another_type_for_a_path_costs_that_value(tmp_path: Path, make_source: MakeSource) -> None:
    """A number sent as text in a filtered array, a function given a number: the record is staged without
    that value (a warning names the field and the error's kind, not the value) and the pull goes on."""
    source, folder = _drop_of(tmp_path, make_source, TYPED_MAPPING)
    good = {"names": [{"rank": 1, "family": "Петрова"}], "given": ["Мария"], "birth_date": "2015-03-04"}
    (folder / "a.json").write_bytes(page_bytes(
        {"id": 1, **good},
        {"id": 2, **good, "names": [{"rank": "1", "family": "Петрова"}]},  # "1" > 0: null, not a crash
        {"id": 3, **good, "given": 7},  # join(' ', 7): a function on a number
        {"id": 4, **good}))
    source.pull()
    assert source.staged() == {"1", "2", "3", "4"}
    rows = dict(query(source.url, "SELECT source_record_id, canonical FROM staged_record "
                      "WHERE source_code = %s AND record_kind = 'person'", (source.code,)))
    assert rows["1"]["family_name"] == "Петрова"
    assert "family_name" not in rows["2"]
    assert "given_name" not in rows["3"]
    [warning] = query(source.url, "SELECT warnings::text FROM staged_record WHERE source_code = %s "
                      "AND source_record_id = '3'", (source.code,))[0]
    assert "given_name" in warning
    assert "JMESPath" in warning or "TypeError" in warning
    assert "Мария" not in warning


FOREACH_MAPPING = PERSON_EMIT + """\
        foreach: "sort_by(people, &rank)"
        id: {template: "{^id}-{rank}"}
        fields:
          family_name: {const: "Петрова"}
          given_name: {path: given_name}
"""


def test_a_foreach_path_that_cannot_be_evaluated_costs_its_record(
    tmp_path: Path, make_source: MakeSource
) -> None:
    """``sort_by`` over ranks of mixed types raises inside jmespath: that record is quarantined with the
    error's kind (no value), the others of the file are staged."""
    source, folder = _drop_of(tmp_path, make_source, FOREACH_MAPPING)
    people = [{"rank": 1, "given_name": "Мария"}, {"rank": 2, "given_name": "Анна"}]
    (folder / "a.json").write_bytes(page_bytes(
        {"id": 1, "people": people},
        {"id": 2, "people": [{"rank": 1, "given_name": "Мария"}, {"rank": "x", "given_name": "Анна"}]},
        {"id": 3, "people": people}))
    source.pull()
    assert {s.partition("-")[0] for s in source.staged()} == {"1", "3"}
    [(_, text, _)] = _quarantined_raw(source)
    assert "cannot be evaluated" in text
    assert "Мария" not in text
    assert "Анна" not in text

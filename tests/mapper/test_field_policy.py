"""Field-level error policy: an unusable value costs that value, not the person.

Each case maps one small XML record with an inline mapping and checks what was kept, what was dropped (and
the warning saying so, without the value) and when the record as a whole still goes to quarantine.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from mapper import Mapping, load_mapping
from mapper.readers import PayloadFailure, PayloadNote, SourceRecord, read_xml

MAPPING = """\
mapping: policy
version: 1.0.0
source: policy
format: xml
namespaces: {{p: "urn:policy"}}
{mapping_extra}
tables:
  sex: {{M: male, F: female}}
  role: {{"1": mother, "2": child}}
records:
  - name: person
    select: p:person
    when: {{path: "p:status", not_in: [deleted, test]}}
    emit:
      - kind: person
        id: {{path: "@id"}}
        fields:
          family_name: {{path: "p:family", required: true}}
          given_name: {{path: "p:given"}}
          birth_date: {{path: "p:born", date: [ru]{born_extra}}}
          sex: {{path: "p:sex", code: sex{sex_extra}}}
          patronymic: {{path: "p:patronymic", regex: "^([А-ЯЁ][а-яё]+)$"{patronymic_extra}}}
          identifiers:
            - {{kind: snils, value: {{path: "p:snils"}}}}
      - kind: membership
        id: {{template: "{{@id}}/m"}}
        fields:
          family_ref: {{const: F1}}
          person_ref: {{path: "@id"}}
          role: {{path: "p:role", code: role}}
"""
SECRET = "Карамзина"


def mapping(tmp_path: Path, **extra: str) -> Mapping:
    text = MAPPING.format(mapping_extra=extra.get("mapping", ""), born_extra=extra.get("born", ""),
                          sex_extra=extra.get("sex", ""), patronymic_extra=extra.get("patronymic", ""))
    path = tmp_path / "policy.yaml"
    path.write_text(text, "utf-8")
    return load_mapping(path)


def person(**values: str) -> bytes:
    fields = {"family": SECRET, "given": "Анна", "born": "12.03.2015", "sex": "F", "snils": "112-233-445 95",
              "patronymic": "Петровна", "role": "2", **values}
    body = "".join(f"<p:{k}>{v}</p:{k}>" for k, v in fields.items() if v is not None)
    return f'<p:root xmlns:p="urn:policy"><p:person id="R1">{body}</p:person></p:root>'.encode()


def read(m: Mapping, data: bytes) -> list[SourceRecord | PayloadFailure | PayloadNote]:
    return list(read_xml(io.BytesIO(data), m))


def one(m: Mapping, data: bytes) -> SourceRecord:
    items = read(m, data)
    assert len(items) == 1, items
    assert isinstance(items[0], SourceRecord), items
    return items[0]


def by_kind(item: SourceRecord) -> dict[str, Any]:
    return {r.kind: r for r in item.result.records}


def test_a_valid_record_has_no_warnings(tmp_path: Path) -> None:
    item = one(mapping(tmp_path), person())
    assert item.result.error is None
    assert [r.warnings for r in item.result.records] == [[], []]


def test_a_bad_snils_is_dropped_and_the_person_kept(tmp_path: Path) -> None:
    item = one(mapping(tmp_path), person(snils="112-233-445 96"))  # checksum fails
    rec = by_kind(item)["person"]
    assert rec.record.identifiers == []
    assert rec.record.family_name == SECRET
    assert len(rec.warnings) == 1
    assert "identifiers.0" in rec.warnings[0]
    assert "dropped" in rec.warnings[0]
    assert "112" not in rec.warnings[0]
    assert SECRET not in rec.warnings[0]


def test_an_impossible_date_is_dropped_with_a_warning(tmp_path: Path) -> None:
    item = one(mapping(tmp_path), person(born="31.02.2015"))
    rec = by_kind(item)["person"]
    assert rec.record.birth_date is None
    assert any("birth_date" in w and "value dropped" in w for w in rec.warnings)
    assert not any("31.02" in w for w in rec.warnings)


def test_a_future_birth_date_refused_by_the_model_is_cut(tmp_path: Path) -> None:
    rec = by_kind(one(mapping(tmp_path), person(born="01.01.2999")))["person"]
    assert rec.record.birth_date is None
    assert any(w.startswith("person.birth_date:") for w in rec.warnings)


def test_an_unknown_code_is_dropped_by_default(tmp_path: Path) -> None:
    rec = by_kind(one(mapping(tmp_path), person(sex="X")))["person"]
    assert rec.record.sex is None
    assert any("sex" in w and "code table" in w for w in rec.warnings)


def test_on_unknown_quarantine_refuses_the_record(tmp_path: Path) -> None:
    item = one(mapping(tmp_path, sex=", on_unknown: quarantine"), person(sex="X"))
    assert item.result.error is not None
    assert "code table 'sex'" in str(item.result.error)
    assert item.result.records == []


def test_on_error_quarantine_on_the_mapping_restores_all_or_nothing(tmp_path: Path) -> None:
    item = one(mapping(tmp_path, mapping="on_error: quarantine"), person(born="31.02.2015"))
    assert item.result.error is not None
    assert "birth_date" in str(item.result.error)


def test_keep_raw_keeps_the_text_as_sent(tmp_path: Path) -> None:
    rec = by_kind(one(mapping(tmp_path, patronymic=", on_error: keep_raw"), person(patronymic="Petrovna")))
    assert rec["person"].record.patronymic == "Petrovna"
    assert any("patronymic" in w and "kept as sent" in w for w in rec["person"].warnings)


def test_a_missing_required_value_quarantines(tmp_path: Path) -> None:
    item = one(mapping(tmp_path), person(family=None))
    assert item.result.error is not None
    assert "family_name" in str(item.result.error)


def test_a_refused_membership_leaves_the_person_with_a_warning(tmp_path: Path) -> None:
    item = one(mapping(tmp_path), person(role="9"))  # role unknown → dropped → membership lacks its role
    kinds = by_kind(item)
    assert item.result.error is None
    assert set(kinds) == {"person"}
    assert any("membership" in w and "left out" in w for w in kinds["person"].warnings)


def test_not_in_condition(tmp_path: Path) -> None:
    m = mapping(tmp_path)
    assert by_kind(one(m, person(status="active")))
    skipped = one(m, person(status="test"))
    assert skipped.result.records == []
    assert skipped.result.error is None


def test_an_unknown_root_namespace_is_refused_naming_what_was_found(tmp_path: Path) -> None:
    data = b'<x:export xmlns:x="urn:other:2.0"><x:person id="1"/></x:export>'
    items = read(mapping(tmp_path), data)
    assert len(items) == 1
    assert isinstance(items[0], PayloadFailure)
    assert items[0].reason_code == "mapping_error"
    assert "urn:other:2.0" in items[0].reason
    assert "'export'" in items[0].reason
    assert "['" not in items[0].reason  # lists written out, not as Python reprs
    assert "p:person" in items[0].reason


def test_an_empty_export_of_a_known_format_is_a_note(tmp_path: Path) -> None:
    items = read(mapping(tmp_path), b'<p:root xmlns:p="urn:policy"/>')
    assert len(items) == 1
    assert isinstance(items[0], PayloadNote)
    assert "no record" in items[0].message


@pytest.mark.parametrize("policy", ["drop", "keep_raw", "quarantine"])
def test_the_policy_is_part_of_the_mapping_schema(policy: str, tmp_path: Path) -> None:
    assert mapping(tmp_path, mapping=f"on_error: {policy}").spec.on_error == policy


def test_a_bad_optional_part_of_a_list_item_costs_that_part_only() -> None:
    """A postcode of no country's shape leaves the address without it; a bad SNILS takes its identifier."""
    from mapper.prune import validate_keeping
    from schemas import Person

    data = {"record_kind": "person", "family_name": SECRET, "given_name": "Анна", "birth_date": "2015-03-12",
            "provenance": {"source_system": "policy", "source_record_id": "R1", "mapping_version": "1.0.0"},
            "identifiers": [{"kind": "snils", "value": "112-233-445 96"}],
            "addresses": [{"kind": "residence", "postal_code": "12#45", "locality": "Тверь",
                           "street": "Лесная"}]}
    person, warnings = validate_keeping(Person, "person", data, lambda _field: "drop")
    assert isinstance(person, Person)
    [address] = person.addresses
    assert (address.postal_code, address.locality) == (None, "Тверь")
    assert person.identifiers == []
    assert any("addresses.0.postal_code dropped" in w for w in warnings), warnings
    assert any("identifiers.0 dropped" in w for w in warnings), warnings
    assert not any(SECRET in w for w in warnings)

"""A person is staged when what it carries can identify someone; names are not required one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mapper import Mapping, MappingSpecError, load_mapping
from mapper.readers import SourceRecord, read_json
from matching.reconcile import reconcile
from matching.standardize import standardize_person
from schemas import Person
from tests.sources import MakeSource, query

PROVENANCE = {"source_system": "register", "source_record_id": "1", "mapping_version": "1.0.0",
              "mapping_name": "register"}
SNILS = [{"kind": "snils", "value": "112-233-445 95"}]
LOCAL = [{"kind": "local", "system": "register", "value": "R-1"}]


def person(**fields: Any) -> Person:
    return Person.model_validate({"provenance": PROVENANCE, **fields})


@pytest.mark.parametrize("fields", [
    {"family_name": "Иванова", "given_name": "Анна"},
    {"family_name": "Smith", "birth_date": "1990-01-01"},
    {"given_name": "Анна", "identifiers": SNILS},
    {"family_name": "Ким", "identifiers": SNILS},
])
def test_enough_to_identify_someone(fields: dict[str, Any]) -> None:
    assert person(**fields)


@pytest.mark.parametrize("fields", [
    {},
    {"birth_date": "1990-01-01", "identifiers": SNILS},  # no name at all
    {"family_name": "Smith"},
    {"given_name": "Анна", "identifiers": LOCAL},  # a local id is no evidence across agencies
])
def test_not_enough(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="identifies nobody"):
        person(**fields)


def test_a_missing_name_is_missing_in_every_comparison_column() -> None:
    std = standardize_person(person(family_name="Smith", birth_date="1990-01-01"))
    assert std["given_name_std"] is None
    assert std["given_latin_key"] is None
    assert std["name_latin_key"] is None
    assert std["family_latin_key"]  # the name it has is compared
    other = standardize_person(person(given_name="Анна", identifiers=SNILS))
    assert other["family_stem"] is None
    assert other["family_latin_key"] is None


@pytest.mark.parametrize(("rule", "fields", "kept"), [
    (("family_name+birth_date",), {"family_name": "Иванова", "given_name": "Анна"}, False),  # stricter
    (("family_name+birth_date",), {"family_name": "Smith", "birth_date": "1990-01-01"}, True),
    (("given_name+local_identifier",), {"given_name": "Анна", "identifiers": LOCAL}, True),  # looser
    (("shared_identifier+birth_date",), {"birth_date": "1990-01-01", "identifiers": SNILS}, True),  # no name
    (("family_name+given_name+birth_date",), {"family_name": "Ким", "identifiers": SNILS}, False),
])
def test_a_mapping_may_set_its_own_rule(rule: tuple[str, ...], fields: dict[str, Any], kept: bool) -> None:
    data = {"provenance": PROVENANCE, **fields}
    if kept:
        assert Person.model_validate(data, context={"min_evidence": rule})
        return
    with pytest.raises(ValidationError, match="identifies nobody: carries") as info:
        Person.model_validate(data, context={"min_evidence": rule})
    assert "Иванова" not in str(info.value)
    assert "Ким" not in str(info.value)


def _mapping(tmp_path: Path, rule: str) -> Mapping:
    path = tmp_path / "m.yaml"
    path.write_text(f"""\
mapping: evidence
version: 1.0.0
source: evidence
format: json
{rule}
records:
  - name: person
    select: "data[*]"
    emit:
      - kind: person
        id: {{path: id}}
        fields:
          family_name: {{path: family}}
          given_name: {{path: given}}
          birth_date: {{path: born, date: [iso]}}
""", "utf-8")
    return load_mapping(path)


def test_the_rule_is_read_from_the_mapping_and_an_unknown_part_is_refused(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, "min_evidence: [family_name+birth_date]")
    page = json.dumps({"data": [{"id": "1", "family": "Иванова", "given": "Анна"},
                                {"id": "2", "family": "Иванова", "born": "1990-01-01"}]}).encode()
    items = list(read_json(page, mapping))
    kept = [r.source_record_id for item in items if isinstance(item, SourceRecord)
            for r in item.result.records]
    assert kept == ["2"]
    with pytest.raises(MappingSpecError, match="unknown evidence part"):
        _mapping(tmp_path, "min_evidence: [family_name+birthday]")


def test_a_person_a_looser_rule_staged_goes_through_reconcile(
    tmp_path: Path, make_source: MakeSource
) -> None:
    """Staged under ``given_name+local_identifier``, the person is matched and linked: the default rule is
    not applied again when matching reads the staged record back."""
    folder = tmp_path / "drop"
    folder.mkdir()
    mapping = tmp_path / "loose.yaml"
    mapping.write_text("""\
mapping: loose
version: 1.0.0
source: loose
format: json
min_evidence: [given_name+local_identifier]
records:
  - name: person
    select: "data[*]"
    emit:
      - kind: person
        id: {path: id}
        fields:
          given_name: {path: given}
          identifiers:
            - {kind: local, system: loose, value: {path: id}}
""", "utf-8")
    source = make_source("file_drop", str(mapping), {"conn_type": "fs", "extra": {"path": str(folder)}},
                         options={"patterns": ["*.json"]})
    (folder / "a.json").write_text(json.dumps({"data": [{"id": "L1", "given": "Анна"}]}), "utf-8")
    source.pull()
    assert source.staged() == {"L1"}
    assert reconcile(source.url)["persons"]["new_persons"] >= 1  # the database is shared with other tests
    assert query(source.url, "SELECT count(*) FROM entity_link WHERE source_code = %s AND valid_to IS NULL "
                 "AND record_kind = 'person'", (source.code,)) == [(1,)]
    with pytest.raises(ValidationError, match="identifies nobody"):  # the default rule still holds elsewhere
        person(given_name="Анна", identifiers=LOCAL)

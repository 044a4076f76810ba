"""The canonical models: valid records pass, invalid ones fail naming the field, never the value."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from schemas import RECORD_MODELS, CanonicalRecord, Person
from schemas.codes import AccompanimentLevel, FamilyCategory, IdentifierKind, ServiceKind
from schemas.validation import export_json_schemas, validate_document

PROV = {"source_system": "social_protection", "source_record_id": "SP-1", "mapping_version": "1.0.0"}

PERSON: dict[str, Any] = {
    "provenance": PROV,
    "family_name": "Миронов",
    "given_name": "Василий",
    "patronymic": "Михайлович",
    "birth_date": "1984-10-10",
    "sex": "male",
    "identifiers": [
        {"kind": "snils", "value": "056-860-671 92"},
        {"kind": "passport_rf", "value": "4415564123"},
        {"kind": "local", "value": "SP-1", "system": "social_protection"},
    ],
    "addresses": [{"locality": "Великий Новгород", "street": "Первая", "house": "2", "apartment": "55",
                   "postal_code": "173001"}],
    "contacts": [{"kind": "phone", "value": "8 (911) 123-45-67"}],
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "person": PERSON,
    "family": {"provenance": PROV, "categories": [{"category": "large"}, {"category": "low_income",
                                                                          "since": "2024-01-01"}]},
    "membership": {"provenance": PROV, "family_ref": "F1", "person_ref": "SP-1", "role": "mother",
                   "period_from": "2015-03-01"},
    "case": {"provenance": PROV, "family_ref": "F1", "level": "crisis", "stage": "activity",
             "curator": {"name": "Петрова А. В.", "agency": "social_protection"},
             "individual_programme": [{"kind": "psychological", "provider_agency": "ngo"}],
             "opened_on": "2025-02-01", "contract_date": "2025-02-10"},
    "service": {"provenance": PROV, "kind": "socio_medical", "provider_agency": "health",
                "person_ref": "SP-1", "started_on": "2025-03-01"},
    "disability": {"provenance": PROV, "person_ref": "SP-1", "kind": "disability",
                   "established_on": "2020-05-05"},
    "consent": {"provenance": PROV, "person_ref": "SP-1", "receiving_agencies": ["health", "education"],
                "purpose": "социальное сопровождение", "valid_from": "2025-01-01"},
}


@pytest.mark.parametrize("kind", list(RECORD_MODELS))
def test_every_kind_has_a_valid_example(kind: str) -> None:
    report = validate_document(kind, EXAMPLES[kind])
    assert report.errors == []
    assert report.ok


def test_person_is_normalised() -> None:
    person = Person.model_validate(PERSON)
    assert person.identifier(IdentifierKind.SNILS) == "05686067192"
    assert person.identifier(IdentifierKind.PASSPORT_RF) == "4415 564123"
    assert person.contacts[0].value == "+79111234567"


def _errors(kind: str, doc: dict[str, Any]) -> list[dict[str, str]]:
    report = validate_document(kind, doc)
    assert not report.ok
    return report.errors


def test_bad_snils_names_the_field_not_the_value() -> None:
    doc = copy.deepcopy(PERSON)
    doc["identifiers"][0]["value"] = "056-860-671 93"
    errors = _errors("person", doc)
    assert errors[0]["field"] == "identifiers.0.value"
    assert "checksum" in errors[0]["error"]
    assert "056" not in json.dumps(errors)
    assert "93" not in json.dumps(errors)


def test_bad_name_reports_shape_only() -> None:
    doc = copy.deepcopy(PERSON)
    doc["family_name"] = "Мирон0в"
    errors = _errors("person", doc)
    assert errors[0]["field"] == "family_name"
    assert "Мирон" not in json.dumps(errors, ensure_ascii=False)
    assert "Яяяяя9я" in errors[0]["error"]


def test_pydantic_type_errors_do_not_echo_input() -> None:
    doc = copy.deepcopy(PERSON)
    doc["birth_date"] = "10/10/1984 Миронов"
    errors = _errors("person", doc)
    assert errors[0]["field"] == "birth_date"
    assert "Миронов" not in json.dumps(errors, ensure_ascii=False)
    with pytest.raises(ValidationError) as exc:
        Person.model_validate(doc)
    assert "Миронов" not in str(exc.value)


def test_birth_date_in_the_future_is_rejected() -> None:
    doc = copy.deepcopy(PERSON)
    doc["birth_date"] = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert _errors("person", doc)[0]["field"] == "birth_date"


def test_unknown_fields_are_rejected() -> None:
    doc = {**PERSON, "diagnosis": "secret"}
    assert _errors("person", doc)[0]["field"] == "diagnosis"


def test_provenance_is_required() -> None:
    doc = {k: v for k, v in PERSON.items() if k != "provenance"}
    assert _errors("person", doc)[0]["field"] == "provenance"


def test_local_identifier_needs_its_system() -> None:
    doc = copy.deepcopy(PERSON)
    doc["identifiers"] = [{"kind": "local", "value": "X-1"}]
    assert "system" in _errors("person", doc)[0]["error"]


@pytest.mark.parametrize(
    ("kind", "patch", "field_or_text"),
    [
        ("membership", {"period_from": "2020-01-01", "period_to": "2019-01-01"}, "period_to is before"),
        ("case", {"closure_reason": "positive_dynamics"}, "closure_reason is set"),
        ("case", {"closed_on": "2024-01-01"}, "closed_on is before"),
        ("case", {"level": "urgent"}, "level"),
        ("service", {"person_ref": None}, "person_ref or family_ref"),
        ("consent", {"receiving_agencies": []}, "receiving_agencies"),
        ("family", {"categories": [{"category": "large"}, {"category": "large"}]}, "open twice"),
    ],
)
def test_record_rules(kind: str, patch: dict[str, Any], field_or_text: str) -> None:
    errors = _errors(kind, {**EXAMPLES[kind], **patch})
    assert any(field_or_text in e["error"] or field_or_text == e["field"] for e in errors), errors


def test_closed_case_with_positive_dynamics() -> None:
    doc = {**EXAMPLES["case"], "stage": "post_accompaniment", "closed_on": "2025-12-01",
           "closure_reason": "positive_dynamics"}
    assert validate_document("case", doc).ok


def test_union_dispatches_on_record_kind() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(CanonicalRecord)
    record = adapter.validate_python({**EXAMPLES["service"], "record_kind": "service"})
    assert record.kind is ServiceKind.SOCIO_MEDICAL


def test_enums_carry_russian_labels() -> None:
    assert FamilyCategory.LARGE.label == "многодетная семья"
    assert AccompanimentLevel.BASIC.label == "базовый (профилактический)"
    assert len(FamilyCategory) == 12
    assert {k.value for k in ServiceKind} == {
        "informational", "psychological", "socio_pedagogical", "socio_medical", "legal", "socio_economic"}


def test_json_schema_export(tmp_path: Path) -> None:
    paths = export_json_schemas(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{k}.schema.json" for k in RECORD_MODELS)
    family = json.loads((tmp_path / "family.schema.json").read_text("utf-8"))
    labels = family["$defs"]["FamilyCategory"]["x-labels"]
    assert labels["foster"] == "замещающая семья"
    disability = json.loads((tmp_path / "disability.schema.json").read_text("utf-8"))
    assert disability["x-confidential"] == "health"

"""The health agency's FHIR R4 builders: every output validates with fhir.resources, broken ones do not."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, get_args

import pytest

from sandbox.formats import fhir
from sandbox.formats.fhir import (
    Address,
    Condition,
    HumanName,
    Patient,
    Procedure,
    RelatedPerson,
    condition_resource,
    patient_resource,
    procedure_resource,
    related_person_resource,
    searchset_bundle,
    validate_resource,
)

MSK = timezone(timedelta(hours=3))
UPDATED = datetime(2024, 3, 1, 9, 30, 15, tzinfo=MSK)
ADDRESS = Address(line="ул. Вымышленная, д. 7, кв. 3", city="Новоград", state="Условная область",
                  district="Примерный район", postal_code="100001")

CHILD = Patient(
    id="child-1", mrn="MRN-000001", name=HumanName("Пробная", "Алиса", "Сергеевна"), gender="female",
    birth_date=date(2015, 10, 10), last_updated=UPDATED, snils="112-233-445 95",
    oms_enp="1234567890123456", birth_certificate="II-АБ 123456", address=ADDRESS, phone="+7 900 000-00-01",
)


def _valid(resource: dict[str, Any]) -> dict[str, Any]:
    assert validate_resource(resource) == []
    return resource


@pytest.mark.parametrize(
    "patient",
    [
        CHILD,
        Patient(id="adult-2", mrn="MRN-000002", name=HumanName("Образцов", "Пётр"), gender="male",
                birth_date=date(1984, 1, 31), last_updated=UPDATED),
        Patient(id="child-3", mrn="MRN-000003", name=HumanName("Sample", "John"), gender="male",
                birth_date=date(2020, 2, 29), last_updated=datetime(2024, 1, 1, tzinfo=UTC),
                snils="11223344595", active=False),
    ],
    ids=["full-cyrillic-with-patronymic", "minimal-no-patronymic-no-snils", "latin-unformatted-snils"],
)
def test_patient_validates(patient: Patient) -> None:
    resource = _valid(patient_resource(patient))
    assert resource["name"][0]["given"][0] == patient.name.given
    assert resource["birthDate"] == patient.birth_date.isoformat()
    assert resource["active"] is patient.active
    systems = [i["system"] for i in resource["identifier"]]
    assert systems[0] == fhir.SYSTEM_MRN
    assert (fhir.SYSTEM_SNILS in systems) is (patient.snils is not None)


def test_patient_carries_patronymic_as_second_given_and_identifiers_verbatim() -> None:
    resource = patient_resource(CHILD)
    assert resource["name"][0]["given"] == ["Алиса", "Сергеевна"]
    assert resource["name"][0]["text"] == "Пробная Алиса Сергеевна"
    values = {i["system"]: i["value"] for i in resource["identifier"]}
    assert values[fhir.SYSTEM_SNILS] == "112-233-445 95"
    assert values[fhir.SYSTEM_OMS_ENP] == "1234567890123456"
    assert values[fhir.SYSTEM_BIRTH_CERTIFICATE] == "II-АБ 123456"
    assert resource["meta"]["lastUpdated"] == "2024-03-01T09:30:15+03:00"
    assert resource["address"][0]["district"] == "Примерный район"


def test_patient_without_optional_data_has_no_empty_fields() -> None:
    resource = patient_resource(Patient(id="p-9", mrn="M9", name=HumanName("Образцова", "Ева"),
                                        gender="female", birth_date=date(2010, 5, 5), last_updated=UPDATED))
    assert "address" not in resource
    assert "telecom" not in resource
    assert resource["name"][0]["given"] == ["Ева"]
    assert [i["system"] for i in resource["identifier"]] == [fhir.SYSTEM_MRN]


def test_naive_last_updated_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        patient_resource(Patient(id="p", mrn="M", name=HumanName("Ф", "И"), gender="male",
                                 birth_date=date(2010, 1, 1), last_updated=datetime(2024, 1, 1)))


@pytest.mark.parametrize("relationship", get_args(fhir.Relationship))
def test_related_person_validates_for_each_relationship(relationship: fhir.Relationship) -> None:
    person = RelatedPerson(id=f"rp-{relationship.replace('_', '-')}", patient_id="child-1",
                           relationship=relationship, name=HumanName("Пробная", "Мария", "Ивановна"),
                           gender="female", last_updated=UPDATED, birth_date=date(1990, 6, 15),
                           snils="056-860-671 92", address=ADDRESS, phone="+7 900 000-00-02")
    resource = _valid(related_person_resource(person))
    code, _, text = fhir.RELATIONSHIP_CODES[relationship]
    concept = resource["relationship"][0]
    assert concept["coding"][0] == {"system": fhir.CODESYSTEM_V3_ROLE_CODE, "code": code,
                                    "display": fhir.RELATIONSHIP_CODES[relationship][1]}
    assert concept["text"] == text
    assert resource["patient"] == {"reference": "Patient/child-1"}


def test_relationship_codes_are_the_v3_role_codes() -> None:
    codes = {role: code for role, (code, _, _) in fhir.RELATIONSHIP_CODES.items()}
    assert codes == {"mother": "MTH", "father": "FTH", "guardian": "GUARD", "foster_parent": "PRNFOST",
                     "other_relative": "FAMMEMB"}


def test_related_person_minimal_latin_validates() -> None:
    resource = _valid(related_person_resource(RelatedPerson(
        id="rp-min", patient_id="child-3", relationship="father", name=HumanName("Sample", "Mark"),
        gender="male", last_updated=UPDATED)))
    assert "identifier" not in resource
    assert "birthDate" not in resource


@pytest.mark.parametrize("code", get_args(fhir.ChildStatusCode))
@pytest.mark.parametrize("abatement", [None, date(2023, 12, 31)], ids=["active", "ended"])
def test_condition_validates(code: fhir.ChildStatusCode, abatement: date | None) -> None:
    resource = _valid(condition_resource(Condition(
        id="cond-1", patient_id="child-1", code=code, onset=date(2018, 4, 1), recorded=date(2018, 4, 20),
        last_updated=UPDATED, abatement=abatement)))
    assert resource["code"]["coding"][0]["system"] == fhir.CODESYSTEM_CHILD_STATUS
    assert resource["code"]["coding"][0]["display"] == fhir.CHILD_STATUS_CODES[code]
    clinical = resource["clinicalStatus"]["coding"][0]["code"]
    assert clinical == ("active" if abatement is None else "resolved")
    assert ("abatementDateTime" in resource) is (abatement is not None)


@pytest.mark.parametrize(
    ("status", "start", "end"),
    [
        ("completed", datetime(2024, 2, 1, 10, tzinfo=MSK), datetime(2024, 2, 1, 11, tzinfo=MSK)),
        ("in-progress", date(2024, 2, 1), None),
        ("preparation", date(2024, 4, 1), None),
        ("not-done", date(2024, 2, 5), date(2024, 2, 5)),
    ],
)
def test_procedure_validates(status: fhir.ProcedureStatus, start: date, end: date | None) -> None:
    for service_code, display in fhir.SERVICE_CODES.items():
        resource = _valid(procedure_resource(Procedure(
            id="svc-1", patient_id="child-1", service_code=service_code, status=status, start=start,
            performer="ГБУЗ «Условная районная больница»", last_updated=UPDATED, end=end)))
        assert resource["code"]["coding"][0]["display"] == display
        assert resource["performer"][0]["actor"]["display"] == "ГБУЗ «Условная районная больница»"
        assert ("end" in resource["performedPeriod"]) is (end is not None)


def test_procedure_with_unknown_service_code_is_refused() -> None:
    with pytest.raises(KeyError):
        procedure_resource(Procedure(id="svc", patient_id="p", service_code="massage", status="completed",
                                     start=date(2024, 1, 1), performer="ГБУЗ", last_updated=UPDATED))


def _all_kinds() -> list[dict[str, Any]]:
    return [
        patient_resource(CHILD),
        related_person_resource(RelatedPerson(id="rp-1", patient_id="child-1", relationship="mother",
                                              name=HumanName("Пробная", "Мария"), gender="female",
                                              last_updated=UPDATED)),
        condition_resource(Condition(id="cond-1", patient_id="child-1", code="special-needs",
                                     onset=date(2016, 1, 1), recorded=date(2016, 1, 9),
                                     last_updated=UPDATED)),
        procedure_resource(Procedure(id="svc-1", patient_id="child-1", service_code="health-consultation",
                                     status="completed", start=date(2024, 1, 10), performer="ГБУЗ",
                                     last_updated=UPDATED)),
    ]


def test_searchset_bundle_with_next_link() -> None:
    resources = _all_kinds()
    bundle = _valid(searchset_bundle(resources, self_url="https://health.region.example/fhir/Patient?_count=4",
                                     next_url="https://health.region.example/fhir/Patient?_count=4&page=2",
                                     total=9))
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 9
    assert [link["relation"] for link in bundle["link"]] == ["self", "next"]
    assert bundle["link"][1]["url"].endswith("page=2")
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        f"{fhir.FHIR_BASE_URL}/{r['resourceType']}/{r['id']}" for r in resources]
    assert all(e["search"] == {"mode": "match"} for e in bundle["entry"])
    assert [e["resource"] for e in bundle["entry"]] == resources


def test_last_page_and_empty_bundle() -> None:
    last = _valid(searchset_bundle(_all_kinds(), self_url="https://x/fhir/Patient?page=3"))
    assert [link["relation"] for link in last["link"]] == ["self"]
    assert "total" not in last
    empty = _valid(searchset_bundle([], self_url="https://x/fhir/Patient?name=nobody", total=0))
    assert "entry" not in empty  # FHIR JSON forbids empty arrays
    assert empty["total"] == 0


def test_builders_are_json_serialisable_and_deterministic() -> None:
    assert json.dumps(_all_kinds(), ensure_ascii=False) == json.dumps(_all_kinds(), ensure_ascii=False)


def test_validation_does_not_modify_the_resource() -> None:
    resource = patient_resource(CHILD)
    before = copy.deepcopy(resource)
    validate_resource(resource)
    assert resource == before


def test_broken_patient_yields_errors_naming_the_fields() -> None:
    broken = dict(patient_resource(CHILD), gender="m", birthDate="10.10.2015")
    errors = validate_resource(broken)
    assert any(e.startswith("birthDate:") for e in errors)
    assert any(e.startswith("gender:") for e in errors)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"meta": {"lastUpdated": "2024-03-01T09:30:15"}}, "meta.lastUpdated"),  # instant without timezone
        ({"id": "child 1"}, "id"),
        ({"unknownField": 1}, "unknownField"),
        ({"telecom": [{"system": "mobile", "value": "1"}]}, "telecom.system"),
        ({"identifier": [{"system": fhir.SYSTEM_SNILS, "value": "1", "use": "primary"}]}, "identifier.use"),
    ],
)
def test_other_broken_patients(change: dict[str, Any], field: str) -> None:
    errors = validate_resource(patient_resource(CHILD) | change)
    assert any(e.startswith(f"{field}:") for e in errors), errors


def test_broken_related_person_condition_and_procedure() -> None:
    person, condition, procedure = _all_kinds()[1:]
    del person["patient"]
    assert any(e.startswith("patient:") for e in validate_resource(person))
    condition["abatementDateTime"] = "2024-01-01"  # still active: breaks con-4
    assert any(e.startswith("con-4") for e in validate_resource(condition))
    condition["clinicalStatus"]["coding"][0]["code"] = "finished"
    assert any(e.startswith("clinicalStatus:") for e in validate_resource(condition))
    procedure["status"] = "done"
    assert any(e.startswith("status:") for e in validate_resource(procedure))


def test_broken_bundle_and_entries() -> None:
    broken = dict(patient_resource(CHILD), gender="m", birthDate="10.10.2015")
    bundle = searchset_bundle([patient_resource(CHILD), broken], self_url="https://x/fhir/Patient")
    errors = validate_resource(bundle)
    assert any(e.startswith("entry[1].resource.birthDate:") for e in errors)
    assert any(e.startswith("entry[1].resource.gender:") for e in errors)
    assert not any(e.startswith("entry[0]") for e in errors)
    assert validate_resource(bundle | {"type": "search"}) != []


def test_unknown_resource_type() -> None:
    assert validate_resource({"resourceType": "Child", "id": "x"}) != []
    assert validate_resource({"id": "x"}) != []

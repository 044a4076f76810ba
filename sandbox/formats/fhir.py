"""The health agency's wire format: FHIR R4 JSON resources, as its (simulated) REST API serves them.

Pure builders from frozen dataclasses to plain dicts, plus validation against the ``fhir.resources`` R4B
models. Conventions of this source (the hub's mapping for it relies on them):

* Patronymic (отчество) is the **second** ``HumanName.given`` element: ``given = [имя, отчество]``. FHIR has
  no patronymic field; this is the usual Russian practice and keeps the name readable by any FHIR client.
  ``HumanName.text`` carries the full name in Russian order «Фамилия Имя Отчество».
* Identifiers: SNILS under its federal OID; the OMS unified policy number (ЕНП), birth certificate and the
  agency's MRN under the agency's own ``/fhir/sid/`` URIs (no federal OID is claimed for those). Values are
  written exactly as given, so a SNILS may arrive as ``11223344595`` or ``112-233-445 95``.
* RelatedPerson is per patient (FHIR design): a mother of two children is two RelatedPerson resources with
  different ids. The relationship keys are the canonical membership roles (``mother``, ``father``, ...).
* A socio-medical service is a ``Procedure``, not an ``Encounter``: ``Procedure.code`` names *what was
  done* (the service), while an Encounter describes a visit and forces an invented ``class`` (care setting).
* A child's disability / special-needs status is a ``Condition`` with a local code; no diagnosis codes.
* ``fhir.resources`` checks structure and primitive formats but not required value-set bindings (it
  accepts ``gender: "m"``), so :func:`validate_resource` adds those checks for the fields we emit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

JsonDict = dict[str, Any]
Gender = Literal["male", "female"]
Relationship = Literal["mother", "father", "guardian", "foster_parent", "other_relative"]
ChildStatusCode = Literal["disability", "special-needs"]
ProcedureStatus = Literal["preparation", "in-progress", "completed", "not-done"]

FHIR_BASE_URL: Final = "https://health.region.example/fhir"

SYSTEM_SNILS: Final = "urn:oid:1.2.643.100.3"
SYSTEM_OMS_ENP: Final = f"{FHIR_BASE_URL}/sid/oms-enp"
SYSTEM_BIRTH_CERTIFICATE: Final = f"{FHIR_BASE_URL}/sid/birth-certificate"
SYSTEM_MRN: Final = f"{FHIR_BASE_URL}/sid/mrn"
CODESYSTEM_CHILD_STATUS: Final = f"{FHIR_BASE_URL}/CodeSystem/child-status"
CODESYSTEM_SOCIO_MEDICAL_SERVICE: Final = f"{FHIR_BASE_URL}/CodeSystem/socio-medical-service"
CODESYSTEM_V3_ROLE_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CODESYSTEM_CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CODESYSTEM_CONDITION_VER_STATUS: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CODESYSTEM_CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"

#: Every URI this source uses, by a stable name (what the hub's mapping for the health agency references).
SYSTEMS: Final[Mapping[str, str]] = {
    "snils": SYSTEM_SNILS,
    "oms_enp": SYSTEM_OMS_ENP,
    "birth_certificate": SYSTEM_BIRTH_CERTIFICATE,
    "mrn": SYSTEM_MRN,
    "child_status": CODESYSTEM_CHILD_STATUS,
    "socio_medical_service": CODESYSTEM_SOCIO_MEDICAL_SERVICE,
    "v3_role_code": CODESYSTEM_V3_ROLE_CODE,
    "condition_clinical": CODESYSTEM_CONDITION_CLINICAL,
    "condition_ver_status": CODESYSTEM_CONDITION_VER_STATUS,
    "condition_category": CODESYSTEM_CONDITION_CATEGORY,
}

#: Membership role → (HL7 v3 RoleCode, its display, Russian text). Опекун and попечитель are both GUARD.
RELATIONSHIP_CODES: Final[Mapping[Relationship, tuple[str, str, str]]] = {
    "mother": ("MTH", "mother", "мать"),
    "father": ("FTH", "father", "отец"),
    "guardian": ("GUARD", "guardian", "опекун (попечитель)"),
    "foster_parent": ("PRNFOST", "foster parent", "приемный родитель"),
    "other_relative": ("FAMMEMB", "family member", "другой родственник"),
}

#: Codes of the local child-status CodeSystem, with their Russian displays.
CHILD_STATUS_CODES: Final[Mapping[ChildStatusCode, str]] = {
    "disability": "ребенок-инвалид",
    "special-needs": "ограниченные возможности здоровья (ОВЗ)",
}

#: Codes of the local socio-medical service CodeSystem (services of 442-ФЗ), with their Russian displays.
SERVICE_CODES: Final[Mapping[str, str]] = {
    "health-consultation": "консультация по вопросам сохранения и укрепления здоровья",
    "health-monitoring": "систематическое наблюдение для выявления отклонений в состоянии здоровья",
    "health-procedures": "выполнение процедур, связанных с сохранением здоровья",
    "healthy-lifestyle": "проведение мероприятий, направленных на формирование здорового образа жизни",
    "adaptive-physical-training": "проведение занятий по адаптивной физической культуре",
}


@dataclass(frozen=True)
class HumanName:
    """A person's official name; ``patronymic`` is absent for people who have none (e.g. foreign citizens)."""

    family: str
    given: str
    patronymic: str | None = None


@dataclass(frozen=True)
class Address:
    """A home address; ``line`` is street, house and flat as one string."""

    line: str
    city: str
    state: str
    district: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class Patient:
    """A child or an adult known to the health agency; ``mrn`` is always present, state ids may not be."""

    id: str
    mrn: str
    name: HumanName
    gender: Gender
    birth_date: date
    last_updated: datetime
    snils: str | None = None
    oms_enp: str | None = None
    birth_certificate: str | None = None
    address: Address | None = None
    phone: str | None = None
    active: bool = True


@dataclass(frozen=True)
class RelatedPerson:
    """A parent or legal representative of the patient ``patient_id``."""

    id: str
    patient_id: str
    relationship: Relationship
    name: HumanName
    gender: Gender
    last_updated: datetime
    birth_date: date | None = None
    snils: str | None = None
    address: Address | None = None
    phone: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Condition:
    """A child's disability or special-needs status; ``abatement`` set means it has ended (resolved)."""

    id: str
    patient_id: str
    code: ChildStatusCode
    onset: date
    recorded: date
    last_updated: datetime
    abatement: date | None = None


@dataclass(frozen=True)
class Procedure:
    """A socio-medical service (a code of :data:`SERVICE_CODES`) for a child or a parent (both Patients)."""

    id: str
    patient_id: str
    service_code: str
    status: ProcedureStatus
    start: date | datetime
    performer: str
    last_updated: datetime
    end: date | datetime | None = None


def _drop_empty(d: JsonDict) -> JsonDict:
    # FHIR JSON forbids null values and empty arrays, so absent data is left out rather than written empty.
    return {k: v for k, v in d.items() if v is not None and v != []}


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("FHIR instants need a timezone; got a naive datetime")
    return value.isoformat(timespec="seconds")


def _date_time(value: date | datetime) -> str:
    return _instant(value) if isinstance(value, datetime) else value.isoformat()


def _meta(last_updated: datetime) -> JsonDict:
    return {"lastUpdated": _instant(last_updated)}


def _coding(system: str, code: str, display: str) -> JsonDict:
    return {"system": system, "code": code, "display": display}


def _concept(system: str, code: str, display: str, text: str | None = None) -> JsonDict:
    return _drop_empty({"coding": [_coding(system, code, display)], "text": text})


def _identifier(system: str, value: str | None, use: str = "official") -> JsonDict | None:
    return None if value is None else {"use": use, "system": system, "value": value}


def _name(name: HumanName) -> JsonDict:
    given = [name.given] if name.patronymic is None else [name.given, name.patronymic]
    text = " ".join([name.family, *given])
    return {"use": "official", "text": text, "family": name.family, "given": given}


def _address(address: Address | None) -> list[JsonDict]:
    if address is None:
        return []
    return [_drop_empty({
        "use": "home", "type": "physical", "line": [address.line], "city": address.city,
        "district": address.district, "state": address.state, "postalCode": address.postal_code,
        "country": "RU",
    })]


def _telecom(phone: str | None) -> list[JsonDict]:
    return [] if phone is None else [{"system": "phone", "value": phone}]


def patient_resource(patient: Patient) -> JsonDict:
    """The FHIR ``Patient`` for a child or adult: MRN first, then SNILS, ENP and birth certificate."""
    identifiers = [
        _identifier(SYSTEM_MRN, patient.mrn, use="usual"),
        _identifier(SYSTEM_SNILS, patient.snils),
        _identifier(SYSTEM_OMS_ENP, patient.oms_enp),
        _identifier(SYSTEM_BIRTH_CERTIFICATE, patient.birth_certificate),
    ]
    return _drop_empty({
        "resourceType": "Patient", "id": patient.id, "meta": _meta(patient.last_updated),
        "identifier": [i for i in identifiers if i is not None], "active": patient.active,
        "name": [_name(patient.name)], "telecom": _telecom(patient.phone), "gender": patient.gender,
        "birthDate": patient.birth_date.isoformat(), "address": _address(patient.address),
    })


def related_person_resource(person: RelatedPerson) -> JsonDict:
    """The FHIR ``RelatedPerson`` for a parent / legal representative, relationship as a v3 RoleCode."""
    code, display, text = RELATIONSHIP_CODES[person.relationship]
    snils = _identifier(SYSTEM_SNILS, person.snils)
    birth_date = None if person.birth_date is None else person.birth_date.isoformat()
    return _drop_empty({
        "resourceType": "RelatedPerson", "id": person.id, "meta": _meta(person.last_updated),
        "identifier": [] if snils is None else [snils], "active": person.active,
        "patient": {"reference": f"Patient/{person.patient_id}"},
        "relationship": [_concept(CODESYSTEM_V3_ROLE_CODE, code, display, text)],
        "name": [_name(person.name)], "telecom": _telecom(person.phone), "gender": person.gender,
        "birthDate": birth_date, "address": _address(person.address),
    })


def condition_resource(condition: Condition) -> JsonDict:
    """The FHIR ``Condition`` for a disability / special-needs status; resolved when it has an abatement."""
    clinical = "active" if condition.abatement is None else "resolved"
    abatement = None if condition.abatement is None else condition.abatement.isoformat()
    return _drop_empty({
        "resourceType": "Condition", "id": condition.id, "meta": _meta(condition.last_updated),
        "clinicalStatus": _concept(CODESYSTEM_CONDITION_CLINICAL, clinical, clinical.title()),
        "verificationStatus": _concept(CODESYSTEM_CONDITION_VER_STATUS, "confirmed", "Confirmed"),
        "category": [_concept(CODESYSTEM_CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        "code": _concept(CODESYSTEM_CHILD_STATUS, condition.code, CHILD_STATUS_CODES[condition.code]),
        "subject": {"reference": f"Patient/{condition.patient_id}"},
        "onsetDateTime": condition.onset.isoformat(), "abatementDateTime": abatement,
        "recordedDate": condition.recorded.isoformat(),
    })


def procedure_resource(procedure: Procedure) -> JsonDict:
    """The FHIR ``Procedure`` for a socio-medical service; raises ``KeyError`` for an unknown service code."""
    display = SERVICE_CODES[procedure.service_code]
    end = None if procedure.end is None else _date_time(procedure.end)
    return _drop_empty({
        "resourceType": "Procedure", "id": procedure.id, "meta": _meta(procedure.last_updated),
        "status": procedure.status,
        "code": _concept(CODESYSTEM_SOCIO_MEDICAL_SERVICE, procedure.service_code, display, display),
        "subject": {"reference": f"Patient/{procedure.patient_id}"},
        "performedPeriod": _drop_empty({"start": _date_time(procedure.start), "end": end}),
        "performer": [{"actor": {"display": procedure.performer}}],
    })


def searchset_bundle(
    resources: Sequence[JsonDict],
    *,
    self_url: str,
    next_url: str | None = None,
    total: int | None = None,
    base_url: str = FHIR_BASE_URL,
) -> JsonDict:
    """A ``searchset`` Bundle of ``resources`` (one page), with ``self`` and, if given, ``next`` links."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries = [
        {"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in resources
    ]
    return _drop_empty({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                        "entry": entries})


# --- validation -----------------------------------------------------------------------------------------

_CONTACT_BINDINGS: Final[Mapping[str, frozenset[str]]] = {
    "gender": frozenset({"male", "female", "other", "unknown"}),
    "identifier.use": frozenset({"usual", "official", "temp", "secondary", "old"}),
    "name.use": frozenset({"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}),
    "telecom.system": frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"}),
    "telecom.use": frozenset({"home", "work", "temp", "old", "mobile"}),
    "address.use": frozenset({"home", "work", "temp", "old", "billing"}),
    "address.type": frozenset({"postal", "physical", "both"}),
}

# Required bindings on the coded fields we emit; CodeableConcepts are checked on their coding of that system.
_REQUIRED_BINDINGS: Final[Mapping[str, Mapping[str, frozenset[str]]]] = {
    "Patient": _CONTACT_BINDINGS,
    "RelatedPerson": _CONTACT_BINDINGS,
    "Condition": {
        f"clinicalStatus|{CODESYSTEM_CONDITION_CLINICAL}": frozenset(
            {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}),
        f"verificationStatus|{CODESYSTEM_CONDITION_VER_STATUS}": frozenset(
            {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}),
    },
    "Procedure": {"status": frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped",
                                       "completed", "entered-in-error", "unknown"})},
    "Bundle": {
        "type": frozenset({"document", "message", "transaction", "transaction-response", "batch",
                           "batch-response", "history", "searchset", "collection"}),
        "entry.search.mode": frozenset({"match", "include", "outcome"}),
    },
}


def _values_at(node: Any, path: Sequence[str]) -> Iterator[Any]:
    # Lists are walked transparently, as in FHIRPath: "telecom.use" reaches every telecom's use.
    if isinstance(node, list):
        for item in node:
            yield from _values_at(item, path)
    elif not path:
        yield node
    elif isinstance(node, dict) and path[0] in node:
        yield from _values_at(node[path[0]], path[1:])


def _binding_errors(resource: JsonDict) -> list[str]:
    errors = []
    for key, allowed in _REQUIRED_BINDINGS.get(str(resource.get("resourceType")), {}).items():
        path, _, system = key.partition("|")
        codes: list[Any] = list(_values_at(resource, path.split(".")))
        if system:
            codings = list(_values_at(codes, ["coding"]))
            codes = [c.get("code") for c in codings if isinstance(c, dict) and c.get("system") == system]
            if codings and not codes:
                errors.append(f"{path}: no coding from {system}")
        errors += [f"{path}: {code!r} is not in the required value set" for code in codes
                   if code not in allowed]
    return errors


def _invariant_errors(resource: JsonDict) -> list[str]:
    # con-4: an abated condition cannot be active.
    if resource.get("resourceType") != "Condition" or "abatementDateTime" not in resource:
        return []
    clinical = set(_values_at(resource, ["clinicalStatus", "coding", "code"]))
    if clinical and not clinical <= {"inactive", "remission", "resolved"}:
        return ["con-4: an abated condition must be inactive, remission or resolved"]
    return []


def _location(loc: Sequence[int | str]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(root)"


def _model_errors(resource: JsonDict) -> list[str]:
    resource_type = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(resource_type))  # cached by fhir.resources
    except (ValueError, KeyError):
        return [f"resourceType: {resource_type!r} is not a FHIR R4B resource type"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [f"{_location(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
    return []


def validate_resource(resource: JsonDict) -> list[str]:
    """Short error strings for a resource or a Bundle (entries included); an empty list when it is valid."""
    errors = _model_errors(resource) + _binding_errors(resource) + _invariant_errors(resource)
    entries = resource.get("entry", []) if resource.get("resourceType") == "Bundle" else []
    for index, entry in enumerate(entries):
        inner = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(inner, dict):
            # The Bundle model already checked each entry's structure; bindings and invariants are ours.
            prefix = f"entry[{index}].resource."
            errors += [prefix + e for e in _binding_errors(inner) + _invariant_errors(inner)]
    return errors

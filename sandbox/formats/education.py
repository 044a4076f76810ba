"""The education agency's payload ``urn://region-education/students/1.0``: students batch, registry crosswalk.

Pure builders and readers over lxml elements; the schema is ``schemas/xsd/education/students-1.0.xsd``.
Readers expect a schema-valid element and raise :class:`PayloadError` naming the element that is missing or
malformed, never its value (the payload is children's personal data); :func:`schema_errors` words XSD errors
the same way. :mod:`sandbox.formats.smev` re-exports all of this.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

__all__ = [
    "EDU_NS", "AccompanimentStatus", "BirthCertificate", "ChangeKind", "Gender",
    "LegalRepresentative", "PayloadError", "PmpkConclusion", "RegistryCrosswalk", "RegistryLink",
    "RelationCode", "School", "Student", "StudentsBatch", "iso_datetime",
    "read_registry_crosswalk", "read_students_batch", "render_registry_crosswalk", "render_students_batch",
    "schema_errors",
]

EDU_NS = "urn://region-education/students/1.0"
_NS = {"e": EDU_NS}
_E = TypeVar("_E", bound=StrEnum)


class PayloadError(ValueError):
    """An education payload element lacks a required child or holds a value of the wrong shape."""


class Gender(StrEnum):
    """Gender codes of the education system (SMEV commons style)."""

    MALE = "Male"
    FEMALE = "Female"


class RelationCode(StrEnum):
    """Who a legal representative is to the student."""

    MOTHER = "MOTHER"
    FATHER = "FATHER"
    GUARDIAN = "GUARDIAN"
    FOSTER_PARENT = "FOSTER_PARENT"


class ChangeKind(StrEnum):
    """``updated`` is an upsert of the full record; ``deleted`` is a tombstone with the last known state."""

    UPDATED = "updated"
    DELETED = "deleted"


class AccompanimentStatus(StrEnum):
    """The family's accompaniment status the hub pushes back with a registry id."""

    NONE = "none"
    ACTIVE = "active"
    POST_ACCOMPANIMENT = "post_accompaniment"
    CLOSED = "closed"


@dataclass(frozen=True)
class LegalRepresentative:
    """A parent, guardian or foster parent of a student, as the education system keeps them."""

    representative_id: str
    family_name: str
    first_name: str
    relation: RelationCode
    patronymic: str | None = None
    birth_date: dt.date | None = None
    snils: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class BirthCertificate:
    """Series like ``IV-АГ`` and a six-digit number."""

    series: str
    number: str


@dataclass(frozen=True)
class School:
    """The school a student attends."""

    code: str
    name: str


@dataclass(frozen=True)
class PmpkConclusion:
    """Conclusion of the psychological-medical-pedagogical commission (ПМПК)."""

    number: str
    date: dt.date
    text: str


@dataclass(frozen=True)
class Student:
    """One student record of a batch with its legal representatives (the full current list)."""

    student_id: str
    family_name: str
    first_name: str
    birth_date: dt.date
    gender: Gender
    school: School
    school_class: str
    changed_at: dt.datetime
    change: ChangeKind = ChangeKind.UPDATED
    patronymic: str | None = None
    snils: str | None = None
    birth_certificate: BirthCertificate | None = None
    adapted_programme: str | None = None
    pmpk: PmpkConclusion | None = None
    address: str | None = None
    representatives: tuple[LegalRepresentative, ...] = ()


@dataclass(frozen=True)
class StudentsBatch:
    """The education system's batch of changed student records."""

    created_at: dt.datetime
    students: tuple[Student, ...]


@dataclass(frozen=True)
class RegistryLink:
    """Education student id → registry person id (``P`` + nine digits), with the accompaniment status."""

    student_id: str
    registry_person_id: str
    accompaniment_status: AccompanimentStatus | None = None


@dataclass(frozen=True)
class RegistryCrosswalk:
    """What the hub pushes back to the education system: registry ids of the students it resolved."""

    created_at: dt.datetime
    links: tuple[RegistryLink, ...]


def iso_datetime(value: dt.datetime) -> str:
    """xsd:dateTime text of an aware datetime; naive ones are refused because their instant is unknown."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.isoformat()


# ---------------------------------------------------------------------------------------------- rendering


def _add(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, f"{{{EDU_NS}}}{name}").text = text


def _group(parent: etree._Element, name: str, children: dict[str, str | None]) -> None:
    group = etree.SubElement(parent, f"{{{EDU_NS}}}{name}")
    for child, text in children.items():
        _add(group, child, text)


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _add_names(parent: etree._Element, family: str, first: str, patronymic: str | None) -> None:
    _add(parent, "FamilyName", family)
    _add(parent, "FirstName", first)
    _add(parent, "Patronymic", patronymic)


def _render_representative(parent: etree._Element, rep: LegalRepresentative) -> None:
    element = etree.SubElement(parent, f"{{{EDU_NS}}}LegalRepresentative")
    _add(element, "RepresentativeID", rep.representative_id)
    _add_names(element, rep.family_name, rep.first_name, rep.patronymic)
    _add(element, "BirthDate", _date(rep.birth_date))
    _add(element, "Snils", rep.snils)
    _add(element, "RelationCode", str(rep.relation))
    _add(element, "Phone", rep.phone)


def _render_student(parent: etree._Element, student: Student) -> None:
    element = etree.SubElement(parent, f"{{{EDU_NS}}}Student")
    element.set("change", str(student.change))
    element.set("changedAt", iso_datetime(student.changed_at))
    _add(element, "StudentID", student.student_id)
    _add_names(element, student.family_name, student.first_name, student.patronymic)
    _add(element, "BirthDate", _date(student.birth_date))
    _add(element, "Gender", str(student.gender))
    _add(element, "Snils", student.snils)
    if (cert := student.birth_certificate) is not None:
        _group(element, "BirthCertificate", {"Series": cert.series, "Number": cert.number})
    _group(element, "School", {"Code": student.school.code, "Name": student.school.name})
    _add(element, "Class", student.school_class)
    _add(element, "AdaptedProgramme", student.adapted_programme)
    if (pmpk := student.pmpk) is not None:
        fields = {"Number": pmpk.number, "Date": _date(pmpk.date), "Conclusion": pmpk.text}
        _group(element, "PmpkConclusion", fields)
    _add(element, "Address", student.address)
    for rep in student.representatives:
        _render_representative(element, rep)


def render_students_batch(batch: StudentsBatch) -> etree._Element:
    """The ``StudentsBatch`` element of ``batch`` (put it in ``MessagePrimaryContent``)."""
    root = etree.Element(f"{{{EDU_NS}}}StudentsBatch", nsmap={None: EDU_NS})
    root.set("createdAt", iso_datetime(batch.created_at))
    for student in batch.students:
        _render_student(root, student)
    return root


def render_registry_crosswalk(crosswalk: RegistryCrosswalk) -> etree._Element:
    """The ``RegistryIdCrosswalk`` element the hub sends back to the education system."""
    root = etree.Element(f"{{{EDU_NS}}}RegistryIdCrosswalk", nsmap={None: EDU_NS})
    root.set("createdAt", iso_datetime(crosswalk.created_at))
    for link in crosswalk.links:
        status = None if link.accompaniment_status is None else str(link.accompaniment_status)
        _group(root, "Link", {"StudentID": link.student_id, "RegistryPersonID": link.registry_person_id,
                              "AccompanimentStatus": status})
    return root


# ---------------------------------------------------------------------------------------------- reading


def _opt(element: etree._Element, path: str) -> str | None:
    found = element.find(path, _NS)
    return None if found is None else (found.text or "")


def _req(element: etree._Element, path: str) -> str:
    text = _opt(element, path)
    if text is None:
        raise PayloadError(f"{etree.QName(element).localname}: missing {path.replace('e:', '')}")
    return text


def _parse_date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{what}: expected a date YYYY-MM-DD") from None


def _opt_date(element: etree._Element, path: str, what: str) -> dt.date | None:
    text = _opt(element, path)
    return None if text is None else _parse_date(text, what)


def _parse_datetime(text: str | None, what: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text or "")
    except ValueError:
        raise PayloadError(f"{what}: expected an xsd:dateTime") from None


def _code(enum: type[_E], text: str | None, what: str) -> _E:
    try:
        return enum(text or "")
    except ValueError:
        raise PayloadError(f"{what}: not one of {[m.value for m in enum]}") from None


def _expect_root(element: etree._Element, name: str) -> None:
    if element.tag != f"{{{EDU_NS}}}{name}":
        raise PayloadError(f"expected {{{EDU_NS}}}{name}, got {element.tag}")


def _read_representative(element: etree._Element) -> LegalRepresentative:
    return LegalRepresentative(
        representative_id=_req(element, "e:RepresentativeID"),
        family_name=_req(element, "e:FamilyName"),
        first_name=_req(element, "e:FirstName"),
        relation=_code(RelationCode, _req(element, "e:RelationCode"), "LegalRepresentative/RelationCode"),
        patronymic=_opt(element, "e:Patronymic"),
        birth_date=_opt_date(element, "e:BirthDate", "LegalRepresentative/BirthDate"),
        snils=_opt(element, "e:Snils"),
        phone=_opt(element, "e:Phone"),
    )


def _read_certificate(element: etree._Element) -> BirthCertificate | None:
    cert = element.find("e:BirthCertificate", _NS)
    if cert is None:
        return None
    return BirthCertificate(series=_req(cert, "e:Series"), number=_req(cert, "e:Number"))


def _read_pmpk(element: etree._Element) -> PmpkConclusion | None:
    pmpk = element.find("e:PmpkConclusion", _NS)
    if pmpk is None:
        return None
    issued = _parse_date(_req(pmpk, "e:Date"), "PmpkConclusion/Date")
    return PmpkConclusion(number=_req(pmpk, "e:Number"), date=issued, text=_req(pmpk, "e:Conclusion"))


def _read_student(element: etree._Element) -> Student:
    return Student(
        student_id=_req(element, "e:StudentID"),
        family_name=_req(element, "e:FamilyName"),
        first_name=_req(element, "e:FirstName"),
        birth_date=_parse_date(_req(element, "e:BirthDate"), "Student/BirthDate"),
        gender=_code(Gender, _req(element, "e:Gender"), "Student/Gender"),
        school=School(code=_req(element, "e:School/e:Code"), name=_req(element, "e:School/e:Name")),
        school_class=_req(element, "e:Class"),
        changed_at=_parse_datetime(element.get("changedAt"), "Student/@changedAt"),
        change=_code(ChangeKind, element.get("change"), "Student/@change"),
        patronymic=_opt(element, "e:Patronymic"),
        snils=_opt(element, "e:Snils"),
        birth_certificate=_read_certificate(element),
        adapted_programme=_opt(element, "e:AdaptedProgramme"),
        pmpk=_read_pmpk(element),
        address=_opt(element, "e:Address"),
        representatives=tuple(map(_read_representative, element.findall("e:LegalRepresentative", _NS))),
    )


def read_students_batch(element: etree._Element) -> StudentsBatch:
    """The :class:`StudentsBatch` held by a ``StudentsBatch`` element (validate it first for full checks)."""
    _expect_root(element, "StudentsBatch")
    return StudentsBatch(
        created_at=_parse_datetime(element.get("createdAt"), "StudentsBatch/@createdAt"),
        students=tuple(map(_read_student, element.findall("e:Student", _NS))),
    )


def _read_link(element: etree._Element) -> RegistryLink:
    status = _opt(element, "e:AccompanimentStatus")
    return RegistryLink(
        student_id=_req(element, "e:StudentID"),
        registry_person_id=_req(element, "e:RegistryPersonID"),
        accompaniment_status=None if status is None else _code(AccompanimentStatus, status, "Link/Status"),
    )


def read_registry_crosswalk(element: etree._Element) -> RegistryCrosswalk:
    """The :class:`RegistryCrosswalk` held by a ``RegistryIdCrosswalk`` element."""
    _expect_root(element, "RegistryIdCrosswalk")
    return RegistryCrosswalk(
        created_at=_parse_datetime(element.get("createdAt"), "RegistryIdCrosswalk/@createdAt"),
        links=tuple(map(_read_link, element.findall("e:Link", _NS))),
    )


# ---------------------------------------------------------------------------------------------- XSD

# lxml quotes offending values in its messages; these may be children's personal data, so they are cut.
_REDACTIONS = (
    (re.compile(r"The value '.*' (?=is not (an element|accepted))"), "The value "),
    (re.compile(r"^(Element '[^']*'(, attribute '[^']*')?: )'.*' (?=is not a valid value)"), r"\1The value "),
    (re.compile(r"Duplicate key-sequence \[.*\] (?=in)"), "Duplicate key-sequence "),
)
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(?:, attribute '([^']*)')?: ")
_CLARK_NAMESPACE = re.compile(r"\{[A-Za-z][A-Za-z0-9+.\-]*:[^}\s']*\}")


def _step(node: etree._Element) -> str:
    name, parent = str(etree.QName(node).localname), node.getparent()
    if parent is None or len(parent.findall(node.tag)) < 2:
        return name
    return f"{name}[{1 + sum(1 for _ in node.itersiblings(node.tag, preceding=True))}]"


def _node_at(element: etree._Element, xpath: str | None) -> etree._Element:
    """The node libxml2 names by ``/*/*[2]/*[5]`` or ``/smev:A/smev:B``, its first step being ``element``."""
    rest = (xpath or "").lstrip("/").partition("/")[2]
    prefixes = {prefix: uri for prefix, uri in element.nsmap.items() if prefix}
    try:
        found = element.xpath("./" + rest, namespaces=prefixes) if rest else []
    except etree.XPathError:
        found = []
    return found[0] if found and isinstance(found[0], etree._Element) else element


def _location(element: etree._Element, xpath: str | None) -> str:
    node = _node_at(element, xpath)
    steps = [_step(node)]
    while node is not element and (node := node.getparent()) is not None:
        steps.append(_step(node) if node is not element else etree.QName(node).localname)
    return "/".join(reversed(steps))


def _describe(element: etree._Element, entry: etree._LogEntry) -> str:
    message = entry.message
    for pattern, replacement in _REDACTIONS:
        message = pattern.sub(replacement, message)
    where = _location(element, entry.path)
    if match := _ELEMENT_PREFIX.match(message):
        message = message[match.end():]
        where += f"/@{match.group(1)}" if match.group(1) else ""
    return f"{where}: {_CLARK_NAMESPACE.sub('', message)}"


def schema_errors(schema: etree.XMLSchema, element: etree._Element) -> list[str]:
    """``element``'s XSD errors as ``Student[2]/Gender: rule broken``, never quoting the offending value."""
    try:
        schema.assertValid(element)
    except etree.DocumentInvalid as exc:
        # The exception's own log, not schema.error_log, which the next validation overwrites.
        return [_describe(element, entry) for entry in exc.error_log]
    return []

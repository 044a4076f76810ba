"""EGISSO 10.06.S «ИЗМЕНЕНИЯ РЕЕСТРА ФАКТОВ НАЗНАЧЕНИЯ МСЗ» packages of the social-protection sandbox.

Pure builder: the same input always gives the same bytes. ``render_package`` returns a whole document,
``EgissoFileWriter`` streams one fact at a time (both share one code path), ``validate`` checks bytes against
the vendored XSDs of ``schemas.xsd``.

What the XSDs impose on callers:

* ``<elements>`` is an ``xsd:sequence`` of separately repeated groups: every ``fact`` first, then
  ``terminationBasedOnRecalculation``, ``…OnIneligibility``, ``…OnEndOfRight``, ``…OnEndOfValidityPeriod``
  (the last two, and a termination's ``amount``/``quantity``, exist only in 1.0.6). The streaming writer
  raises ``EgissoOrderError`` on anything out of that order; ``render_package`` sorts terminations itself.
* ``needsCriteria`` and ``assignmentInfo`` are mandatory in a fact, so ``EgissoFact.amount`` is required
  (only the monetary form is supported) and ``usingSign`` is always written.
* A birth certificate series is ``[IVXLCDM]{1,10}-[А-Я]{2}``: LATIN Roman numerals, an ASCII hyphen, two
  capital Cyrillic letters (``Ё`` is outside ``А-Я``), e.g. ``IV-АГ``; a Cyrillic ``І``/``Х``/``С`` fails.
* Names are Cyrillic only (``rus-100``); document issuers are Cyrillic with digits (``rus-and-num-200``).

Content rules (SNILS digits, name alphabets, series patterns) are deliberately NOT checked here: the XSD is
the single authority, so run ``validate`` on what you render. The builder only rejects what it cannot format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias, get_args
from uuid import UUID

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

from sandbox.formats.xml_stream import BinaryWritable, emit
from sandbox.formats.xsd_check import safe_parser, validate_document
from schemas.xsd import egisso_xsd

Version = Literal["1.0.5", "1.0.6"]
Encoding = Literal["utf-8", "windows-1251"]
Gender = Literal["Male", "Female"]
Uuid: TypeAlias = str | UUID
AddressKind = Literal["PermanentResidence", "TemporaryResidence", "ActualResidence"]
IdentityDocKind = Literal[
    "PassportRF", "ForeignPassport", "ResidencePermitRF", "MilitaryPassport", "BirthCertificate",
    "TemporaryIdentityCardRF", "RefugeeCertificate", "OtherDocument",
]
TerminationKind = Literal[
    "terminationBasedOnRecalculation", "terminationBasedOnIneligibility",
    "terminationBasedOnEndOfRight", "terminationBasedOnEndOfValidityPeriod",
]

MSG_NS = {"1.0.5": "urn://egisso-ru/msg/10.06.S/1.0.5", "1.0.6": "urn://egisso-ru/msg/10.06.S/1.0.6"}
PACKAGE_NS = {"1.0.5": "urn://egisso-ru/types/package-RAF/1.0.6", "1.0.6": "urn://egisso-ru/types/package-RAF/1.0.7"}
FACT_NS = "urn://egisso-ru/types/assignment-fact/1.0.6"
PERSON_NS = "urn://egisso-ru/types/prsn-info/1.0.3"
SMEV_NS = "urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1"
BASIC_NS = "urn://egisso-ru/types/basic/1.0.4"  # prsn-info 1.0.3 takes documents and addresses from 1.0.4

# Sequence order inside <elements>; RAF 1.0.6 (message 1.0.5) knows only the first two kinds.
TERMINATION_ORDER: tuple[TerminationKind, ...] = get_args(TerminationKind)
_TERMINATIONS_OF = {"1.0.5": TERMINATION_ORDER[:2], "1.0.6": TERMINATION_ORDER}
# These two are declared locally in prsn-info, the other documents are global elements of basic 1.0.4.
_PERSON_LOCAL_DOCS = ("RefugeeCertificate", "OtherDocument")
_TZ = re.compile(r"Z|[+-](0\d|1[0-4]):[0-5]\d")
_CENT = Decimal("0.01")

# (Clark tag, text or children): facts are built whole in memory first, so a formatting error never leaves
# half a fact in the file.
_Node: TypeAlias = tuple[str, "str | list[_Node]"]


class EgissoOrderError(ValueError):
    """An element was written after one the XSD sequence of ``<elements>`` requires to come later."""


@dataclass(frozen=True, kw_only=True)
class EgissoAddress:
    """A ``basic:tAddress`` (OKSMCode is mandatory there; 643 is Russia)."""

    kind: AddressKind = "ActualResidence"
    oksm_code: str = "643"
    post_index: str | None = None
    region: str | None = None
    district: str | None = None
    city: str | None = None
    street: str | None = None
    house: str | None = None
    housing: str | None = None
    apartment: str | None = None


@dataclass(frozen=True, kw_only=True)
class EgissoIdentityDoc:
    """An identity document: PassportRF (series 4 digits, number 6), BirthCertificate (series ``IV-АГ``,
    number 6 digits) or another ``IdentityDoc`` choice; series may be None only for the unrestricted kinds."""

    kind: IdentityDocKind
    series: str | None
    number: str
    issue_date: date
    issuer: str


@dataclass(frozen=True, kw_only=True)
class EgissoPerson:
    """A ``prsn:tPersonInfo``: a receiver or a reason person (SNILS, 11 digits, is mandatory)."""

    snils: str
    family_name: str
    first_name: str
    gender: Gender
    birth_date: date
    patronymic: str | None = None
    maiden_family_name: str | None = None
    birth_place: str | None = None
    phone: str | None = None
    citizenship: str | None = None
    identity_doc: EgissoIdentityDoc | None = None
    address: EgissoAddress | None = None


@dataclass(frozen=True, kw_only=True)
class EgissoFact:
    """A new assignment fact of a social-support measure in monetary form."""

    uuid: Uuid
    osz_code: str
    receiver: EgissoPerson
    lmsz_id: Uuid
    category_id: Uuid
    decision_date: date
    date_start: date
    amount: Decimal
    reason_persons: tuple[EgissoPerson, ...] = ()
    lmsz_provider_code: str | None = None
    date_finish: date | None = None
    uses_needs_criteria: bool = False
    needs_criteria_codes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EgissoTermination:
    """The end of an assignment fact; ``amount``/``quantity`` (plain decimals) exist only in version 1.0.6."""

    uuid: Uuid
    assignment_fact_uuid: Uuid
    kind: TerminationKind
    date_finish: date
    provider_code: str | None = None
    amount: Decimal | None = None
    quantity: Decimal | None = None


def _q(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def _opt(tag: str, text: str | None) -> list[_Node]:
    return [] if text is None else [(tag, text)]


@dataclass(frozen=True)
class _Format:
    """How one package spells dates and money."""

    tz: str
    decimal_comma: bool

    def date(self, value: date) -> str:
        day = value.date() if isinstance(value, datetime) else value
        return day.isoformat() + self.tz

    def money(self, value: Decimal) -> str:
        """``tMoney`` is ``[0-9]+[.,]\\d{2}``: refuse rather than round a sum that does not fit."""
        if not value.is_finite() or value < 0 or value != value.quantize(_CENT):
            raise ValueError(f"an EGISSO amount must be non-negative with at most 2 decimals, got {value}")
        text = format(value.quantize(_CENT), "f")
        return text.replace(".", ",") if self.decimal_comma else text

    @staticmethod
    def decimal(value: Decimal) -> str:
        # xsd:decimal has no comma and no exponent, whatever the agency does with tMoney.
        if not value.is_finite():
            raise ValueError(f"an EGISSO decimal must be finite, got {value}")
        return format(value, "f")


def _address_node(address: EgissoAddress) -> _Node:
    fields = [("OKSMCode", address.oksm_code), ("PostIndex", address.post_index), ("Region", address.region),
              ("District", address.district), ("City", address.city), ("Street", address.street),
              ("House", address.house), ("Housing", address.housing), ("Apartment", address.apartment)]
    children = [node for name, value in fields for node in _opt(_q(BASIC_NS, name), value)]
    return _q(PERSON_NS, "Address"), [(_q(PERSON_NS, address.kind), children)]


def _identity_doc_node(doc: EgissoIdentityDoc, fmt: _Format) -> _Node:
    children = [*_opt(_q(BASIC_NS, "Series"), doc.series), (_q(BASIC_NS, "Number"), doc.number),
                (_q(BASIC_NS, "IssueDate"), fmt.date(doc.issue_date)), (_q(BASIC_NS, "Issuer"), doc.issuer)]
    doc_ns = PERSON_NS if doc.kind in _PERSON_LOCAL_DOCS else BASIC_NS
    return _q(PERSON_NS, "IdentityDoc"), [(_q(doc_ns, doc.kind), children)]


def _person_children(person: EgissoPerson, fmt: _Format) -> list[_Node]:
    p, s = PERSON_NS, SMEV_NS
    return [
        (_q(p, "SNILS"), person.snils), (_q(s, "FamilyName"), person.family_name),
        (_q(s, "FirstName"), person.first_name), *_opt(_q(s, "Patronymic"), person.patronymic),
        *_opt(_q(p, "MaidenFamilyName"), person.maiden_family_name), (_q(p, "Gender"), person.gender),
        (_q(p, "BirthDate"), fmt.date(person.birth_date)), *_opt(_q(p, "BirthPlace"), person.birth_place),
        *_opt(_q(p, "PhoneNumber"), person.phone), *_opt(_q(p, "Citizenship"), person.citizenship),
        *([_identity_doc_node(person.identity_doc, fmt)] if person.identity_doc else []),
        *([_address_node(person.address)] if person.address else []),
    ]


def _reason_persons(persons: tuple[EgissoPerson, ...], fmt: _Format) -> list[_Node]:
    if not persons:
        return []
    infos: list[_Node] = [(_q(PERSON_NS, "prsnInfo"), _person_children(p, fmt)) for p in persons]
    return [(_q(FACT_NS, "reasonPersons"), infos)]


def _needs_criteria(fact: EgissoFact) -> _Node:
    a = FACT_NS
    codes: list[_Node] = [(_q(a, "needsCriteria"), [(_q(a, "needsCriteriaCode"), c)])
                          for c in fact.needs_criteria_codes]
    using = "true" if fact.uses_needs_criteria else "false"
    return _q(a, "needsCriteria"), [(_q(a, "usingSign"), using), *codes]


def _fact_node(fact: EgissoFact, fmt: _Format, package_ns: str) -> _Node:
    a = FACT_NS
    money: _Node = (_q(a, "monetaryForm"), [(_q(a, "amount"), fmt.money(fact.amount))])
    children: list[_Node] = [
        (_q(a, "oszCode"), fact.osz_code), (_q(a, "mszReceiver"), _person_children(fact.receiver, fmt)),
        *_reason_persons(fact.reason_persons, fmt), (_q(a, "lmszId"), str(fact.lmsz_id)),
        *_opt(_q(a, "lmszProviderCode"), fact.lmsz_provider_code),
        (_q(a, "categoryId"), str(fact.category_id)), (_q(a, "decisionDate"), fmt.date(fact.decision_date)),
        (_q(a, "dateStart"), fmt.date(fact.date_start)),
        *_opt(_q(a, "dateFinish"), None if fact.date_finish is None else fmt.date(fact.date_finish)),
        _needs_criteria(fact), (_q(a, "assignmentInfo"), [money]),
        (_q(package_ns, "uuid"), str(fact.uuid)),  # the package type extends the fact: its uuid comes last
    ]
    return _q(package_ns, "fact"), children


def _termination_node(term: EgissoTermination, fmt: _Format, version: str) -> _Node:
    if term.kind not in _TERMINATIONS_OF[version]:
        raise ValueError(f"{term.kind} does not exist in EGISSO 10.06.S {version}")
    if version == "1.0.5" and (term.amount is not None or term.quantity is not None):
        raise ValueError("a termination has amount/quantity only in EGISSO 10.06.S 1.0.6")
    c = PACKAGE_NS[version]
    children: list[_Node] = [
        (_q(c, "uuid"), str(term.uuid)), (_q(c, "assignmentFactUuid"), str(term.assignment_fact_uuid)),
        *_opt(_q(c, "providerCode"), term.provider_code), (_q(c, "dateFinish"), fmt.date(term.date_finish)),
        *_opt(_q(c, "amount"), None if term.amount is None else fmt.decimal(term.amount)),
        *_opt(_q(c, "quantity"), None if term.quantity is None else fmt.decimal(term.quantity)),
    ]
    return _q(c, term.kind), children


def _check_options(version: str, encoding: str, tz: str) -> None:
    egisso_xsd(version)  # raises ValueError on an unknown version
    if encoding not in get_args(Encoding):
        raise ValueError(f"encoding must be one of {get_args(Encoding)}, got {encoding!r}")
    if tz and not _TZ.fullmatch(tz):
        raise ValueError(f"tz must be '', 'Z' or like '+04:00', got {tz!r}")


def namespaces(version: Version) -> dict[str, str]:
    """Prefix → namespace URI of a ``version`` document, with the prefixes of the agency's samples."""
    return {"ns": MSG_NS[version], "ns1": PACKAGE_NS[version], "ns2": FACT_NS, "ns3": PERSON_NS,
            "ns4": SMEV_NS, "ns5": BASIC_NS}


class EgissoFileWriter:
    """Streams one 10.06.S package to a binary file object, a fact at a time, with flat memory.

    Write every fact first, then terminations grouped by kind in ``TERMINATION_ORDER`` (the XSD sequence);
    anything else raises ``EgissoOrderError``. If the block raises, the root is left unclosed on purpose, so
    the truncated file is not even well-formed and cannot pass for a complete package.
    """

    def __init__(self, fileobj: BinaryWritable, package_id: Uuid, *, version: Version = "1.0.6",
                 encoding: Encoding = "utf-8", tz: str = "+04:00", decimal_comma: bool = True) -> None:
        _check_options(version, encoding, tz)
        self._fileobj, self._package_id = fileobj, str(package_id)
        self._version, self._encoding = version, encoding
        self._fmt = _Format(tz, decimal_comma)
        self._xmlfile: Any = None
        self._open_elements = ExitStack()
        self._xf: Any = None
        self._rank = 0  # position in the <elements> sequence: 0 facts, 1.. terminations by kind

    def __enter__(self) -> Self:
        """Write the declaration and open ``data/package/elements``."""
        self._xmlfile = etree.xmlfile(self._fileobj, encoding=self._encoding)
        xf = self._xmlfile.__enter__()
        xf.write_declaration()
        package_ns, root = PACKAGE_NS[self._version], _q(MSG_NS[self._version], "data")
        self._open_elements.enter_context(xf.element(root, nsmap=namespaces(self._version)))
        self._open_elements.enter_context(xf.element(_q(package_ns, "package")))
        emit(xf, (_q(package_ns, "packageId"), self._package_id))
        self._open_elements.enter_context(xf.element(_q(package_ns, "elements")))
        self._xf = xf
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the elements (only on success) and flush; the file object stays open: the caller owns it."""
        if exc_type is None:
            self._xf.write("\n")
            self._open_elements.close()
        self._xf = None
        self._xmlfile.__exit__(exc_type, exc, tb)

    def write_fact(self, fact: EgissoFact) -> None:
        """Append one ``fact``; must come before every termination."""
        node = _fact_node(fact, self._fmt, PACKAGE_NS[self._version])
        self._advance(0, "fact")
        self._write(node)

    def write_termination(self, termination: EgissoTermination) -> None:
        """Append one termination; kinds must come in ``TERMINATION_ORDER``, after all facts."""
        node = _termination_node(termination, self._fmt, self._version)
        self._advance(1 + TERMINATION_ORDER.index(termination.kind), termination.kind)
        self._write(node)

    def _advance(self, rank: int, name: str) -> None:
        if self._xf is None:
            raise RuntimeError("EgissoFileWriter is written to only inside its `with` block")
        if rank < self._rank:
            after = TERMINATION_ORDER[self._rank - 1]
            raise EgissoOrderError(f"{name} cannot follow {after}: the 10.06.S <elements> sequence is fact*, "
                                   f"then {', '.join(k + '*' for k in TERMINATION_ORDER)}")
        self._rank = rank

    def _write(self, node: _Node) -> None:
        # One element per line keeps multi-gigabyte drops usable with line tools; the XSD ignores newlines.
        self._xf.write("\n")
        emit(self._xf, node)


def render_package(package_id: Uuid, facts: Iterable[EgissoFact],
                   terminations: Iterable[EgissoTermination] = (), *, version: Version = "1.0.6",
                   encoding: Encoding = "utf-8", tz: str = "+04:00", decimal_comma: bool = True) -> bytes:
    """The whole 10.06.S document as bytes in ``encoding``; terminations are put into XSD order (stable)."""
    buffer = BytesIO()
    with EgissoFileWriter(buffer, package_id, version=version, encoding=encoding, tz=tz,
                          decimal_comma=decimal_comma) as writer:
        for fact in facts:
            writer.write_fact(fact)
        for termination in sorted(terminations, key=lambda t: TERMINATION_ORDER.index(t.kind)):
            writer.write_termination(termination)
    return buffer.getvalue()


@cache
def load_schema(version: Version) -> Any:
    """The compiled ``lxml.etree.XMLSchema`` of 10.06.S ``version`` (cached; imports are local files)."""
    return etree.XMLSchema(etree.parse(str(egisso_xsd(version)), safe_parser()))


def validate(xml_bytes: bytes, version: Version) -> list[str]:
    """XSD errors of ``xml_bytes`` against 10.06.S ``version`` as ``line N: message`` strings; [] if valid."""
    return validate_document(load_schema(version), xml_bytes, "a 10.06.S package")

"""The social-protection agency's own accompaniment export ``urn://region-szn/accompaniment/1.0``.

Pure format: dataclasses in, bytes out. ``SznExportWriter`` streams one ``family`` at a time with flat
memory (lxml ``etree.xmlfile``), ``render_export`` returns a whole document, ``validate`` checks bytes against
``schemas/xsd/social_protection/accompaniment-1.0.xsd``.

Document shape (default namespace, utf-8)::

    export @exportDate @system @formatVersion="1.0"
      family* @id="SZN-F-…" @updated @status=active|closed      (closed: no children at all)
        address: postalCode? region district? locality street house apartment?
        categories/category* @code=К01…К12 @name @since @until?
        members/member+ @id="SZN-P-…" @relationCode=01…08
          lastName firstName middleName? birthDate gender(М|Ж) snils? document? memberSince memberUntil?
          document @type=passport|birthCertificate: series number
        case? @id="SZN-C-…"
          level @code @name, stage @code @name, curator @name @organisation,
          contractDate? opened closed?(@reasonCode @reason)
          programme/plannedService* @kindCode @provider @from @to?
        services?/service+ @id="SZN-S-…" @kindCode @memberRef? @status: started ended? organisation

The code tables below are the agency's own; the XSD enumerates the same codes (a test keeps them equal) and
the writer fills the Russian ``name``/``reason`` labels from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

from sandbox.formats.xml_stream import BinaryWritable, emit
from sandbox.formats.xsd_check import safe_parser, validate_document
from schemas.xsd import XSD_DIR

SZN_NS = "urn://region-szn/accompaniment/1.0"
XSD_PATH = XSD_DIR / "social_protection" / "accompaniment-1.0.xsd"
SYSTEM = "АИС «Семья» ОАУСО Новгородской области"

RELATIONS: dict[str, str] = {
    "01": "мать", "02": "отец", "03": "сын", "04": "дочь", "05": "опекун (попечитель)",
    "06": "приемный родитель", "07": "приемный ребенок (подопечный)", "08": "иной родственник",
}
CATEGORIES: dict[str, str] = {
    "К01": "малоимущая семья", "К02": "многодетная семья", "К03": "неполная семья",
    "К04": "семья, воспитывающая ребенка-инвалида", "К05": "замещающая семья (опека, приемная семья)",
    "К06": "семья с ребенком 0-3 лет с ОВЗ", "К07": "семья в социально опасном положении",
    "К08": "семья мигрантов, беженцев, вынужденных переселенцев",
    "К09": "родитель с алкогольной или наркотической зависимостью",
    "К10": "женщина, намеревающаяся отказаться от ребенка", "К11": "женщина в трудной жизненной ситуации",
    "К12": "несовершеннолетний в конфликте с законом",
}
LEVELS: dict[str, str] = {"1": "базовый (профилактический)", "2": "кризисный", "3": "экстренный",
                          "4": "адаптационный"}
STAGES: dict[str, str] = {"Э1": "диагностико-поисковый", "Э2": "договорный", "Э3": "деятельностный",
                          "Э4": "рефлексивный", "Э5": "постсопровождение"}
CLOSURE_REASONS: dict[str, str] = {
    "01": "положительная динамика", "02": "цели индивидуальной программы достигнуты",
    "03": "отказ семьи от сопровождения", "04": "выезд за пределы области",
    "05": "достижение ребенком совершеннолетия", "99": "иная причина",
}
SERVICE_KINDS: dict[str, str] = {
    "01": "социально-бытовые", "02": "социально-медицинские", "03": "социально-психологические",
    "04": "социально-педагогические", "05": "социально-экономические", "06": "социально-правовые",
    "07": "информационно-консультационные", "08": "срочные социальные услуги",
}
PROVIDERS: dict[str, str] = {"СЗН": "социальная защита населения", "ЗДР": "здравоохранение",
                             "ОБР": "образование", "НКО": "социально ориентированная НКО"}
SERVICE_STATUSES = ("оказывается", "оказана")

Gender = Literal["М", "Ж"]
DocumentKind = Literal["passport", "birthCertificate"]
FamilyStatus = Literal["active", "closed"]
# (tag, attributes, text or children): a family is built whole before it is written, so a formatting
# error never leaves half a family in the file.
_Node: TypeAlias = tuple[str, dict[str, str], "str | list[_Node]"]


@dataclass(frozen=True, kw_only=True)
class SznAddress:
    """An address in parts, as the agency's card keeps it."""

    region: str
    locality: str
    street: str
    house: str
    postal_code: str | None = None
    district: str | None = None
    apartment: str | None = None


@dataclass(frozen=True, kw_only=True)
class SznCategory:
    """A family category (``CATEGORIES`` code) with its period."""

    code: str
    since: dt.date
    until: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class SznDocument:
    """An identity document: passport (series ``4912``) or birth certificate (``IV-АГ``), 6-digit number."""

    kind: DocumentKind
    series: str
    number: str


@dataclass(frozen=True, kw_only=True)
class SznMember:
    """A member row of a family card (``RELATIONS`` code)."""

    id: str
    relation_code: str
    last_name: str
    first_name: str
    birth_date: dt.date
    gender: Gender
    member_since: dt.date
    middle_name: str | None = None
    snils: str | None = None
    document: SznDocument | None = None
    member_until: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class SznPlannedService:
    """One measure of the individual programme: kind (``SERVICE_KINDS``), provider (``PROVIDERS``), period."""

    kind_code: str
    provider: str
    planned_from: dt.date
    planned_to: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class SznCase:
    """The family's accompaniment case (``LEVELS``, ``STAGES``, ``CLOSURE_REASONS`` codes)."""

    id: str
    level_code: str
    stage_code: str
    curator_name: str
    curator_organisation: str
    opened: dt.date
    contract_date: dt.date | None = None
    commission: str | None = None
    working_group: str | None = None
    closed: dt.date | None = None
    closure_reason_code: str | None = None
    programme: tuple[SznPlannedService, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SznService:
    """A service delivered by a social-protection organisation; ``member_ref`` None means the whole family."""

    id: str
    kind_code: str
    status: str
    started: dt.date
    organisation: str
    member_ref: str | None = None
    ended: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class SznFamily:
    """A family card; a ``closed`` family is written with its id and ``updated`` only."""

    id: str
    updated: dt.datetime
    status: FamilyStatus = "active"
    address: SznAddress | None = None
    categories: tuple[SznCategory, ...] = ()
    members: tuple[SznMember, ...] = ()
    case: SznCase | None = None
    services: tuple[SznService, ...] = ()


def _q(local: str) -> str:
    return f"{{{SZN_NS}}}{local}"


def _leaf(tag: str, value: str | dt.date | None) -> list[_Node]:
    if value is None:
        return []
    return [(_q(tag), {}, value.isoformat() if isinstance(value, dt.date) else value)]


def _attrs(**values: str | dt.date | None) -> dict[str, str]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items() if v is not None}


def _label(table: dict[str, str], code: str, what: str) -> str:
    if code not in table:
        raise ValueError(f"unknown {what} code {code!r}; known: {sorted(table)}")
    return table[code]


def _address(a: SznAddress) -> _Node:
    return _q("address"), {}, [
        *_leaf("postalCode", a.postal_code), *_leaf("region", a.region), *_leaf("district", a.district),
        *_leaf("locality", a.locality), *_leaf("street", a.street), *_leaf("house", a.house),
        *_leaf("apartment", a.apartment),
    ]


def _category(c: SznCategory) -> _Node:
    name = _label(CATEGORIES, c.code, "category")
    return _q("category"), _attrs(code=c.code, name=name, since=c.since, until=c.until), []


def _member(m: SznMember) -> _Node:
    _label(RELATIONS, m.relation_code, "relation")
    document: list[_Node] = []
    if m.document is not None:
        d = m.document
        parts = [*_leaf("series", d.series), *_leaf("number", d.number)]
        document = [(_q("document"), {"type": d.kind}, parts)]
    return _q("member"), _attrs(id=m.id, relationCode=m.relation_code), [
        *_leaf("lastName", m.last_name), *_leaf("firstName", m.first_name),
        *_leaf("middleName", m.middle_name), *_leaf("birthDate", m.birth_date),
        *_leaf("gender", m.gender), *_leaf("snils", m.snils), *document,
        *_leaf("memberSince", m.member_since), *_leaf("memberUntil", m.member_until),
    ]


def _case(c: SznCase) -> _Node:
    closed: list[_Node] = []
    if c.closed is not None:
        code = c.closure_reason_code or "99"
        reason = _label(CLOSURE_REASONS, code, "closure reason")
        closed = [(_q("closed"), {"reasonCode": code, "reason": reason}, c.closed.isoformat())]
    planned = [_planned(p) for p in c.programme]
    return _q("case"), {"id": c.id}, [
        (_q("level"), {"code": c.level_code, "name": _label(LEVELS, c.level_code, "level")}, []),
        (_q("stage"), {"code": c.stage_code, "name": _label(STAGES, c.stage_code, "stage")}, []),
        (_q("curator"), {"name": c.curator_name, "organisation": c.curator_organisation}, []),
        *_leaf("commission", c.commission), *_leaf("workingGroup", c.working_group),
        *_leaf("contractDate", c.contract_date), *_leaf("opened", c.opened), *closed,
        (_q("programme"), {}, planned),
    ]


def _planned(p: SznPlannedService) -> _Node:
    _label(SERVICE_KINDS, p.kind_code, "service kind")
    _label(PROVIDERS, p.provider, "provider")
    # "from" is a Python keyword, hence no keyword arguments here
    attrs = {"kindCode": p.kind_code, "provider": p.provider, "from": p.planned_from.isoformat()}
    if p.planned_to is not None:
        attrs["to"] = p.planned_to.isoformat()
    return _q("plannedService"), attrs, []


def _service(s: SznService) -> _Node:
    _label(SERVICE_KINDS, s.kind_code, "service kind")
    if s.status not in SERVICE_STATUSES:
        raise ValueError(f"service status must be one of {SERVICE_STATUSES}, got {s.status!r}")
    attrs = _attrs(id=s.id, kindCode=s.kind_code, memberRef=s.member_ref, status=s.status)
    return _q("service"), attrs, [
        *_leaf("started", s.started), *_leaf("ended", s.ended), *_leaf("organisation", s.organisation),
    ]


def family_node(f: SznFamily) -> _Node:
    """The ``family`` element of ``f`` as a node tree (only id/updated/status when closed)."""
    attrs = {"id": f.id, "updated": f.updated.isoformat(), "status": f.status}
    if f.status == "closed":
        return _q("family"), attrs, []
    if f.address is None or not f.members:
        raise ValueError("an active family needs an address and at least one member")
    children: list[_Node] = [
        _address(f.address), (_q("categories"), {}, [_category(c) for c in f.categories]),
        (_q("members"), {}, [_member(m) for m in f.members]),
        *([_case(f.case)] if f.case else []),
        *([(_q("services"), {}, [_service(s) for s in f.services])] if f.services else []),
    ]
    return _q("family"), attrs, children


class SznExportWriter:
    """Streams one export to a binary file object, a family at a time, with flat memory.

    If the ``with`` block raises, the root is left unclosed on purpose: a truncated file is not even
    well-formed and cannot pass for a complete export.
    """

    def __init__(self, fileobj: BinaryWritable, export_date: dt.datetime, *, system: str = SYSTEM) -> None:
        if export_date.tzinfo is None:
            raise ValueError("export_date needs a time zone")
        self._fileobj, self._export_date, self._system = fileobj, export_date, system
        self._xmlfile: Any = None
        self._root: Any = None
        self._xf: Any = None

    def __enter__(self) -> Self:
        """Write the declaration and open the ``export`` root."""
        self._xmlfile = etree.xmlfile(self._fileobj, encoding="utf-8")
        xf = self._xmlfile.__enter__()
        xf.write_declaration()
        attrs = {"exportDate": self._export_date.isoformat(), "system": self._system, "formatVersion": "1.0"}
        self._root = xf.element(_q("export"), attrs, nsmap={None: SZN_NS})
        self._root.__enter__()
        self._xf = xf
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the root (only on success) and flush; the caller owns the file object."""
        if exc_type is None:
            self._xf.write("\n")
            self._root.__exit__(None, None, None)
        self._xf = None
        self._xmlfile.__exit__(exc_type, exc, tb)

    def write_family(self, family: SznFamily) -> None:
        """Append one ``family`` element (one line per family keeps huge drops usable with line tools)."""
        if self._xf is None:
            raise RuntimeError("SznExportWriter is written to only inside its `with` block")
        node = family_node(family)
        self._xf.write("\n")
        emit(self._xf, node)


def render_export(families: Iterable[SznFamily], export_date: dt.datetime, *, system: str = SYSTEM) -> bytes:
    """The whole export document as utf-8 bytes."""
    buffer = BytesIO()
    with SznExportWriter(buffer, export_date, system=system) as writer:
        for family in families:
            writer.write_family(family)
    return buffer.getvalue()


@cache
def load_schema() -> Any:
    """The compiled ``lxml.etree.XMLSchema`` of the accompaniment export (cached)."""
    return etree.XMLSchema(etree.parse(str(XSD_PATH), safe_parser()))


def validate(xml_bytes: bytes) -> list[str]:
    """XSD errors of ``xml_bytes`` as ``line N: message`` strings; [] if valid."""
    return validate_document(load_schema(), xml_bytes, "an accompaniment export")

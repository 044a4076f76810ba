"""The social-protection agency (СЗН): nightly file drops of EGISSO packages and its own case export.

Every night and chunk the agency drops into ``<root>/social_protection/drop/`` (one flat folder; the hub's
file-drop connector takes each new file once, by content hash):

* ``SZN_<YYYYMMDD>_egisso_<chunk:05d>.xml`` — an EGISSO 10.06.S package (``sandbox.agencies.szn_egisso``):
  one assignment fact per cash category of a family, re-sent with the same fact UUID whenever the family
  changes; terminations when the family leaves. About 20 % of files are version 1.0.5 and 30 % windows-1251
  (``szn_egisso.file_options``); dates carry ``+03:00``, amounts a decimal comma.
* ``SZN_<YYYYMMDD>_cases_<chunk:05d>.xml`` — the agency's own export ``urn://region-szn/accompaniment/1.0``
  (``sandbox.formats.szn_accompaniment``, XSD ``schemas/xsd/social_protection/accompaniment-1.0.xsd``), utf-8:
  the family card with address, categories (``К01``…``К12``), all members past and present (relation codes
  ``01``…``08``), the accompaniment case and the services delivered by social-protection organisations.
  A family that leaves is written once more with ``status="closed"`` and nothing else.

Files are written as ``.<name>.part`` and renamed when complete; a chunk with nothing to say writes no file.

Ids (stable per seed, meaningless): family ``SZN-F-<hex12>`` (per true family), member ``SZN-P-<hex12>`` (per
family card row, i.e. per family *and* person — a child placed into another family gets a new row there;
a duplicate registration is a second row of the same person), case ``SZN-C-<hex12>``, service
``SZN-S-<hex12>``; EGISSO fact UUID ``stable_uuid(seed, "szn-fact", fid, category)``.

Truth rows' ``source_record_id`` — exactly what the hub's mapping must produce:

* EGISSO receiver ``"<fact uuid>/receiver"`` and reason persons ``"<fact uuid>/reason/<n>"`` (n = 1-based
  position in ``reasonPersons``; positional, so it can point at another child on a night the children
  change), kind ``person``, pid + fid; the fact itself ``"<fact uuid>"``, kind ``family``, fid only (a fact
  describes a household). A termination's truth row is its fact's ``"<fact uuid>"`` (kind ``family``): the
  hub closes the record the termination names in ``assignmentFactUuid``.
* Own export: ``SZN-P-…`` kind ``person`` (pid, fid), ``SZN-F-…`` kind ``family``, ``SZN-C-…`` kind
  ``case`` (fid), ``SZN-S-…`` kind ``service`` (pid of the member it names, ``None`` for the whole family).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sandbox.agencies.szn_egisso import DropFile, EgissoDrop, FactBuilder
from sandbox.emit import EmitContext, TruthRow, record_rng, stable_hex
from sandbox.formats import szn_accompaniment as szn
from sandbox.noise import noisy_person
from sandbox.population import TrueFamily, TrueMember, TruePerson

SOURCE = "social_protection"
# Canonical codes (``schemas.codes``) → the agency's own codes (``szn_accompaniment`` tables).
CATEGORY_CODES = {
    "low_income": "К01", "large": "К02", "single_parent": "К03", "disabled_children": "К04", "foster": "К05",
    "special_needs_0_3": "К06", "socially_dangerous": "К07", "migrants_refugees": "К08",
    "parental_dependence": "К09", "intends_to_give_up_child": "К10", "women_in_difficult_situation": "К11",
    "child_in_conflict_with_law": "К12",
}
ADULT_RELATIONS = {"mother": "01", "father": "02", "guardian": "05", "foster_parent": "06",
                   "other_relative": "08"}
LEVEL_CODES = {"basic": "1", "crisis": "2", "emergency": "3", "adaptation": "4"}
STAGE_CODES = {"diagnostic": "Э1", "contract": "Э2", "activity": "Э3", "reflection": "Э4",
               "post_accompaniment": "Э5"}
CLOSURE_CODES = {"positive_dynamics": "01", "goals_achieved": "02", "family_refused": "03",
                 "moved_away": "04", "child_came_of_age": "05", "other": "99"}
SERVICE_KIND_CODES = {"socio_medical": "02", "psychological": "03", "socio_pedagogical": "04",
                      "socio_economic": "05", "legal": "06", "informational": "07"}
PROVIDER_CODES = {"social_protection": "СЗН", "health": "ЗДР", "education": "ОБР", "ngo": "НКО"}
SERVICE_STATUS = {"delivered": "оказана", "in_progress": "оказывается"}


def family_id(seed: int, fid: str) -> str:
    """The agency's id of a family card."""
    return "SZN-F-" + stable_hex(seed, SOURCE, "family", fid)


def member_id(seed: int, fid: str, pid: str, copy: int = 0) -> str:
    """The id of a member row of family ``fid`` (``copy`` > 0 for a duplicate registration)."""
    return "SZN-P-" + stable_hex(seed, SOURCE, "member", fid, pid, str(copy))


def case_id(seed: int, true_case_id: str) -> str:
    return "SZN-C-" + stable_hex(seed, SOURCE, "case", true_case_id)


def service_id(seed: int, true_service_id: str) -> str:
    return "SZN-S-" + stable_hex(seed, SOURCE, "service", true_service_id)


def relation_code(family: TrueFamily, member: TrueMember, person: TruePerson) -> str:
    """The agency's relation code (a child of a guardian or foster family is 07, else son 03, daughter 04)."""
    if member.role != "child":
        return ADULT_RELATIONS[member.role]
    if any(m.role in ("guardian", "foster_parent") for m in family.members):
        return "07"
    return "03" if person.sex == "male" else "04"


def drop_folder(root: Path) -> Path:
    """Where the agency drops its files."""
    return root / SOURCE / "drop"


class SocialProtectionEmitter:
    """Writes one chunk of the agency's EGISSO package and case export for one night."""

    source = SOURCE

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx
        folder = drop_folder(ctx.root)
        self.egisso = EgissoDrop(folder, ctx.seed, ctx.night, ctx.chunk)
        self.facts = FactBuilder(ctx)
        self.cases = DropFile(folder / f"SZN_{ctx.night.date:%Y%m%d}_cases_{ctx.chunk:05d}.xml")
        self._export: szn.SznExportWriter | None = None

    def add_family(self, family: TrueFamily) -> list[TruthRow]:
        """Send the family's EGISSO facts and its card; return their truth."""
        rows: list[TruthRow] = []
        for fact, fact_rows in self.facts.facts(family, self.ctx.counter):
            self.egisso.write_fact(fact)
            rows += fact_rows
        card, card_rows = CardBuilder(self.ctx).card(family)
        self._write(card)
        return rows + card_rows

    def remove_family(self, family: TrueFamily) -> list[TruthRow]:
        """Terminate the family's facts and close its card; return their truth."""
        rows = []
        for termination, row in self.facts.terminations(family, self.egisso.version):
            self.egisso.add_termination(termination)
            rows.append(row)
        fam_id = family_id(self.ctx.seed, family.fid)
        self._write(szn.SznFamily(id=fam_id, updated=self._night_time(), status="closed"))
        return [*rows, TruthRow(SOURCE, "family", fam_id, None, family.fid, self.ctx.night.number)]

    def close(self) -> None:
        """Finish both files of the chunk (and rename them into the drop folder)."""
        self.egisso.close()
        if self._export is not None:
            self._export.__exit__(None, None, None)
            self.cases.commit()

    def _write(self, family: szn.SznFamily) -> None:
        if self._export is None:
            self._export = szn.SznExportWriter(self.cases.open(), self._night_time())
            self._export.__enter__()
        self._export.write_family(family)

    def _night_time(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.ctx.night.timestamp)


class CardBuilder:
    """Builds the agency's family card (``SznFamily``) with its noise and truth."""

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx

    def card(self, family: TrueFamily) -> tuple[szn.SznFamily, list[TruthRow]]:
        """The card of an active family and the truth of every record on it."""
        ctx, seed = self.ctx, self.ctx.seed
        rng = record_rng(seed, SOURCE, f"card:{family.fid}")
        stale = ctx.counter.roll(SOURCE, "stale_address", ctx.rates.stale_address, rng,
                                 family.previous_address is not None)
        address = family.previous_address if stale and family.previous_address else family.address
        members, ids, rows = self._members(family)
        case = self._case(family)
        services, service_rows = self._services(family, ids)
        fam_id = family_id(seed, family.fid)
        card = szn.SznFamily(
            id=fam_id, updated=self._updated(family.fid), address=_address(address),
            categories=tuple(_category(c) for c in family.categories), members=tuple(members),
            case=case, services=tuple(services),
        )
        night = ctx.night.number
        noise = ["stale_address"] if stale else []
        rows.append(TruthRow(SOURCE, "family", fam_id, None, family.fid, night, noise))
        if case is not None:
            rows.append(TruthRow(SOURCE, "case", case.id, None, family.fid, night))
        return card, rows + service_rows

    def _members(self, family: TrueFamily) -> tuple[list[szn.SznMember], dict[str, str], list[TruthRow]]:
        ctx = self.ctx
        members: list[szn.SznMember] = []
        ids: dict[str, str] = {}
        rows: list[TruthRow] = []
        for member in family.members:
            person = family.person(member.pid)
            rng = record_rng(ctx.seed, SOURCE, f"member:{family.fid}:{person.pid}")
            copies = 2 if ctx.counter.roll(SOURCE, "duplicate", ctx.rates.duplicate, rng) else 1
            for copy in range(copies):
                row_id = member_id(ctx.seed, family.fid, person.pid, copy)
                ids.setdefault(person.pid, row_id)
                record, noise = self._member(family, member, person, row_id, copy)
                members.append(record)
                rows.append(TruthRow(SOURCE, "person", row_id, person.pid, family.fid, ctx.night.number,
                                     noise + (["duplicate"] if copy else [])))
        return members, ids, rows

    def _member(self, family: TrueFamily, member: TrueMember, person: TruePerson, row_id: str,
                copy: int) -> tuple[szn.SznMember, list[str]]:
        ctx = self.ctx
        rng = record_rng(ctx.seed, SOURCE, f"member:{family.fid}:{person.pid}#{copy}")
        noisy = noisy_person(person, SOURCE, ctx.rates, rng, ctx.counter)
        record = szn.SznMember(
            id=row_id, relation_code=relation_code(family, member, person), last_name=noisy.family_name,
            first_name=noisy.given_name, middle_name=noisy.patronymic, birth_date=noisy.birth_date,
            gender="М" if person.sex == "male" else "Ж", snils=noisy.snils,
            document=_document(person) if rng.random() < 0.9 else None,
            member_since=dt.date.fromisoformat(member.since),
            member_until=dt.date.fromisoformat(member.until) if member.until else None,
        )
        return record, noisy.noise

    def _case(self, family: TrueFamily) -> szn.SznCase | None:
        case = family.case
        if case is None:
            return None
        return szn.SznCase(
            id=case_id(self.ctx.seed, case["case_id"]), level_code=LEVEL_CODES[case["level"]],
            stage_code=STAGE_CODES[case["stage"]], curator_name=case["curator"]["name"],
            curator_organisation=case["curator"]["organisation"], opened=_date(case["opened_on"]),
            contract_date=_opt_date(case["contract_date"]), closed=_opt_date(case["closed_on"]),
            commission=case.get("district_commission"), working_group=case.get("working_group"),
            closure_reason_code=CLOSURE_CODES[case["closure_reason"]] if case["closure_reason"] else None,
            programme=tuple(_planned(p) for p in case["programme"]),
        )

    def _services(
        self, family: TrueFamily, ids: dict[str, str]
    ) -> tuple[list[szn.SznService], list[TruthRow]]:
        services, rows = [], []
        for service in family.services:
            if service["agency"] != SOURCE:
                continue
            ref = ids.get(service["pid"]) if service["pid"] else None
            record = szn.SznService(
                id=service_id(self.ctx.seed, service["service_id"]),
                kind_code=SERVICE_KIND_CODES[service["kind"]], status=SERVICE_STATUS[service["status"]],
                started=_date(service["started_on"]), ended=_opt_date(service["ended_on"]),
                organisation=service["org"], member_ref=ref,
            )
            services.append(record)
            pid = service["pid"] if ref is not None else None
            rows.append(TruthRow(SOURCE, "service", record.id, pid, family.fid, self.ctx.night.number))
        return services, rows

    def _updated(self, fid: str) -> dt.datetime:
        night = self.ctx.night
        stamp = dt.datetime.fromisoformat(night.timestamp)
        if night.number > 1:
            return stamp
        # The initial load spreads over the past year, as a real card history would.
        rng = record_rng(self.ctx.seed, SOURCE, f"card:{fid}#ts")
        return stamp - dt.timedelta(seconds=rng.randint(0, 365 * 86400))


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _opt_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _address(address: dict[str, str]) -> szn.SznAddress:
    district = address.get("district")
    return szn.SznAddress(
        postal_code=address.get("postal_code"), region=address["region"],
        district=district if district != address["locality"] else None, locality=address["locality"],
        street=address["street"], house=address["house"], apartment=address.get("apartment"),
    )


def _category(category: dict[str, str | None]) -> szn.SznCategory:
    code = CATEGORY_CODES[category["category"] or ""]
    since = _date(category["since"] or "")
    return szn.SznCategory(code=code, since=since, until=_opt_date(category["until"]))


def _planned(plan: dict[str, Any]) -> szn.SznPlannedService:
    return szn.SznPlannedService(
        kind_code=SERVICE_KIND_CODES[plan["kind"]], provider=PROVIDER_CODES[plan["agency"]],
        planned_from=_date(plan["planned_from"]), planned_to=_opt_date(plan.get("planned_to")),
    )


def _document(person: TruePerson) -> szn.SznDocument | None:
    """Passport if the person has one, else the birth certificate, as the agency types them."""
    if person.passport:
        series, number = person.passport.split()
        return szn.SznDocument(kind="passport", series=series, number=number)
    if person.birth_certificate:
        series, number = person.birth_certificate.split()
        return szn.SznDocument(kind="birthCertificate", series=series, number=number)
    return None

"""EGISSO 10.06.S side of the social-protection emitter: measures, facts, terminations, drop files.

One fact per cash category of a family (``MEASURES``): the receiver is the mother, else the father, the
guardian or a foster parent; the reason persons are the current children. EGISSO makes SNILS mandatory, so a
receiver whose SNILS is missing (truly or by noise) means no fact at all, and a child without one is left out
of ``reasonPersons``. Names are written exactly as the noise left them: nothing here checks ``rus-100``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

from sandbox import names
from sandbox.emit import EmitContext, Night, TruthRow, record_rng, stable_hex, stable_uuid
from sandbox.formats.egisso import (
    EgissoAddress,
    EgissoFact,
    EgissoFileWriter,
    EgissoIdentityDoc,
    EgissoPerson,
    EgissoTermination,
    Encoding,
    TerminationKind,
    Version,
)
from sandbox.noise import NoiseCounter, NoisyPerson, noisy_person
from sandbox.population import TrueFamily, TruePerson

SOURCE = "social_protection"
TZ = "+03:00"  # Новгородская область: Moscow time
RECEIVER_ROLES = ("mother", "father", "guardian", "foster_parent")
# 1.0.5 has no EndOfRight termination: the agency reports the family's departure as ineligibility there.
TERMINATION_KIND: dict[Version, TerminationKind] = {
    "1.0.6": "terminationBasedOnEndOfRight", "1.0.5": "terminationBasedOnIneligibility",
}
BIRTH_REGISTRARS = (
    "Комитет записи актов гражданского состояния Новгородской области",
    "Отдел ЗАГС Администрации Боровичского муниципального района",
    "Отдел ЗАГС Администрации Старорусского муниципального района",
    "Отдел ЗАГС Администрации Великого Новгорода",
)


@dataclass(frozen=True)
class Measure:
    """A regional measure (ЛМСЗ) and the EGISSO category of its receivers, with a typical monthly amount."""

    name: str
    lmsz_id: str
    category_id: str
    low: int
    high: int


# Category → measure; the ids are the region's constants in the EGISSO classifier (not per sandbox).
MEASURES: dict[str, Measure] = {
    "low_income": Measure("Ежемесячное пособие на ребенка малоимущим семьям",
                          "257c7720-816a-4a0c-9d33-222fb0d664fc", "236faf62-c6e6-48d4-8a9e-3cbef47b9add",
                          800, 2500),
    "large": Measure("Ежемесячная денежная выплата многодетным семьям",
                     "f323493b-95ff-42ae-9096-010a987577b9", "3c3e6653-da08-4e84-afa9-09ce775b7eca",
                     1000, 3500),
    "disabled_children": Measure("Ежемесячная выплата семьям, воспитывающим детей-инвалидов",
                                 "50acfd8d-6852-4f7a-81ea-cbc27156f0f7",
                                 "10364a26-1b5d-4c37-b142-56324330ff33", 3000, 8000),
    "single_parent": Measure("Ежемесячное пособие одинокому родителю",
                             "4eafb15c-c29c-422e-a3e6-5c0921bb6413", "a505c4d9-2cfa-4dd2-a40a-e27814b4d009",
                             500, 1800),
    "foster": Measure("Ежемесячная выплата на содержание ребенка под опекой (в приемной семье)",
                      "a1f01dbb-1614-4a8d-bc13-f4905f4dc826", "cd57850e-9086-4320-816e-6bd87f5d3629",
                      11000, 16000),
}


def fact_uuid(seed: int, fid: str, category: str) -> str:
    """The assignment fact of ``category`` for family ``fid``: the same UUID every night it is re-sent."""
    return stable_uuid(seed, "szn-fact", fid, category)


def file_options(seed: int, night: int, chunk: int) -> tuple[Version, Encoding]:
    """Version and encoding of one EGISSO file: about 20 % are 1.0.5, about 30 % windows-1251."""
    roll = int(stable_hex(seed, "szn-file", str(night), str(chunk), length=8), 16)
    version: Version = "1.0.5" if roll % 100 < 20 else "1.0.6"
    encoding: Encoding = "windows-1251" if (roll // 100) % 100 < 30 else "utf-8"
    return version, encoding


def osz_code(district: str) -> str:
    """EGISSO participant code of the district's social-protection office."""
    return f"5300.{100 + names.DISTRICT_NAMES.index(district):06d}"


def receiver_of(family: TrueFamily) -> TruePerson | None:
    """Who gets the family's cash measures: the mother, else the father, guardian or a foster parent."""
    current = family.current_members()
    for role in RECEIVER_ROLES:
        member = next((m for m in current if m.role == role), None)
        if member is not None:
            return family.person(member.pid)
    return None


class DropFile:
    """A file of the drop folder opened on first write; written as ``.<name>.part`` and renamed on close,
    so the hub's file-drop connector never picks up half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(f".{path.name}.part")
        self.fh: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if self.fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = self.part.open("wb")
        return self.fh

    def commit(self) -> None:
        if self.fh is not None:
            self.fh.close()
            os.replace(self.part, self.path)


class EgissoDrop:
    """One chunk's ``SZN_<YYYYMMDD>_egisso_<chunk>.xml``: facts stream out, terminations wait for ``close``
    (the 10.06.S sequence puts every fact before every termination)."""

    def __init__(self, folder: Path, seed: int, night: Night, chunk: int) -> None:
        self.version, self.encoding = file_options(seed, night.number, chunk)
        self.file = DropFile(folder / f"SZN_{night.date:%Y%m%d}_egisso_{chunk:05d}.xml")
        self.package_id = stable_uuid(seed, "szn-package", str(night.number), str(chunk))
        self._stack = ExitStack()
        self._writer: EgissoFileWriter | None = None
        self._terminations: list[EgissoTermination] = []

    def _open(self) -> EgissoFileWriter:
        if self._writer is None:
            writer = EgissoFileWriter(self.file.open(), self.package_id, version=self.version,
                                      encoding=self.encoding, tz=TZ, decimal_comma=True)
            self._writer = self._stack.enter_context(writer)
        return self._writer

    def write_fact(self, fact: EgissoFact) -> None:
        self._open().write_fact(fact)

    def add_termination(self, termination: EgissoTermination) -> None:
        self._terminations.append(termination)

    def close(self) -> None:
        if self._terminations:
            writer = self._open()
            for termination in self._terminations:
                writer.write_termination(termination)
        self._stack.close()
        self.file.commit()


class FactBuilder:
    """Builds a family's facts (and their truth) with the agency's noise."""

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx

    def facts(self, family: TrueFamily, counter: NoiseCounter) -> list[tuple[EgissoFact, list[TruthRow]]]:
        """The facts the agency sends for ``family`` tonight, each with its truth rows."""
        built = (self._fact(family, c["category"], c["since"] or "", counter) for c in family.categories
                 if c["category"] in MEASURES and c["until"] is None)
        return [fact for fact in built if fact is not None]

    def terminations(self, family: TrueFamily, version: Version) -> list[tuple[EgissoTermination, TruthRow]]:
        """Terminations of the family's facts (recomputed with a scratch counter: no person is written)."""
        night = self.ctx.night
        out = []
        for fact, _ in self.facts(family, NoiseCounter()):
            term = EgissoTermination(
                uuid=stable_uuid(self.ctx.seed, "szn-term", str(fact.uuid)), assignment_fact_uuid=fact.uuid,
                kind=TERMINATION_KIND[version], date_finish=night.date,
                amount=fact.amount if version == "1.0.6" else None)
            out.append((term, TruthRow(SOURCE, "family", str(fact.uuid), None, family.fid, night.number)))
        return out

    def _fact(self, family: TrueFamily, category: str, since: str, counter: NoiseCounter) -> tuple[
        EgissoFact, list[TruthRow]
    ] | None:
        receiver = receiver_of(family)
        if receiver is None:
            return None
        uuid = fact_uuid(self.ctx.seed, family.fid, category)
        night = self.ctx.night.number
        person, noise = self._receiver(family, receiver, f"egisso:{uuid}:receiver", counter)
        if person is None:
            return None  # no SNILS, no EGISSO fact
        rows = [TruthRow(SOURCE, "person", f"{uuid}/receiver", receiver.pid, family.fid, night, noise)]
        reasons: list[EgissoPerson] = []
        for child in self._children(family):
            reason, noise = self._reason(child, f"egisso:{uuid}:reason:{child.pid}", counter)
            if reason is not None:
                reasons.append(reason)
                rows.append(TruthRow(SOURCE, "person", f"{uuid}/reason/{len(reasons)}", child.pid, family.fid,
                                     night, noise))
        rows.append(TruthRow(SOURCE, "family", uuid, None, family.fid, night))
        return self._assemble(family, category, uuid, since, person, tuple(reasons)), rows

    def _assemble(self, family: TrueFamily, category: str, uuid: str, since: str, receiver: EgissoPerson,
                  reasons: tuple[EgissoPerson, ...]) -> EgissoFact:
        measure = MEASURES[category]
        rng = record_rng(self.ctx.seed, SOURCE, f"egisso:{uuid}")
        decided = dt.date.fromisoformat(since) + dt.timedelta(days=rng.randint(0, 14))
        decided = min(decided, self.ctx.night.date)
        start = (decided.replace(day=1) + dt.timedelta(days=32)).replace(day=1)  # from the next month
        finish = start.replace(year=start.year + rng.randint(1, 3)) - dt.timedelta(days=1)
        amount = Decimal(rng.randint(measure.low * 100, measure.high * 100)) / 100
        return EgissoFact(uuid=uuid, osz_code=osz_code(family.address["district"]), receiver=receiver,
                          reason_persons=reasons, lmsz_id=measure.lmsz_id, category_id=measure.category_id,
                          decision_date=decided, date_start=start, date_finish=finish, amount=amount)

    @staticmethod
    def _children(family: TrueFamily) -> list[TruePerson]:
        return [family.person(m.pid) for m in family.current_members() if m.role == "child"]

    def _noisy(
        self, person: TruePerson, key: str, counter: NoiseCounter
    ) -> tuple[NoisyPerson, random.Random]:
        rng = record_rng(self.ctx.seed, SOURCE, key)
        return noisy_person(person, SOURCE, self.ctx.rates, rng, counter), rng

    def _receiver(self, family: TrueFamily, person: TruePerson, key: str, counter: NoiseCounter) -> tuple[
        EgissoPerson | None, list[str]
    ]:
        noisy, rng = self._noisy(person, key, counter)
        stale = counter.roll(SOURCE, "stale_address", self.ctx.rates.stale_address, rng,
                             family.previous_address is not None)
        address = family.previous_address if stale and family.previous_address else family.address
        if noisy.snils is None:
            return None, noisy.noise
        # A maiden name only for a married woman, and not when the noise already put it in FamilyName.
        married = person.birth_family_name not in (person.family_name, noisy.family_name)
        maiden = person.birth_family_name if married else None
        doc = self._passport(person, rng) if person.passport and rng.random() < 0.7 else None
        phone = person.phone[-10:] if person.phone and rng.random() < 0.5 else None
        egisso = _egisso_person(noisy, noisy.snils, maiden_family_name=maiden if rng.random() < 0.5 else None,
                                identity_doc=doc, phone=phone, address=_egisso_address(address))
        return egisso, noisy.noise + (["stale_address"] if stale else [])

    def _reason(
        self, child: TruePerson, key: str, counter: NoiseCounter
    ) -> tuple[EgissoPerson | None, list[str]]:
        noisy, rng = self._noisy(child, key, counter)
        if noisy.snils is None:
            return None, noisy.noise
        doc = self._birth_certificate(child, rng) if child.birth_certificate and rng.random() < 0.8 else None
        return _egisso_person(noisy, noisy.snils, identity_doc=doc), noisy.noise

    def _passport(self, person: TruePerson, rng: random.Random) -> EgissoIdentityDoc:
        series, number = (person.passport or "").split()
        year = 2000 + int(series[2:])
        year = year if year <= self.ctx.night.date.year else year - 100
        issued = min(dt.date(year, 1, 1) + dt.timedelta(days=rng.randint(0, 364)),
                     self.ctx.night.date - dt.timedelta(days=1))
        # Passports were issued by the migration service until its 2016-2018 merger into the police.
        issuer = "Отделом УФМС России по Новгородской области" if year < 2018 else \
            "УМВД России по Новгородской области"
        return EgissoIdentityDoc(kind="PassportRF", series=series, number=number, issue_date=issued,
                                 issuer=issuer)

    def _birth_certificate(self, child: TruePerson, rng: random.Random) -> EgissoIdentityDoc:
        series, number = (child.birth_certificate or "").split()
        born = dt.date.fromisoformat(child.birth_date)
        issued = min(born + dt.timedelta(days=rng.randint(3, 40)), self.ctx.night.date)
        return EgissoIdentityDoc(kind="BirthCertificate", series=series, number=number, issue_date=issued,
                                 issuer=rng.choice(BIRTH_REGISTRARS))


def _egisso_person(noisy: NoisyPerson, snils: str, *, maiden_family_name: str | None = None,
                   identity_doc: EgissoIdentityDoc | None = None, phone: str | None = None,
                   address: EgissoAddress | None = None) -> EgissoPerson:
    return EgissoPerson(
        snils=snils, family_name=noisy.family_name, first_name=noisy.given_name, patronymic=noisy.patronymic,
        gender="Male" if noisy.sex == "male" else "Female", birth_date=noisy.birth_date,
        maiden_family_name=maiden_family_name, identity_doc=identity_doc, phone=phone, address=address,
    )


def _egisso_address(address: dict[str, str]) -> EgissoAddress:
    district = address.get("district")
    return EgissoAddress(
        kind="ActualResidence", post_index=address.get("postal_code"), region=address["region"],
        district=district if district != address["locality"] else None, city=address["locality"],
        street=address["street"], house=address["house"], apartment=address.get("apartment"),
    )


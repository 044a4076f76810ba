"""The health agency: a FHIR R4 server that knows a family's children, their parents and socio-medical care.

Resources are written as NDJSON per night (``health/night-NNNN/resources-CCCCC.ndjson``, one resource a
line, all types mixed); the simulated FHIR API is to serve the latest version of each
``(resourceType, id)``. What one family yields (nothing when it has no current children):

* a ``Patient`` per current child, sometimes two (a duplicate registration: other id, other MRN, its own
  noise);
* a ``RelatedPerson`` per current adult member **per child** (FHIR design: a mother of two children is two
  resources), pointing at the child's first Patient;
* a ``Condition`` per child with a disability / special-needs status (``TruePerson.health_status``), on the
  child's first Patient; resolved once ``valid_until`` has passed;
* a ``Procedure`` per socio-medical service of the health agency (``family.services`` with
  ``agency == "health"``). A service to a child is on that child's (first) Patient; a service to a parent
  or to the whole family is on the Patient of the family's **youngest child when the service started**
  (parents are not Patients here), so the record alone cannot tell who received it.

Ids are stable and meaningless (``stable_hex``): ``pat-<hex>``, ``rp-<hex>``, ``cond-<hex>``,
``proc-<hex>``; the MRN is another stable 10-digit number. FHIR ids are unique per type only, so a truth
row's ``source_record_id`` is ``"<resourceType>/<id>"`` (``"Patient/pat-…"``, ``"RelatedPerson/rp-…"``,
``"Condition/cond-…"``, ``"Procedure/proc-…"``) — the hub's mapping must produce the same ids. Truth kinds:
Patient and RelatedPerson → ``person``; Condition → ``disability`` (pid = the child); Procedure →
``service`` (pid = the true recipient, which for a parent's service is the parent although the record
names the child; ``None`` for a family-wide service).

When a family leaves the agency, its Patients and RelatedPersons are written again with ``active: false``
(a FHIR search has no deleted flag; inactive is how this agency says it).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sandbox.emit import EmitContext, JsonLines, TruthRow, record_rng, stable_hex
from sandbox.formats import fhir
from sandbox.noise import NoisyPerson, noisy_person
from sandbox.population import TrueFamily, TrueMember, TruePerson

SOURCE = "health"
# Canonical membership role → FHIR relationship key (every adult role of the population is one already).
RELATIONSHIP: dict[str, fhir.Relationship] = {
    "mother": "mother", "father": "father", "guardian": "guardian", "foster_parent": "foster_parent",
    "other_relative": "other_relative",
}
CHILD_STATUS: dict[str, fhir.ChildStatusCode] = {"disability": "disability", "special_needs": "special-needs"}


def patient_id(seed: int, pid: str, copy: int = 0) -> str:
    """The FHIR id of a child's Patient (``copy`` > 0 for a duplicate registration)."""
    return "pat-" + stable_hex(seed, SOURCE, "patient", pid, str(copy))


def mrn(seed: int, pid: str, copy: int = 0) -> str:
    """The agency's medical record number of a Patient: 10 digits, unrelated to the id."""
    return f"{int(stable_hex(seed, SOURCE, 'mrn', pid, str(copy)), 16) % 10**10:010d}"


def related_person_id(seed: int, adult_pid: str, child_pid: str) -> str:
    """The FHIR id of an adult's RelatedPerson for one child."""
    return "rp-" + stable_hex(seed, SOURCE, "related", adult_pid, child_pid)


class HealthEmitter:
    """Writes one chunk of the health agency's FHIR resources for one night."""

    source = SOURCE

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx
        self.now = dt.datetime.fromisoformat(ctx.night.timestamp)  # timezone-aware (regional time)
        self.resources = JsonLines(ctx.path(SOURCE, "resources", "ndjson"))

    def add_family(self, family: TrueFamily) -> list[TruthRow]:
        """Write the family's Patients, RelatedPersons, Conditions and Procedures; return their truth."""
        return self._emit(family, active=True)

    def remove_family(self, family: TrueFamily) -> list[TruthRow]:
        """Write the family's Patients and RelatedPersons as inactive; return their truth."""
        return self._emit(family, active=False)

    def close(self) -> None:
        """Finish the chunk's NDJSON file."""
        self.resources.close()

    def _emit(self, family: TrueFamily, active: bool) -> list[TruthRow]:
        members = family.current_members()
        children = [family.person(m.pid) for m in members if m.role == "child"]
        if not children:
            return []
        rows: list[TruthRow] = []
        for child in children:
            rows += self._patients(family, child, active)
        for adult in (m for m in members if m.role != "child"):
            rows += [self._related_person(family, adult, child, active) for child in children]
        if active:
            rows += [self._condition(family, c) for c in children if c.health_status]
            rows += self._procedures(family)
        return rows

    def _write(self, resource: dict[str, Any], pid: str | None, fid: str, kind: str,
               noise: list[str] | None = None) -> TruthRow:
        self.resources.write(resource)
        record_id = f"{resource['resourceType']}/{resource['id']}"
        return TruthRow(SOURCE, kind, record_id, pid, fid, self.ctx.night.number, noise or [])

    def _patients(self, family: TrueFamily, child: TruePerson, active: bool) -> list[TruthRow]:
        ctx = self.ctx
        rng = record_rng(ctx.seed, SOURCE, f"{child.pid}#patient")
        copies = 2 if ctx.counter.roll(SOURCE, "duplicate", ctx.rates.duplicate, rng) else 1
        rows = []
        for copy in range(copies):
            resource, noise = self._patient(family, child, copy, active)
            rows.append(self._write(resource, child.pid, family.fid, "person",
                                    noise + (["duplicate"] if copy else [])))
        return rows

    def _patient(
        self, family: TrueFamily, child: TruePerson, copy: int, active: bool
    ) -> tuple[dict[str, Any], list[str]]:
        ctx = self.ctx
        rng = record_rng(ctx.seed, SOURCE, f"{child.pid}#patient#{copy}")
        noisy = noisy_person(child, SOURCE, ctx.rates, rng, ctx.counter)
        address, stale = self._address(family, rng)
        pat_id = patient_id(ctx.seed, child.pid, copy)
        patient = fhir.Patient(
            id=pat_id, mrn=mrn(ctx.seed, child.pid, copy), name=_name(noisy), gender=_gender(child),
            birth_date=noisy.birth_date, last_updated=self._updated_at(pat_id), snils=noisy.snils,
            oms_enp=child.oms, birth_certificate=child.birth_certificate,
            address=address if rng.random() < 0.95 else None, phone=child.phone, active=active,
        )
        return fhir.patient_resource(patient), noisy.noise + stale

    def _related_person(
        self, family: TrueFamily, member: TrueMember, child: TruePerson, active: bool
    ) -> TruthRow:
        ctx = self.ctx
        adult = family.person(member.pid)
        rng = record_rng(ctx.seed, SOURCE, f"{adult.pid}#rp#{child.pid}")
        noisy = noisy_person(adult, SOURCE, ctx.rates, rng, ctx.counter)
        address, stale = self._address(family, rng)
        rp_id = related_person_id(ctx.seed, adult.pid, child.pid)
        person = fhir.RelatedPerson(
            id=rp_id, patient_id=patient_id(ctx.seed, child.pid), relationship=RELATIONSHIP[member.role],
            name=_name(noisy), gender=_gender(adult), last_updated=self._updated_at(rp_id),
            birth_date=noisy.birth_date, snils=noisy.snils, address=address if rng.random() < 0.7 else None,
            phone=adult.phone if rng.random() < 0.8 else None, active=active,
        )
        return self._write(fhir.related_person_resource(person), adult.pid, family.fid, "person",
                           noisy.noise + stale)

    def _condition(self, family: TrueFamily, child: TruePerson) -> TruthRow:
        status = child.health_status or {}
        onset = dt.date.fromisoformat(status["established_on"])
        until = dt.date.fromisoformat(status["valid_until"])
        today = self.ctx.night.date
        # Entered when the paper (МСЭ / ПМПК) reached the clinic: a few weeks after it was issued at most.
        rng = record_rng(self.ctx.seed, SOURCE, f"{child.pid}#condition")
        recorded = min(onset + dt.timedelta(days=rng.randint(0, 30)), today)
        cond_id = "cond-" + stable_hex(self.ctx.seed, SOURCE, "condition", child.pid)
        condition = fhir.Condition(
            id=cond_id, patient_id=patient_id(self.ctx.seed, child.pid), code=CHILD_STATUS[status["kind"]],
            onset=onset, recorded=recorded, last_updated=self._updated_at(cond_id),
            abatement=until if until <= today else None,
        )
        return self._write(fhir.condition_resource(condition), child.pid, family.fid, "disability")

    def _procedures(self, family: TrueFamily) -> list[TruthRow]:
        rows = []
        for service in family.services:
            if service["agency"] != SOURCE:
                continue
            target = service["pid"] if service["pid"] in _child_pids(family) else None
            subject = target or _youngest_child_on(family, service["started_on"])
            rows.append(self._procedure(family, service, patient_id(self.ctx.seed, subject)))
        return rows

    def _procedure(self, family: TrueFamily, service: dict[str, Any], patient: str) -> TruthRow:
        rng = record_rng(self.ctx.seed, SOURCE, service["service_id"])
        proc_id = "proc-" + stable_hex(self.ctx.seed, SOURCE, "procedure", service["service_id"])
        ended = service["ended_on"]
        procedure = fhir.Procedure(
            id=proc_id, patient_id=patient, service_code=rng.choice(sorted(fhir.SERVICE_CODES)),
            status="completed" if service["status"] == "delivered" else "in-progress",
            start=dt.date.fromisoformat(service["started_on"]), performer=service["org"],
            last_updated=self._updated_at(proc_id), end=dt.date.fromisoformat(ended) if ended else None,
        )
        return self._write(fhir.procedure_resource(procedure), service["pid"], family.fid, "service")

    def _address(self, family: TrueFamily, rng: random.Random) -> tuple[fhir.Address, list[str]]:
        ctx = self.ctx
        stale = ctx.counter.roll(SOURCE, "stale_address", ctx.rates.stale_address, rng,
                                 family.previous_address is not None)
        address = family.previous_address if stale and family.previous_address else family.address
        return _fhir_address(address), ["stale_address"] if stale else []

    def _updated_at(self, key: str) -> dt.datetime:
        if self.ctx.night.number > 1:
            return self.now
        # The initial load spreads over the past year, so `_lastUpdated=gt…` has something to cut.
        rng = record_rng(self.ctx.seed, SOURCE, key + "#ts")
        return self.now - dt.timedelta(seconds=rng.randint(0, 365 * 86400))


def _child_pids(family: TrueFamily) -> set[str]:
    return {m.pid for m in family.members if m.role == "child"}


def _youngest_child_on(family: TrueFamily, day: str) -> str:
    """The youngest child of the family on ``day`` (any child if none yet): a service's stand-in subject.

    Taken at the service's start rather than tonight, so that a later birth does not move an old Procedure
    to the newborn's Patient.
    """
    children = [m for m in family.members if m.role == "child"]
    then = [m for m in children if m.since <= day and (m.until is None or m.until > day)] or children
    return max((family.person(m.pid) for m in then), key=lambda p: (p.birth_date, p.pid)).pid


def _name(noisy: NoisyPerson) -> fhir.HumanName:
    return fhir.HumanName(family=noisy.family_name, given=noisy.given_name, patronymic=noisy.patronymic)


def _gender(person: TruePerson) -> fhir.Gender:
    return "male" if person.sex == "male" else "female"


def _fhir_address(address: dict[str, str]) -> fhir.Address:
    line = f"{address['street']}, д. {address['house']}"
    if address.get("apartment"):
        line += f", кв. {address['apartment']}"
    return fhir.Address(line=line, city=address["locality"], state=address["region"],
                        district=address.get("district"), postal_code=address.get("postal_code"))

"""The NGO (СО НКО): a JSON REST system of participants and service participations.

Records are written as JSON lines per night (``ngo/night-NNNN/participants-CCCCC.jsonl`` and
``participations-…``); ``sandbox.server`` serves the latest version of each id with cursor pagination and
an API key. Names are typed by hand: Latin transliterations, diminutives (Саша for Александр), missing
patronymics; SNILS is rarely asked for. Programme codes are the NGO's own (see ``PROGRAMMES``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.emit import EmitContext, JsonLines, TruthRow, one_line_address, record_rng, stable_hex
from sandbox.noise import noisy_person
from sandbox.population import TrueFamily, TrueMember, TruePerson

SOURCE = "ngo"
ROLE = {"mother": "parent", "father": "parent", "guardian": "guardian", "foster_parent": "guardian",
        "child": "child", "other_relative": "relative"}
# The NGO's own programme codes; the hub's mapping translates them into service kinds.
PROGRAMMES: dict[str, tuple[str, ...]] = {
    "informational": ("INFO",),
    "psychological": ("PSY", "REHAB"),
    "socio_pedagogical": ("WORKSHOP", "SUPPORTED_LIVING"),
    "legal": ("LEGAL",),
}


def participant_id(seed: int, pid: str, copy: int = 0) -> int:
    """The NGO's numeric id of a true person (``copy`` > 0 for a duplicate registration)."""
    return int(stable_hex(seed, SOURCE, pid, str(copy)), 16)


def household_id(seed: int, fid: str) -> str:
    return "HH-" + stable_hex(seed, SOURCE, fid, length=8).upper()


class NgoEmitter:
    """Writes one chunk of the NGO's participants and participations for one night."""

    source = SOURCE

    def __init__(self, ctx: EmitContext) -> None:
        self.ctx = ctx
        self.participants = JsonLines(ctx.path(SOURCE, "participants", "jsonl"))
        self.participations = JsonLines(ctx.path(SOURCE, "participations", "jsonl"))

    def add_family(self, family: TrueFamily) -> list[TruthRow]:
        return self._emit(family, deleted=False)

    def remove_family(self, family: TrueFamily) -> list[TruthRow]:
        return self._emit(family, deleted=True)

    def close(self) -> None:
        self.participants.close()
        self.participations.close()

    def _emit(self, family: TrueFamily, deleted: bool) -> list[TruthRow]:
        seed = self.ctx.seed
        hh_rng = record_rng(seed, SOURCE, family.fid)
        household = household_id(seed, family.fid) if hh_rng.random() < 0.7 else None
        rows: list[TruthRow] = []
        ids: dict[str, int] = {}
        for member in _participants(family, hh_rng):
            rows += self._participant(family, member, household, deleted, ids)
        if household is not None:
            rows.append(TruthRow(SOURCE, "family", household, None, family.fid, self.ctx.night.number))
        rows += self._services(family, household, ids, deleted)
        return rows

    def _participant(
        self, family: TrueFamily, member: TrueMember, household: str | None, deleted: bool,
        ids: dict[str, int],
    ) -> list[TruthRow]:
        person = family.person(member.pid)
        rng = record_rng(self.ctx.seed, SOURCE, person.pid)
        copies = 2 if self.ctx.counter.roll(SOURCE, "duplicate", self.ctx.rates.duplicate, rng) else 1
        rows = []
        for copy in range(copies):
            pid_num = participant_id(self.ctx.seed, person.pid, copy)
            ids.setdefault(person.pid, pid_num)
            record, noise = self._record(family, person, member, copy, household, deleted)
            self.participants.write({**record, "id": pid_num})
            noise += ["duplicate"] if copy else []
            rows.append(TruthRow(SOURCE, "person", str(pid_num), person.pid, family.fid,
                                 self.ctx.night.number, noise))
        return rows

    def _record(
        self, family: TrueFamily, person: TruePerson, member: TrueMember, copy: int,
        household: str | None, deleted: bool,
    ) -> tuple[dict[str, Any], list[str]]:
        ctx = self.ctx
        rng = record_rng(ctx.seed, SOURCE, f"{person.pid}#{copy}")
        noisy = noisy_person(person, SOURCE, ctx.rates, rng, ctx.counter)
        stale = ctx.counter.roll(SOURCE, "stale_address", ctx.rates.stale_address, rng,
                                 family.previous_address is not None)
        address = family.previous_address if stale and family.previous_address else family.address
        record = {
            "last_name": noisy.family_name, "first_name": noisy.given_name, "middle_name": noisy.patronymic,
            "birth_date": noisy.birth_date_text, "gender": "M" if person.sex == "male" else "F",
            "snils": noisy.snils, "phone": person.phone if rng.random() < 0.6 else None,
            "address": one_line_address(address) if rng.random() < 0.8 else None,
            "household_id": household, "role_in_household": ROLE[member.role],
            "updated_at": self._updated_at(person.pid), "deleted": deleted,
        }
        return record, noisy.noise + (["stale_address"] if stale else [])

    def _services(
        self, family: TrueFamily, household: str | None, ids: dict[str, int], deleted: bool
    ) -> list[TruthRow]:
        rows = []
        for service in family.services:
            if service["agency"] != SOURCE:
                continue
            sid = int(stable_hex(self.ctx.seed, SOURCE, service["service_id"]), 16)
            participant = ids.get(service["pid"]) if service["pid"] else None
            if participant is None and household is None:
                continue  # nobody to attach it to in the NGO's books
            rng = record_rng(self.ctx.seed, SOURCE, service["service_id"])
            self.participations.write({
                "id": sid, "participant_id": participant, "household_id": household,
                "programme": rng.choice(PROGRAMMES[service["kind"]]), "organisation": service["org"],
                "started_on": service["started_on"], "ended_on": service["ended_on"],
                "status": "completed" if service["status"] == "delivered" else "active",
                "updated_at": self._updated_at(service["service_id"]), "deleted": deleted,
            })
            pid = service["pid"] if participant is not None else None
            rows.append(TruthRow(SOURCE, "service", str(sid), pid, family.fid, self.ctx.night.number))
        return rows

    def _updated_at(self, key: str) -> str:
        night = self.ctx.night
        if night.number > 1:
            return night.timestamp
        # The initial load spreads over the past year, so `updated_since` has something to cut.
        rng = record_rng(self.ctx.seed, SOURCE, key + "#ts")
        back = dt.timedelta(seconds=rng.randint(0, 365 * 86400))
        return (dt.datetime.fromisoformat(night.timestamp) - back).isoformat()


def _participants(family: TrueFamily, rng: Any) -> list[TrueMember]:
    members = family.current_members()
    chosen = [m for m in members if rng.random() < 0.8]
    return chosen or members[:1]

"""``hub sandbox advance``: the next night — what happens to families between two syncs.

Per family and night (odds in ``EVENT_ODDS``, documented in ``docs/sandbox.md``): it moves (the old address
goes stale), a mother marries and takes a new family name, new services are delivered, an accompaniment case
changes level or stage or is closed (often for positive dynamics), a case opens, a child is born, a family
leaves every agency (deleted), or a child of a family in a socially dangerous situation is placed into a
foster family of the same chunk (the child keeps their identity and gets a dated membership). New families
arrive too. Randomness comes from ``family_rng(seed, index, "night-N")``: the same night always evolves the
same way.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sandbox import names
from sandbox.care import PROVIDERS, _case, new_service, set_stage
from sandbox.population import TrueFamily, TrueMember, _PersonFactory, family_rng, random_address

EVENT_ODDS = {
    "move": 0.02, "marriage": 0.004, "services": 0.10, "case_level": 0.05, "case_opened": 0.01,
    "birth": 0.003, "deleted": 0.003, "foster_placement": 0.002,
}
NEW_FAMILIES_PER_NIGHT = 0.005


def evolve_chunk(families: list[TrueFamily], seed: int, night: int, date: dt.date) -> tuple[
    list[TrueFamily], list[TrueFamily]
]:
    """Evolve the families of one chunk in place; return (changed, removed)."""
    changed: dict[str, TrueFamily] = {}
    removed: list[TrueFamily] = []
    fosters = [f for f in families if f.deleted_on is None and _is_foster(f)]
    for family in families:
        if family.deleted_on is not None:
            continue
        rng = family_rng(seed, family.index, f"night-{night}")
        outcome = evolve_family(family, rng, date)
        if outcome == "removed":
            removed.append(family)
        elif outcome == "changed":
            changed[family.fid] = family
        if outcome != "removed" and rng.random() < EVENT_ODDS["foster_placement"] and fosters:
            target = _place_child(family, rng, fosters, date)
            if target is not None:
                changed[family.fid] = family
                changed[target.fid] = target
    for family in changed.values():
        family.version += 1
    return [f for f in families if f.fid in changed], removed


def evolve_family(family: TrueFamily, rng: random.Random, date: dt.date) -> str:
    """Apply tonight's events to one family: 'unchanged', 'changed' or 'removed'."""
    if rng.random() < EVENT_ODDS["deleted"]:
        family.deleted_on = date.isoformat()
        return "removed"
    events = [_move, _marriage, _services, _case_change, _birth]
    changed = [event(family, rng, date) for event in events]
    return "changed" if any(changed) else "unchanged"


def _move(family: TrueFamily, rng: random.Random, date: dt.date) -> bool:
    if rng.random() >= EVENT_ODDS["move"]:
        return False
    family.previous_address, family.address = family.address, random_address(rng)
    return True


def _marriage(family: TrueFamily, rng: random.Random, date: dt.date) -> bool:
    roles = {m.role for m in family.current_members()}
    if rng.random() >= EVENT_ODDS["marriage"] or roles & {"father", "foster_parent", "guardian"}:
        return False
    mother = next((family.person(m.pid) for m in family.current_members() if m.role == "mother"), None)
    if mother is None:
        return False
    mother.family_name = names.feminine_family_name(rng.choice(names.FAMILY_NAMES))
    return True


def _services(family: TrueFamily, rng: random.Random, date: dt.date) -> bool:
    if rng.random() >= EVENT_ODDS["services"]:
        return False
    plans = [p for p in (family.case or {}).get("programme", []) if p["agency"] in family.agencies]
    for _ in range(rng.randint(1, 2)):
        if plans:
            plan = rng.choice(plans)
            kind, agency = plan["kind"], plan["agency"]
        else:
            kind = rng.choice(sorted(PROVIDERS))
            agency = rng.choice([a for a in PROVIDERS[kind] if a in family.agencies] or [family.agencies[0]])
            if kind not in _kinds_of(agency):
                continue
        family.services.append(new_service(family, rng, kind, agency, date - dt.timedelta(days=1), date,
                                           len(family.services) + 1))
    return True


def _kinds_of(agency: str) -> set[str]:
    return {kind for kind, agencies in PROVIDERS.items() if agency in agencies}


def _case_change(family: TrueFamily, rng: random.Random, date: dt.date) -> bool:
    case = family.case
    if case is None:
        if rng.random() < EVENT_ODDS["case_opened"]:
            family.case = _case(family, rng, date)
            # Opened tonight: forget the dates _case derived from its own (earlier) opening day.
            family.case.update(opened_on=date.isoformat(), contract_date=None, closed_on=None,
                               closure_reason=None)
            set_stage(family.case, rng, date)
            return True
        return False
    if case["closed_on"] is not None:
        return False
    before = (case["level"], case["stage"], case["closed_on"])
    if rng.random() < EVENT_ODDS["case_level"]:
        case["level"] = rng.choice([lv for lv in ("basic", "crisis", "emergency") if lv != case["level"]])
    set_stage(case, rng, date)
    return before != (case["level"], case["stage"], case["closed_on"])


def _birth(family: TrueFamily, rng: random.Random, date: dt.date) -> bool:
    mother = next((family.person(m.pid) for m in family.current_members() if m.role == "mother"), None)
    if rng.random() >= EVENT_ODDS["birth"] or mother is None or mother.age(date) > 45:
        return False
    father = next((family.person(m.pid) for m in family.current_members() if m.role == "father"), None)
    make = _PersonFactory(rng, family.fid, date)
    make.count = max(int(p.pid.rsplit("-", 1)[1]) for p in family.persons)
    surname = father.family_name if father else names.masculine_of(mother.family_name)
    father_given = father.given_name if father else rng.choice(names.MALE_GIVEN)
    child = make.child(rng.choice(("male", "female")), surname, father_given, (0, 0))
    child.birth_date = (date - dt.timedelta(days=rng.randint(1, 20))).isoformat()
    family.persons.append(child)
    family.members.append(TrueMember(child.pid, "child", child.birth_date))
    return True


def _is_foster(family: TrueFamily) -> bool:
    return any(m.role == "foster_parent" for m in family.current_members())


def _place_child(
    family: TrueFamily, rng: random.Random, fosters: list[TrueFamily], date: dt.date
) -> TrueFamily | None:
    """Move a child from a family in a socially dangerous situation into a foster family."""
    if not any(c["category"] == "socially_dangerous" for c in family.categories):
        return None
    children = [m for m in family.current_members() if m.role == "child"]
    target = rng.choice(fosters)
    if not children or target is family:
        return None
    member = rng.choice(children)
    member.until = date.isoformat()
    child = family.person(member.pid)
    target.persons.append(child)
    target.members.append(TrueMember(child.pid, "child", date.isoformat()))
    return target


def world_summary(families: list[dict[str, Any]]) -> dict[str, int]:
    """Counts of a world chunk, for ``advance``'s report."""
    live = [f for f in families if f.get("deleted_on") is None]
    return {"families": len(live), "persons": sum(len(f["persons"]) for f in live)}

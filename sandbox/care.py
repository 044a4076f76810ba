"""Care data of a true family: health status, categories, accompaniment case, services, known agencies.

Frequencies follow the regional programmes loosely (``docs/sandbox.md`` lists them): about half of the
families are under accompaniment, most at the basic (preventive) level; a fifth of the cases are closed, more
than half of those because of positive dynamics.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sandbox import names
from sandbox.population import TrueFamily, TruePerson, family_rng, random_date

# service kind → agencies that provide it
PROVIDERS: dict[str, tuple[str, ...]] = {
    "informational": ("social_protection", "ngo"),
    "psychological": ("education", "ngo"),
    "socio_pedagogical": ("education", "social_protection", "ngo"),
    "socio_medical": ("health",),
    "legal": ("social_protection", "ngo"),
    "socio_economic": ("social_protection",),
}
ORGS = {"social_protection": names.SOCIAL_CENTRES, "health": names.HEALTH_ORGS,
        "education": names.SCHOOLS, "ngo": names.NGOS}
CLOSURE_REASONS = ("positive_dynamics", "goals_achieved", "family_refused", "moved_away",
                   "child_came_of_age", "other")
CLOSURE_WEIGHTS = (55, 15, 10, 10, 5, 5)


def add_care(family: TrueFamily, seed: int, as_of: dt.date) -> TrueFamily:
    """Fill ``family``'s care data deterministically from ``seed`` and its index; returns it."""
    rng = family_rng(seed, family.index, "care")
    children = [family.person(m.pid) for m in family.members if m.role == "child"]
    _health_statuses(children, rng, as_of)
    family.categories = _categories(family, children, rng, as_of)
    family.case = _case(family, rng, as_of) if rng.random() < 0.55 else None
    family.agencies = _agencies(family, children, rng, as_of)
    family.services = _services(family, rng, as_of)
    return family


def _health_statuses(children: list[TruePerson], rng: random.Random, as_of: dt.date) -> None:
    for child in children:
        roll = rng.random()
        if roll < 0.07:
            kind, basis = "disability", "справка МСЭ"
        elif roll < 0.13:
            kind, basis = "special_needs", "заключение ПМПК"
        else:
            continue
        since = random_date(rng, dt.date.fromisoformat(child.birth_date), as_of)
        until = since + dt.timedelta(days=365 * rng.choice((1, 2, 5)))
        child.health_status = {"kind": kind, "established_on": since.isoformat(),
                               "valid_until": until.isoformat(), "basis": basis}


def _categories(
    family: TrueFamily, children: list[TruePerson], rng: random.Random, as_of: dt.date
) -> list[dict[str, str | None]]:
    roles = {m.role for m in family.members}
    cats: list[str] = []
    if len(children) >= 3:
        cats.append("large")
    if roles & {"foster_parent", "guardian"}:
        cats.append("foster")
    if roles & {"mother", "father"} and len(roles & {"mother", "father"}) == 1:
        cats.append("single_parent")
    if any(c.health_status and c.health_status["kind"] == "disability" for c in children):
        cats.append("disabled_children")
    if any(c.health_status and c.health_status["kind"] == "special_needs" and c.age(as_of) < 3
           for c in children):
        cats.append("special_needs_0_3")
    cats += _random_categories(rng, children, as_of)
    if not cats:
        cats.append("low_income")
    since = random_date(rng, as_of - dt.timedelta(days=5 * 365), as_of - dt.timedelta(days=30))
    return [{"category": c, "since": since.isoformat(), "until": None} for c in dict.fromkeys(cats)]


def _random_categories(rng: random.Random, children: list[TruePerson], as_of: dt.date) -> list[str]:
    odds = {"low_income": 0.35, "socially_dangerous": 0.06, "migrants_refugees": 0.04,
            "parental_dependence": 0.04, "intends_to_give_up_child": 0.01,
            "women_in_difficult_situation": 0.05}
    cats = [c for c, p in odds.items() if rng.random() < p]
    if any(c.age(as_of) >= 12 for c in children) and rng.random() < 0.03:
        cats.append("child_in_conflict_with_law")
    return cats


def _case(family: TrueFamily, rng: random.Random, as_of: dt.date) -> dict[str, Any]:
    opened = random_date(rng, as_of - dt.timedelta(days=3 * 365), as_of - dt.timedelta(days=3))
    level = _level(family, rng, opened)
    curator = rng.choice(names.FAMILY_NAMES_SORTED)
    given = rng.choice(names.FEMALE_GIVEN)
    case: dict[str, Any] = {
        "case_id": f"{family.fid}-C1",
        "level": level,
        "opened_on": opened.isoformat(),
        "curator": {"name": f"{names.feminine_family_name(curator)} {given[0]}. {rng.choice('АВЕИМНОС')}.",
                    "organisation": rng.choice(names.SOCIAL_CENTRES), "agency": "social_protection"},
        "programme": _programme(rng, opened),
        "closed_on": None, "closure_reason": None, "contract_date": None,
    }
    set_stage(case, rng, as_of)
    return case


def _level(family: TrueFamily, rng: random.Random, opened: dt.date) -> str:
    is_foster = any(m.role in ("foster_parent", "guardian") for m in family.members)
    if is_foster and rng.random() < 0.6:
        return "adaptation"
    if any(c["category"] == "socially_dangerous" for c in family.categories):
        return rng.choice(("crisis", "emergency"))
    return rng.choices(("basic", "crisis", "emergency"), weights=(65, 28, 7))[0]


def set_stage(case: dict[str, Any], rng: random.Random, as_of: dt.date) -> None:
    """Derive stage, contract date and (sometimes) closure from how long the case has been open."""
    opened = dt.date.fromisoformat(case["opened_on"])
    days = (as_of - opened).days
    if days >= 40 and case["contract_date"] is None:
        case["contract_date"] = (opened + dt.timedelta(days=rng.randint(10, 35))).isoformat()
    if case["contract_date"] is not None and not case.get("district_commission"):
        case["district_commission"], case["working_group"] = commission_and_group(case["case_id"])
    if case["closed_on"] is None and days > 300 and rng.random() < 0.25:
        case["closed_on"] = random_date(rng, opened + dt.timedelta(days=280), as_of).isoformat()
        case["closure_reason"] = rng.choices(CLOSURE_REASONS, weights=CLOSURE_WEIGHTS)[0]
    if case["closed_on"] is not None:
        positive = case["closure_reason"] in ("positive_dynamics", "goals_achieved")
        case["stage"] = "post_accompaniment" if positive else "reflection"
    else:
        case["stage"] = ("diagnostic" if days < 20 else "contract" if days < 60
                         else "activity" if days < 270 else "reflection")


def commission_and_group(case_id: str) -> tuple[str, str]:
    """The district social commission that drew up the plan and the interagency working group that approved
    the programme (60 and 22 of them, as in the Novgorod pilot). Drawn from the case id, not from the
    sandbox's random stream, so adding them changed no other generated value."""
    pick = random.Random(f"commission|{case_id}")
    commission = pick.randint(1, 60)
    return (f"Участковая социальная комиссия № {commission}",
            f"Межведомственная рабочая группа № {1 + (commission - 1) * 22 // 60}")


def _programme(rng: random.Random, opened: dt.date) -> list[dict[str, Any]]:
    kinds = rng.sample(sorted(PROVIDERS), rng.randint(2, 5))
    start = opened + dt.timedelta(days=rng.randint(15, 40))
    return [{"kind": k, "agency": rng.choice(PROVIDERS[k]),
             "planned_from": start.isoformat(),
             "planned_to": (start + dt.timedelta(days=rng.choice((90, 180, 365)))).isoformat()}
            for k in kinds]


def _agencies(
    family: TrueFamily, children: list[TruePerson], rng: random.Random, as_of: dt.date
) -> list[str]:
    known = ["social_protection"] if family.case or rng.random() < 0.85 else []
    if children and rng.random() < 0.97:
        known.append("health")
    if any(7 <= c.age(as_of) <= 17 for c in children) and rng.random() < 0.95:
        known.append("education")
    planned_ngo = family.case and any(p["agency"] == "ngo" for p in family.case["programme"])
    if planned_ngo or rng.random() < 0.3:
        known.append("ngo")
    return known or ["social_protection"]


def _services(family: TrueFamily, rng: random.Random, as_of: dt.date) -> list[dict[str, Any]]:
    plans = list(family.case["programme"]) if family.case else []
    if not plans or rng.random() < 0.3:
        kind = rng.choice(sorted(PROVIDERS))
        plans.append({"kind": kind, "agency": rng.choice(PROVIDERS[kind]),
                      "planned_from": (as_of - dt.timedelta(days=400)).isoformat()})
    services: list[dict[str, Any]] = []
    for plan in plans:
        if plan["agency"] not in family.agencies:
            continue
        for _ in range(rng.randint(0, 3)):
            services.append(new_service(family, rng, plan["kind"], plan["agency"],
                                        dt.date.fromisoformat(plan["planned_from"]), as_of,
                                        len(services) + 1))
    return services


def new_service(
    family: TrueFamily, rng: random.Random, kind: str, agency: str, earliest: dt.date, as_of: dt.date, n: int
) -> dict[str, Any]:
    """A service by ``agency`` to a member (or the whole family) between ``earliest`` and ``as_of``."""
    members = family.current_members()
    started = random_date(rng, min(earliest, as_of), as_of)
    ended = started + dt.timedelta(days=rng.choice((0, 0, 1, 14, 30)))
    target = rng.choice(members).pid if rng.random() < 0.8 else None
    return {
        "service_id": f"{family.fid}-S{n}", "kind": kind, "agency": agency,
        "org": rng.choice(ORGS[agency]), "pid": target, "started_on": started.isoformat(),
        "ended_on": ended.isoformat() if ended <= as_of else None,
        "status": "delivered" if ended <= as_of else "in_progress",
        "case_id": family.case["case_id"] if family.case else None,
    }

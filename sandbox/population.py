"""The true world of the sandbox: families and persons, generated deterministically.

Family ``index`` is generated from ``random.Random(f"{seed}:{index}")`` alone, so the same seed gives the same
families whatever the count, order or process that generates them. Only the sandbox, tests and benchmarks
see this world; the hub sees what the agencies make of it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from sandbox import names
from schemas.identifiers import snils_check_digits

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV")
CERT_LETTERS = "АБВГДЕЖИКЛМНОПРСТУФХЦЧШЭЮЯ"


@dataclass
class TruePerson:
    """A real person of the simulated region."""

    pid: str
    family_name: str
    given_name: str
    patronymic: str
    sex: str
    birth_date: str
    birth_family_name: str
    snils: str | None = None
    birth_certificate: str | None = None
    passport: str | None = None
    oms: str | None = None
    phone: str | None = None
    health_status: dict[str, Any] | None = None

    def age(self, on: dt.date) -> int:
        born = dt.date.fromisoformat(self.birth_date)
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass
class TrueMember:
    """A person's role in a family over a period."""

    pid: str
    role: str
    since: str
    until: str | None = None


@dataclass
class TrueFamily:
    """A household with its members, categories, accompaniment case and services."""

    fid: str
    index: int
    address: dict[str, str]
    persons: list[TruePerson]
    members: list[TrueMember]
    categories: list[dict[str, str | None]] = field(default_factory=list)
    case: dict[str, Any] | None = None
    services: list[dict[str, Any]] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    previous_address: dict[str, str] | None = None
    deleted_on: str | None = None
    version: int = 1

    def person(self, pid: str) -> TruePerson:
        return next(p for p in self.persons if p.pid == pid)

    def current_members(self) -> list[TrueMember]:
        return [m for m in self.members if m.until is None]

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies and was a third of generation time.
        data = dict(vars(self))
        data["persons"] = [dict(vars(p)) for p in self.persons]
        data["members"] = [dict(vars(m)) for m in self.members]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrueFamily:
        persons = [TruePerson(**p) for p in data["persons"]]
        members = [TrueMember(**m) for m in data["members"]]
        return cls(**{**data, "persons": persons, "members": members})


def family_rng(seed: int, index: int, salt: str = "") -> random.Random:
    """The random stream of family ``index`` (string seeds hash with SHA-512: stable across runs)."""
    return random.Random(f"{seed}:{index}:{salt}")


def random_snils(rng: random.Random) -> str:
    body = f"{rng.randint(1_002_000, 999_999_999):09d}"
    return body + snils_check_digits(body)


def random_passport(rng: random.Random, issued_year: int) -> str:
    return f"49{issued_year % 100:02d} {rng.randint(100000, 999999)}"


def random_birth_certificate(rng: random.Random) -> str:
    letters = rng.choice(CERT_LETTERS) + rng.choice(CERT_LETTERS)
    return f"{rng.choice(ROMAN)}-{letters} {rng.randint(0, 999999):06d}"


def random_oms(rng: random.Random) -> str:
    return "53" + "".join(str(rng.randint(0, 9)) for _ in range(14))


def random_phone(rng: random.Random) -> str:
    return f"+79{rng.randint(0, 999999999):09d}"


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def random_address(rng: random.Random) -> dict[str, str]:
    district = rng.choice(names.DISTRICT_NAMES)
    localities, postal = names.DISTRICTS[district]
    address = {
        "region": names.REGION,
        "district": district,
        "locality": rng.choice(localities),
        "street": rng.choice(names.STREETS),
        "house": str(rng.randint(1, 120)),
        "postal_code": postal + f"{rng.randint(0, 99):02d}",
    }
    if rng.random() < 0.7:
        address["apartment"] = str(rng.randint(1, 180))
    return address


class _PersonFactory:
    """Makes the persons of one family with ids ``<fid>-<n>``."""

    def __init__(self, rng: random.Random, fid: str, as_of: dt.date) -> None:
        self.rng, self.fid, self.as_of, self.count = rng, fid, as_of, 0
        self.used: set[str] = set()  # parents do not give two living children the same name

    def adult(self, sex: str, family_name: str, age_range: tuple[int, int]) -> TruePerson:
        born = self._birth_date(*age_range)
        person = self._person(sex, family_name, self._father_name(), born)
        person.passport = random_passport(self.rng, born.year + 20 + self.rng.randint(0, 5))
        return person

    def child(self, sex: str, family_name: str, father_given: str, age_range: tuple[int, int]) -> TruePerson:
        born = self._birth_date(*age_range)
        person = self._person(sex, family_name, father_given, born)
        person.birth_certificate = random_birth_certificate(self.rng)
        if person.age(self.as_of) >= 14:
            person.passport = random_passport(self.rng, born.year + 14)
        return person

    def _person(self, sex: str, family_name: str, father_given: str, born: dt.date) -> TruePerson:
        self.count += 1
        rng = self.rng
        pool = names.MALE_GIVEN if sex == "male" else names.FEMALE_GIVEN
        given = rng.choice([n for n in pool if n not in self.used] or pool)
        self.used.add(given)
        surname = family_name if sex == "male" else names.feminine_family_name(family_name)
        person = TruePerson(
            pid=f"{self.fid}-{self.count}", family_name=surname, given_name=given,
            patronymic=names.patronymic(father_given, sex), sex=sex, birth_date=born.isoformat(),
            birth_family_name=surname,
        )
        person.snils = random_snils(rng) if rng.random() < 0.93 else None
        person.oms = random_oms(rng) if rng.random() < 0.97 else None
        person.phone = random_phone(rng) if person.age(self.as_of) >= 16 and rng.random() < 0.8 else None
        return person

    def _birth_date(self, min_age: int, max_age: int) -> dt.date:
        latest = self.as_of - dt.timedelta(days=365 * min_age + 1)
        earliest = self.as_of - dt.timedelta(days=365 * (max_age + 1) - 1)
        return random_date(self.rng, earliest, latest)

    def _father_name(self) -> str:
        return self.rng.choice(names.MALE_GIVEN)


def _household_kind(rng: random.Random) -> str:
    return rng.choices(
        ("two_parents", "single_mother", "single_father", "foster", "grandmother_guardian"),
        weights=(60, 25, 3, 7, 5),
    )[0]


def _children_count(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4, 5, 6), weights=(35, 35, 18, 8, 3, 1))[0]


def generate_family(seed: int, index: int, as_of: dt.date) -> TrueFamily:
    """The true family number ``index`` as it is on ``as_of`` (without care data; see ``sandbox.care``)."""
    rng = family_rng(seed, index)
    fid = f"TF{index:07d}"
    make = _PersonFactory(rng, fid, as_of)
    kind = _household_kind(rng)
    family = TrueFamily(fid=fid, index=index, address=random_address(rng), persons=[], members=[])
    adults = _adults(make, rng, kind)
    for person, role in adults:
        family.persons.append(person)
        family.members.append(TrueMember(person.pid, role, _since(rng, person, as_of)))
    _add_children(family, make, rng, kind, adults, as_of)
    if rng.random() < 0.15:
        family.previous_address = random_address(rng)
    return family


def _adults(make: _PersonFactory, rng: random.Random, kind: str) -> list[tuple[TruePerson, str]]:
    surname = rng.choice(names.FAMILY_NAMES)
    if kind == "two_parents":
        father = make.adult("male", surname, (22, 55))
        mother = make.adult("female", surname, (20, 48))
        if rng.random() < 0.85:  # she took his name at marriage; her birth name is the maiden name
            mother.birth_family_name = names.feminine_family_name(rng.choice(names.FAMILY_NAMES))
        return [(father, "father"), (mother, "mother")]
    if kind == "single_mother":
        return [(make.adult("female", surname, (18, 48)), "mother")]
    if kind == "single_father":
        return [(make.adult("male", surname, (22, 55)), "father")]
    if kind == "foster":
        parents = [(make.adult("female", surname, (28, 55)), "foster_parent")]
        if rng.random() < 0.6:
            parents.append((make.adult("male", surname, (28, 60)), "foster_parent"))
        return parents
    return [(make.adult("female", surname, (45, 70)), "guardian")]


def _add_children(
    family: TrueFamily, make: _PersonFactory, rng: random.Random, kind: str,
    adults: list[tuple[TruePerson, str]], as_of: dt.date,
) -> None:
    father = next((p for p, r in adults if r == "father"), None)
    family_name = adults[0][0].family_name if adults[0][0].sex == "male" else None
    youngest_adult_age = min(p.age(as_of) for p, _ in adults)
    max_child_age = min(17, max(0, youngest_adult_age - 18)) if kind in ("two_parents", "single_mother",
                                                                           "single_father") else 17
    for _ in range(_children_count(rng)):
        sex = rng.choice(("male", "female"))
        if kind in ("foster", "grandmother_guardian"):
            surname = rng.choice(names.FAMILY_NAMES)  # the child keeps the birth family's name
            father_given = rng.choice(names.MALE_GIVEN)
        else:
            surname = family_name or names.masculine_of(adults[0][0].family_name)
            father_given = father.given_name if father else rng.choice(names.MALE_GIVEN)
        child = make.child(sex, surname, father_given, (0, max_child_age))
        family.persons.append(child)
        placed = kind in ("foster", "grandmother_guardian")
        since = _placed(rng, child, as_of) if placed else child.birth_date
        family.members.append(TrueMember(child.pid, "child", since))


def _since(rng: random.Random, person: TruePerson, as_of: dt.date) -> str:
    latest = as_of - dt.timedelta(days=30)
    adult_on = min(dt.date.fromisoformat(person.birth_date) + dt.timedelta(days=365 * 19), latest)
    return random_date(rng, adult_on, latest).isoformat()


def _placed(rng: random.Random, child: TruePerson, as_of: dt.date) -> str:
    return random_date(rng, dt.date.fromisoformat(child.birth_date), as_of).isoformat()

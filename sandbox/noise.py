"""Noise: what agencies' data entry does to a true person, per source, at configured rates.

Each rate is a probability *per eligible record* (ё→е needs an ё; a maiden name needs a married woman whose
birth name differs; a day/month swap needs a day ≤ 12 that differs from the month). ``NoiseCounter`` counts
eligible and applied cases so the rates can be checked against the configuration; every record's truth row
lists the noise applied to it. Rates per source are documented in ``docs/sandbox.md``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandbox import names
from sandbox.population import TruePerson

# Neighbouring keys of the ЙЦУКЕН layout: the typos people really make.
_NEIGHBOURS = {
    "й": "цф", "ц": "йуы", "у": "цкв", "к": "уеа", "е": "кнп", "н": "ег", "г": "нш", "ш": "гщ", "щ": "шз",
    "з": "щх", "ф": "йыя", "ы": "цфв", "в": "ыуа", "а": "вкп", "п": "аер", "р": "пно", "о": "рл",
    "л": "од", "д": "лж", "ж": "дэ", "я": "фч", "ч": "яс", "с": "чм", "м": "си", "и": "мт", "т": "иь",
    "ь": "тб", "б": "ью", "ю": "б",
}
# ICAO transliteration (Russian passports since 2013) and an informal variant people type.
ICAO = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r",
                 "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "ie", "y", "", "e", "iu", "ia"],
                strict=True))
INFORMAL = {**ICAO, "ё": "yo", "й": "y", "х": "h", "ю": "yu", "я": "ya", "ъ": "", "щ": "sch"}


@dataclass(frozen=True)
class NoiseRates:
    """Probabilities of each kind of noise for one source (per eligible record)."""

    typo: float = 0.0
    yo_to_e: float = 0.0
    case: float = 0.0
    swap_names: float = 0.0
    missing_patronymic: float = 0.0
    maiden_name: float = 0.0
    date_format: float = 0.0
    day_month_swap: float = 0.0
    id_format: float = 0.0
    missing_id: float = 0.0
    duplicate: float = 0.0
    stale_address: float = 0.0
    latin: float = 0.0
    diminutive: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> NoiseRates:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown noise kinds: {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


# Format constraints shape these: EGISSO's XSD wants 11-digit SNILS and xsd:date, so no id_format or
# date_format there; FHIR birthDate is strict too. The NGO types names by hand and rarely asks for SNILS.
DEFAULT_RATES: dict[str, NoiseRates] = {
    "social_protection": NoiseRates(typo=0.01, yo_to_e=0.5, case=0.01, swap_names=0.003,
                                    missing_patronymic=0.01, maiden_name=0.05, day_month_swap=0.002,
                                    missing_id=0.03, duplicate=0.01, stale_address=0.1),
    "health": NoiseRates(typo=0.02, yo_to_e=0.7, case=0.02, swap_names=0.005, missing_patronymic=0.05,
                         maiden_name=0.15, day_month_swap=0.004, id_format=0.3, missing_id=0.1,
                         duplicate=0.02, stale_address=0.2),
    "education": NoiseRates(typo=0.03, yo_to_e=0.6, case=0.05, swap_names=0.01, missing_patronymic=0.03,
                            maiden_name=0.15, day_month_swap=0.006, id_format=0.3, missing_id=0.3,
                            duplicate=0.02, stale_address=0.15),
    "ngo": NoiseRates(typo=0.05, yo_to_e=0.8, case=0.1, swap_names=0.02, missing_patronymic=0.3,
                      maiden_name=0.3, date_format=0.3, day_month_swap=0.01, id_format=0.5, missing_id=0.85,
                      duplicate=0.04, stale_address=0.3, latin=0.1, diminutive=0.15),
}


class NoiseCounter:
    """Counts, per source and kind, how many records were eligible and how many got the noise."""

    def __init__(self) -> None:
        self.eligible: Counter[tuple[str, str]] = Counter()
        self.applied: Counter[tuple[str, str]] = Counter()

    def roll(self, source: str, kind: str, rate: float, rng: random.Random, eligible: bool = True) -> bool:
        """Decide one noise event; always draws from ``rng`` so streams stay aligned."""
        hit = rng.random() < rate
        if not eligible:
            return False
        self.eligible[(source, kind)] += 1
        if hit:
            self.applied[(source, kind)] += 1
        return hit

    def merge(self, other: NoiseCounter) -> None:
        self.eligible.update(other.eligible)
        self.applied.update(other.applied)

    def as_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (source, kind), n in sorted(self.eligible.items()):
            out.setdefault(source, {})[kind] = {"eligible": n, "applied": self.applied[(source, kind)]}
        return out


@dataclass
class NoisyPerson:
    """A person as one source recorded them; ``noise`` lists what was done to the true values."""

    family_name: str
    given_name: str
    patronymic: str | None
    sex: str
    birth_date: dt.date
    birth_date_text: str
    snils: str | None
    noise: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def noisy_person(
    person: TruePerson, source: str, rates: NoiseRates, rng: random.Random, counter: NoiseCounter
) -> NoisyPerson:
    """Apply ``rates`` to ``person`` for ``source`` with a record-specific ``rng``."""
    noise: list[str] = []

    def roll(kind: str, eligible: bool = True) -> bool:
        hit = counter.roll(source, kind, getattr(rates, kind), rng, eligible)
        if hit:
            noise.append(kind)
        return hit

    married = person.sex == "female" and person.birth_family_name != person.family_name
    family = person.birth_family_name if roll("maiden_name", married) else person.family_name
    given = person.given_name
    if roll("diminutive", bool(names.diminutives(given))):
        given = rng.choice(names.diminutives(given))
    patronymic: str | None = None if roll("missing_patronymic") else person.patronymic
    family, given, patronymic = _spelling(family, given, patronymic, roll, rng)
    born = dt.date.fromisoformat(person.birth_date)
    if roll("day_month_swap", born.day <= 12 and born.day != born.month):
        born = born.replace(day=born.month, month=born.day)
    date_text = born.strftime("%d.%m.%Y") if roll("date_format") else born.isoformat()
    snils = person.snils
    if roll("missing_id", snils is not None):
        snils = None
    if snils is not None and roll("id_format"):
        snils = rng.choice((f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}",
                            f"{snils[:3]} {snils[3:6]} {snils[6:9]} {snils[9:]}"))
    return NoisyPerson(family, given, patronymic, person.sex, born, date_text, snils, noise)


def _spelling(
    family: str, given: str, patronymic: str | None, roll: Any, rng: random.Random
) -> tuple[str, str, str | None]:
    parts = [family, given, patronymic]
    if roll("typo"):
        i = rng.choice((0, 0, 1, 2) if patronymic else (0, 0, 1))
        parts[i] = typo(parts[i] or "", rng)
    if roll("yo_to_e", any("ё" in (p or "").lower() for p in parts)):
        parts = [p.replace("ё", "е").replace("Ё", "Е") if p else p for p in parts]
    if roll("latin"):
        table = ICAO if rng.random() < 0.7 else INFORMAL
        parts = [transliterate(p, table) if p else p for p in parts]
    if roll("case"):
        parts = [(p.upper() if rng.random() < 0.7 else p.lower()) if p else p for p in parts]
    if roll("swap_names"):
        parts[0], parts[1] = parts[1], parts[0]
    return parts[0] or family, parts[1] or given, parts[2]


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a neighbouring key, a dropped, doubled or transposed letter."""
    if len(word) < 3:
        return word + word[-1:]
    i = rng.randint(1, len(word) - 2)
    kind = rng.choice(("neighbour", "drop", "double", "swap"))
    ch = word[i]
    if kind == "neighbour" and ch.lower() in _NEIGHBOURS:
        repl = rng.choice(_NEIGHBOURS[ch.lower()])
        return word[:i] + (repl.upper() if ch.isupper() else repl) + word[i + 1:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "swap" and word[i + 1] != ch:
        return word[:i] + word[i + 1] + ch + word[i + 2:]
    return word[:i] + ch + word[i:]


def transliterate(text: str, table: dict[str, str]) -> str:
    """Cyrillic → Latin with ``table`` (lower-case keys), keeping the capital of each word."""
    out = []
    for ch in text:
        low = ch.lower()
        if low in table:
            latin = table[low]
            out.append(latin.capitalize() if ch.isupper() else latin)
        else:
            out.append(ch)
    return "".join(out)

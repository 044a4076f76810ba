"""Standardisation of canonical person records into the columns the matcher compares.

Entity resolution runs deterministic rules first (shared SNILS, OMS policy, passport, birth certificate —
never a placeholder number), then Fellegi–Sunter scoring with Splink 5 on DuckDB. This module turns one
``schemas.Person`` into flat, comparable values: names in one Cyrillic spelling with diminutives expanded,
Latin-typed names turned back into Cyrillic, ASCII keys for string distances, the family-name stem that
ignores gender endings, the sex (recorded or inferred), the day/month-swapped birth date as a separate value
for a comparison level (never a silent fix), identifiers with placeholders removed, and address parts.

Text and transliteration live in ``matching.translit`` and address parts in ``matching.address``; this
module re-exports the text functions so callers need one import. Everything is pure and the per-word work is
cached, so millions of records cost little more than their distinct names.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any, Final, NamedTuple

from matching import address, names_ru, translit
from matching.address import address_parts, main_address
from matching.names_ru import SexCode
from matching.origin import russian_looking
from matching.phonetic import sound_key
from matching.translit import match_key_latin, normalize_text, to_cyrillic, to_latin, to_latin_gost
from schemas.codes import IdentifierKind
from schemas.person import Person

__all__ = [
    "ASCII_COMPARISON_COLUMNS", "DUCKDB_STRING_DISTANCE_NOTE", "PLACEHOLDER_BIRTH_DATES", "STANDARD_COLUMNS",
    "FamilyStem", "clear_caches", "date_variants", "family_name_stem", "father_name_from_patronymic",
    "full_given_name", "full_given_names", "infer_sex", "infer_sex_evidence", "is_placeholder_identifier",
    "match_key_latin", "normalize_text", "patronymic_sex", "plausible_birth_date", "snils_key",
    "standardize_person", "swapped_day_month", "to_cyrillic", "to_latin", "to_latin_gost",
]

DUCKDB_STRING_DISTANCE_NOTE: Final = """\
DuckDB's levenshtein, damerau_levenshtein, jaro_similarity and jaro_winkler_similarity count UTF-8 bytes,
not characters (DuckDB issue #25113; still so in DuckDB 2.0.0, see tests/matching/test_duckdb_unicode.py).
A Cyrillic letter is two bytes, so one changed letter costs 1 or 2 depending on whether the two letters
share their first byte (Сергей/Сергий: 1, Сергій/Сергий: 2), Иванов/Иванова is 2 apart, and every
similarity threshold tuned on Latin data is off on Cyrillic. The matcher must therefore run DuckDB string
distances only on the ASCII columns (ASCII_COMPARISON_COLUMNS: match_key_latin values), and compare
Cyrillic columns by equality only, or with rapidfuzz in Python, which counts characters."""
"""Why the matcher compares names on ASCII keys in DuckDB (and what it must not do)."""

ASCII_COMPARISON_COLUMNS: Final = (
    "family_latin_key", "given_latin_key", "patronymic_latin_key", "family_stem_key", "name_latin_key",
    "swapped_names",
)
"""Columns that are pure ASCII: the only ones DuckDB's string-distance functions measure correctly."""

STANDARD_COLUMNS: Final = (
    "family_name_std", "given_name_std", "given_name_candidates", "patronymic_std", "family_stem",
    "family_name_gender", "father_name", *ASCII_COMPARISON_COLUMNS, "family_sound", "given_sound",
    "given_alts", "sex_std", "sex_source", "name_origin",
    "birth_date",
    "birth_year", "birth_date_swapped", "birth_date_plausible", "snils", "oms", "birth_cert", "passport",
    "shared_id", "shared_number", "postal_code", "locality_std", "street_std", "house",
)
"""Keys of the dict ``standardize_person`` returns, in a stable order (a DataFrame's columns)."""

_CACHE: Final = 1 << 16

# --- given names --------------------------------------------------------------------------------------

# Hypocoristic suffixes on a diminutive or full stem: Саш-енька, Ван-ечка, Дим-очка, Саш-ка, Вань-ка,
# Саш-уля, Наст-юша, Саш-ок, Игор-ек. Longest first; only stems that rebuild a known name count. The forms
# without ь are what ICAO-transliterated input comes back as (Sashenka → САШЕНКА).
_HYPOCORISTIC: Final = ("ЕНЬКА", "ОНЬКА", "ЕНКА", "ОНКА", "УШКА", "ЮШКА", "ЕЧКА", "ОЧКА", "УЛЯ", "УНЯ", "ЮНЯ",
                        "УСЯ", "ЮСЯ", "УША", "ЮША", "ЬКА", "КА", "ОК", "ЕК", "ИК")
_STEM_ENDINGS: Final = ("А", "Я", "", "Ь", "Й")


def _known_given(name: str) -> tuple[str, ...]:
    if name in names_ru.CANONICAL_GIVEN:
        return (names_ru.CANONICAL_GIVEN[name],)
    return names_ru.DIMINUTIVES.get(name, ())


@lru_cache(maxsize=_CACHE)
def _given_candidates(name: str) -> tuple[str, ...]:
    found = _known_given(name)
    if found:
        return found
    for suffix in _HYPOCORISTIC:
        stem = name[: -len(suffix)]
        if name.endswith(suffix) and len(stem) >= 2:
            for ending in _STEM_ENDINGS:
                found = _known_given(stem + ending)
                if found:
                    return found
    return ()


@lru_cache(maxsize=_CACHE)
def full_given_names(name: str, sex: str | None = None) -> tuple[str, ...]:
    """Full given names a name can stand for, most likely first; ``()`` when the name is unknown.

    A full name gives itself in canonical spelling (``НАТАЛИЯ`` → ``НАТАЛЬЯ``); a diminutive gives every
    full name it shortens (``САША`` → ``АЛЕКСАНДР``, ``АЛЕКСАНДРА``), narrowed to ``sex`` when that leaves
    any; suffix forms are recognised (``САШЕНЬКА``, ``ВАНЬКА``, ``ДИМОЧКА``). Latin input is transliterated.
    """
    candidates = _given_candidates(to_cyrillic(name))
    if sex is not None:
        narrowed = tuple(c for c in candidates if names_ru.GIVEN_SEX[c] == sex)
        return narrowed or candidates
    return candidates


def full_given_name(name: str, sex: str | None = None) -> str | None:
    """The full given name when exactly one fits (``КАТЯ`` → ``ЕКАТЕРИНА``), else ``None``.

    ``САША`` alone is ambiguous (``None``); ``full_given_name("Саша", "female")`` is ``АЛЕКСАНДРА``.
    """
    candidates = full_given_names(name, sex)
    return candidates[0] if len(candidates) == 1 else None


# --- patronymics, sex ---------------------------------------------------------------------------------

_MALE_PARTICLES: Final = frozenset({"ОГЛЫ", "УГЛИ", "УУЛУ", "УЛЫ"})  # Turkic "son of", written after the name
_FEMALE_PARTICLES: Final = frozenset({"КЫЗЫ", "ГЫЗЫ", "КИЗИ"})
_VOWELS_RU: Final = frozenset("АЕИОУЫЭЮЯ")


def _last_word(s: str | None) -> str:
    words = to_cyrillic(s).split() if s else []
    return words[-1] if words else ""


def patronymic_sex(patronymic: str | None) -> SexCode | None:
    """``male`` for -ович/-евич/-ич (and оглы), ``female`` for -овна/-евна/-ична/-инична (and кызы)."""
    last = _last_word(patronymic)
    if last in _MALE_PARTICLES or last.endswith("ИЧ"):
        return "male"
    if last in _FEMALE_PARTICLES or last.endswith(("ОВНА", "ЕВНА", "ИЧНА")):
        return "female"
    return None


def _a_name(stem: str) -> str:
    return stem + ("Я" if stem.endswith("Ь") else "А")  # ИЛЬ → ИЛЬЯ, НИКИТ → НИКИТА


@lru_cache(maxsize=_CACHE)
def father_name_from_patronymic(patronymic: str | None) -> str | None:
    """The father's given name: СЕРГЕЕВИЧ → СЕРГЕЙ, ИЛЬИЧ → ИЛЬЯ, НИКИТИЧНА → НИКИТА, ПАВЛОВНА → ПАВЕЛ.

    Known patronymics come from the name table (irregular ones included); others by the regular rules.
    ``None`` when the word is not a patronymic.
    """
    last = _last_word(patronymic)
    if last in names_ru.PATRONYMIC_FATHER:
        return names_ru.PATRONYMIC_FATHER[last]
    for suffix in ("ОВИЧ", "ОВНА", "ЕВИЧ", "ЕВНА", "ИНИЧНА", "ИЧНА", "ИЧ"):
        stem = last[: -len(suffix)]
        if not last.endswith(suffix) or len(stem) < 2:
            continue
        if suffix[0] == "О":
            return stem
        if suffix[0] == "Е":
            if stem.endswith("Ь"):
                return stem[:-1] + "ИЙ"  # ВАСИЛЬЕВИЧ → ВАСИЛИЙ
            if stem[-1] in _VOWELS_RU:
                return stem + "Й"  # СЕРГЕЕВИЧ → СЕРГЕЙ, ДМИТРИЕВИЧ → ДМИТРИЙ
            return stem if stem[-1] in "ЖШЧЩЦ" else stem + "Ь"  # ИГОРЕВИЧ → ИГОРЬ
        return _a_name(stem)
    return None


class FamilyStem(NamedTuple):
    """A family name without its gender ending, and which gender form the record used."""

    stem: str
    gender: SexCode | None


# (ending, replacement, gender form) — longest first; the adjectival ones drop the whole ending.
_FAMILY_ENDINGS: Final[tuple[tuple[str, str, SexCode], ...]] = (
    ("СКАЯ", "СК", "female"), ("ЦКАЯ", "ЦК", "female"), ("СКИЙ", "СК", "male"), ("ЦКИЙ", "ЦК", "male"),
    ("ОВА", "ОВ", "female"), ("ЕВА", "ЕВ", "female"), ("ИНА", "ИН", "female"), ("ЫНА", "ЫН", "female"),
    ("АЯ", "", "female"), ("ОЙ", "", "male"), ("ЫЙ", "", "male"),
    ("ОВ", "ОВ", "male"), ("ЕВ", "ЕВ", "male"), ("ИН", "ИН", "male"), ("ЫН", "ЫН", "male"),
)


def _word_stem(word: str) -> FamilyStem:
    for ending, replacement, gender in _FAMILY_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            return FamilyStem(word[: -len(ending)] + replacement, gender)
    return FamilyStem(word, None)


@lru_cache(maxsize=_CACHE)
def family_name_stem(family_name: str) -> FamilyStem:
    """Stem that Иванов/Иванова, Покровский/Покровская, Толстой/Толстая share, and the gender form seen.

    ``ИВАНОВА`` → (``ИВАНОВ``, female); ``ПОКРОВСКИЙ`` → (``ПОКРОВСК``, male); ``ШЕВЧЕНКО`` → (itself, None).
    Each part of a double name is stemmed (РИМСКАЯ-КОРСАКОВА → РИМСК-КОРСАКОВ); Latin input is transliterated.
    """
    parts = [_word_stem(p) for p in re.split(r"([ \-])", to_cyrillic(family_name))]
    gender = next((p.gender for p in reversed(parts) if p.gender), None)
    return FamilyStem("".join(p.stem for p in parts), gender)


@lru_cache(maxsize=_CACHE)
def infer_sex_evidence(
    given: str | None, patronymic: str | None, family_name: str | None
) -> tuple[SexCode | None, str | None]:
    """Sex and the field it came from: ``patronymic`` (strong), ``given_name``, ``family_name`` (weak)."""
    by_patronymic = patronymic_sex(patronymic)
    if by_patronymic:
        return by_patronymic, "patronymic"
    sexes = {names_ru.GIVEN_SEX[c] for c in full_given_names(given)} if given else set()
    if len(sexes) == 1:
        return sexes.pop(), "given_name"
    gender = family_name_stem(family_name).gender if family_name else None
    return (gender, "family_name") if gender else (None, None)


def infer_sex(given: str | None, patronymic: str | None, family_name: str | None) -> SexCode | None:
    """Sex from the patronymic, else the given-name dictionary, else the family-name ending (weak)."""
    return infer_sex_evidence(given, patronymic, family_name)[0]


# --- dates --------------------------------------------------------------------------------------------

PLACEHOLDER_BIRTH_DATES: Final = frozenset({dt.date(1900, 1, 1), dt.date(1901, 1, 1)})
"""Dates systems put in when the birth date is unknown."""


def swapped_day_month(d: dt.date | None) -> dt.date | None:
    """The date with day and month exchanged, when that is another valid date (day ≤ 12, day ≠ month)."""
    if d is None or d.day > 12 or d.day == d.month:
        return None
    return d.replace(day=d.month, month=d.day)


def date_variants(d: dt.date | None) -> set[dt.date]:
    """The date and its day/month swap (for a comparison level; the record itself is never changed)."""
    if d is None:
        return set()
    swapped = swapped_day_month(d)
    return {d, swapped} if swapped else {d}


def plausible_birth_date(d: dt.date | None, today: dt.date, *, max_age_years: int = 110) -> bool:
    """True for a date not in the future, at most ``max_age_years`` ago, and not a known placeholder."""
    if d is None or d in PLACEHOLDER_BIRTH_DATES or d > today:
        return False
    try:
        earliest = today.replace(year=today.year - max_age_years)
    except ValueError:  # 29 February
        earliest = today.replace(year=today.year - max_age_years, day=28)
    return d >= earliest


# --- identifiers --------------------------------------------------------------------------------------

_NON_DIGITS = re.compile(r"[^0-9]")
_ASCENDING: Final = "0123456789" * 3
_DESCENDING: Final = "9876543210" * 3
_PLACEHOLDERS: Final[dict[IdentifierKind, frozenset[str]]] = {
    IdentifierKind.SNILS: frozenset({"00000000000", "12345678964", "12345678900", "98765432100"}),
    IdentifierKind.OMS_POLICY: frozenset({"1234567812345678", "0000000000000001"}),
    IdentifierKind.PASSPORT_RF: frozenset({"0000000001", "1234123456"}),
}
_KINDS: Final = {k.value: k for k in IdentifierKind}
_LOCAL_PLACEHOLDERS: Final = frozenset(
    {"-", "?", "НЕТ", "Н/Д", "НД", "НЕИЗВЕСТНО", "NULL", "NONE", "N/A", "NA", "UNKNOWN", "NAN"}
)


def snils_key(raw: str | None) -> str | None:
    """The 11 digits of a SNILS written with any separators, or ``None`` when it is not 11 digits."""
    if not raw:
        return None
    digits = _NON_DIGITS.sub("", raw)
    return digits if len(digits) == 11 else None


def _trivial(digits: str) -> bool:
    """All one digit, or a run of consecutive digits (123456…, 987654…)."""
    if len(set(digits)) == 1:
        return True
    return len(digits) >= 6 and (digits in _ASCENDING or digits in _DESCENDING)


def is_placeholder_identifier(kind: IdentifierKind | str, value: str) -> bool:
    """True for numbers typed when the real one is unknown, shared by unrelated people.

    All one digit (000-000-000 00, 111-111-111 11), a run of consecutive digits in the significant part
    (123-456-789 64, passport 1234 567890, certificate number 123456), a zero passport or certificate
    number, an OMS policy starting with eight zeros, the listed known fakes, and for ``local`` ids ``0…``,
    ``-``, ``нет``, ``н/д``. Deterministic rules must never link on these; values shared by many unrelated
    records that this list misses are the matcher's job to count.
    """
    kind = _KINDS[str(kind)]
    text = value.strip().upper()
    if kind is IdentifierKind.LOCAL:
        return text in _LOCAL_PLACEHOLDERS or (text.isdigit() and set(text) == {"0"})
    digits = _NON_DIGITS.sub("", text)
    if not digits or digits in _PLACEHOLDERS.get(kind, frozenset()) or _trivial(digits):
        return True
    if kind is IdentifierKind.SNILS:
        return _trivial(digits[:9])
    if kind is IdentifierKind.PASSPORT_RF:
        return _trivial(digits[4:]) or set(digits[4:]) == {"0"}
    if kind is IdentifierKind.BIRTH_CERTIFICATE:
        return _trivial(digits[-6:])
    if kind is IdentifierKind.OMS_POLICY:
        return digits.startswith("0" * 8)
    return False


def shared_declarations() -> dict[str, Any]:
    """The identifier systems sources.yaml declares shared across sources (``shared_identifiers:``)."""
    from connectors.config import load_shared_identifiers  # the sources' config; read when needed

    return load_shared_identifiers()


def shared_identifier(
    person: Person, declared: dict[str, Any] | None = None, *, trusted_only: bool = True
) -> str | None:
    """``system:value`` of the person's first trusted shared identifier (``shared_identifiers:`` in
    sources.yaml), normalised (no spaces or dashes); None when there is none or it misses its format.
    ``trusted_only=False``: the first declared one, trusted or not (the model's fuzzy comparison).

    ``declared``: the declarations, when the caller read them once for a batch (reading the settings per
    record cost 11 of the 16 s of standardising 73k persons)."""
    if declared is None:
        declared = shared_declarations()
    for ident in person.identifiers:
        spec = declared.get(ident.system or "") if ident.kind is IdentifierKind.LOCAL else None
        if spec is None or (trusted_only and not spec.trusted):
            continue
        value = re.sub(r"[\s\-]", "", ident.value).upper()
        if is_placeholder_identifier(IdentifierKind.LOCAL, value):
            continue
        if spec.pattern is None or re.fullmatch(spec.pattern, value):
            return f"{spec.system}:{value}"
    return None


def _identifiers(person: Person) -> dict[IdentifierKind, str]:
    """The person's identifiers by kind (first of each), placeholders left out."""
    found: dict[IdentifierKind, str] = {}
    for ident in person.identifiers:
        if ident.kind not in found and not is_placeholder_identifier(ident.kind, ident.value):
            found[ident.kind] = ident.value
    return found


# --- the record ---------------------------------------------------------------------------------------


def clear_caches() -> None:
    """Empty every per-word cache of standardisation (benchmarks measure a cold start with it)."""
    translit.clear_caches()
    for cached in (sound_key, _given_candidates, full_given_names, father_name_from_patronymic,
                   family_name_stem, infer_sex_evidence, address.locality_std, address.street_std,
                   address.house_std, address.cached_parts):
        cached.cache_clear()


def _given_std(given: str, sex: str | None) -> tuple[str, tuple[str, ...]]:
    candidates = full_given_names(given, sex)
    return (candidates[0] if len(candidates) == 1 else given), candidates


def _name_key(family_raw: str, given_raw: str, given_std: str, resolved: bool) -> str:
    # A resolved given name is keyed in its full form so "Sasha" and "Александра" agree.
    return f"{match_key_latin(family_raw)} {match_key_latin(given_std if resolved else given_raw)}"


def standardize_person(
    person: Person, *, today: dt.date | None = None, shared: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The matcher's columns for one person (keys and order: ``STANDARD_COLUMNS``).

    Names are Cyrillic (Latin input transliterated back), the given name in full form when the diminutive
    and sex leave one candidate; ``*_latin_key`` / ``name_latin_key`` are ASCII; ``swapped_names`` is the
    name key with family and given name exchanged (compare it with the other record's ``name_latin_key``);
    ``sex_std`` is the recorded sex or the inferred one (``sex_source`` says from where); identifiers that
    are placeholders are ``None``; ``birth_date_swapped`` is the day/month swap for a comparison level.
    ``today`` (default: the current date) only bounds ``birth_date_plausible``.
    """
    # A missing name (minimum evidence: the other parts identify the person) compares as missing: "" here,
    # None in every name column below, so that no comparison takes two missing names for a match.
    family_raw, given_raw = person.family_name or "", person.given_name or ""
    family = to_cyrillic(family_raw)
    given = to_cyrillic(given_raw)
    patronymic = to_cyrillic(person.patronymic) if person.patronymic else None
    # A family-name ending is sex evidence only in names that follow Russian morphology (matching.origin).
    russian = russian_looking(person.family_name, person.given_name, person.patronymic)
    sex, sex_source = (
        (person.sex.value, "record") if person.sex
        else infer_sex_evidence(given, patronymic, family if russian else None)
    )
    given_std, candidates = _given_std(given, sex)
    swapped_sex = (person.sex.value if person.sex
                   else infer_sex(family, patronymic, given if russian else None))
    swapped_given, swapped_candidates = _given_std(family, swapped_sex)
    stem = family_name_stem(family)
    parts = address_parts(main_address(person.addresses))
    birth = person.birth_date
    ids = _identifiers(person)
    passport = ids.get(IdentifierKind.PASSPORT_RF)
    out = {
        "family_name_std": family,
        "given_name_std": given_std,
        "given_name_candidates": list(candidates or (given,)),
        "patronymic_std": patronymic,
        "family_stem": stem.stem,
        "family_name_gender": stem.gender,
        "father_name": father_name_from_patronymic(patronymic),
        "family_latin_key": match_key_latin(family_raw),
        "given_latin_key": match_key_latin(given_std if candidates else given_raw),
        "patronymic_latin_key": match_key_latin(person.patronymic) if person.patronymic else None,
        "family_stem_key": match_key_latin(stem.stem),
        "name_latin_key": _name_key(family_raw, given_raw, given_std, bool(candidates)),
        "swapped_names": _name_key(given_raw, family_raw, swapped_given, bool(swapped_candidates)),
        "family_sound": sound_key(family_raw),
        "given_sound": sound_key(given_std if candidates else given_raw),
        # A diminutive of several full names (Дима: Дмитрий or Вадим) meets each of them at its own level.
        "given_alts": "|".join(candidates) if len(candidates) > 1 else None,
        "sex_std": sex,
        "sex_source": sex_source,
        "name_origin": "russian" if russian else "other",
        "birth_date": birth,
        "birth_year": birth.year if birth else None,
        "birth_date_swapped": swapped_day_month(birth),
        "birth_date_plausible": plausible_birth_date(birth, today or dt.date.today()),
        "snils": ids.get(IdentifierKind.SNILS),
        "oms": ids.get(IdentifierKind.OMS_POLICY),
        "birth_cert": ids.get(IdentifierKind.BIRTH_CERTIFICATE),
        "passport": passport.replace(" ", "") if passport else None,
        "shared_id": shared_identifier(person, shared),
        "shared_number": shared_identifier(person, shared, trusted_only=False),
        "postal_code": parts.postal_code,
        "locality_std": parts.locality,
        "street_std": parts.street,
        "house": parts.house,
    }
    return _missing_names(out, family_raw, given_raw)


_FAMILY_KEYS = ("family_name_std", "family_stem", "family_latin_key", "family_stem_key", "family_name_gender",
                "family_sound")
_GIVEN_KEYS = ("given_name_std", "given_latin_key", "given_sound", "given_alts")
_BOTH_KEYS = ("name_latin_key", "swapped_names")


def _missing_names(out: dict[str, Any], family: str, given: str) -> dict[str, Any]:
    if family and given:
        return out
    missing = (() if family else _FAMILY_KEYS) + (() if given else _GIVEN_KEYS) + _BOTH_KEYS
    out.update(dict.fromkeys(missing))
    if not given:
        out["given_name_candidates"] = []
    return out

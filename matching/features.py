"""The columns the matcher compares, built from a canonical person by ``matching.standardize``.

Exact comparisons use the standardised Cyrillic forms; fuzzy ones use ASCII transliteration keys
(``*_latin``), because DuckDB's string similarity functions count bytes, not characters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from matching.standardize import shared_declarations, standardize_person
from registry.match_person import record_key
from schemas import Person
from schemas.person import staged_person

FEATURES_VERSION = 2
"""Bump when standardisation gives stored records other or new columns (v2: the Metaphone sound keys and a
diminutive's alternatives): the blocking scheme carries it, so the next night re-derives every stored
record's features and keys from its staged record once (``registry.match_person.rebuild_block_keys``)
instead of comparing stale ones. Any change of scheme (a model with other blocking rules too) re-derives
them: rules change with a model version, rarely. A model whose rules cannot be keyed (no scheme) compares
every stored record as stored."""


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def refeaturer() -> Callable[[str, str, dict[str, Any]], dict[str, Any]]:
    """(source, record id, canonical person) → its features again; the shared declarations read once."""
    shared = shared_declarations()

    def refeature(source: str, source_record_id: str, canonical: dict[str, Any]) -> dict[str, Any]:
        return person_features(record_key(source, source_record_id), source, staged_person(canonical),
                               shared)

    return refeature


def person_features(
    key: str, source: str, person: Person, shared: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One row of the matcher's input (the model's ``COLUMNS``); ``shared``: the declared shared
    identifiers, read once per batch by the caller (else here)."""
    std = standardize_person(person, shared=shared)
    return {
        "unique_id": key,
        "source": source,
        "family_stem": std["family_stem"],
        "given_name_std": std["given_name_std"],
        "family_latin": std["family_latin_key"] or None,
        "given_latin": std["given_latin_key"] or None,
        "family_sound": std["family_sound"],
        "given_sound": std["given_sound"],
        "given_alts": std["given_alts"],
        "patronymic_std": std["patronymic_std"],
        "patronymic_latin": std["patronymic_latin_key"] or None,
        "birth_date": _iso(std["birth_date"]),
        "birth_date_swap": _iso(std["birth_date_swapped"]),
        "birth_year": std["birth_year"],
        "sex_std": std["sex_std"],
        "snils": std["snils"],
        "oms": std["oms"],
        "birth_cert": std["birth_cert"],
        "shared_id": std["shared_id"],  # a trusted source-declared shared number (for the rules)
        "shared_number": std["shared_number"],  # any declared one, trusted or not (for the model)
        "postal_code": std["postal_code"],
        "locality_std": std["locality_std"],
        "street_std": std["street_std"],
    }

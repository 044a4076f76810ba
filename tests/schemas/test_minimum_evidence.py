"""A person is staged when what it carries can identify someone; names are not required one by one."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from matching.standardize import standardize_person
from schemas import Person

PROVENANCE = {"source_system": "register", "source_record_id": "1", "mapping_version": "1.0.0",
              "mapping_name": "register"}
SNILS = [{"kind": "snils", "value": "112-233-445 95"}]
LOCAL = [{"kind": "local", "system": "register", "value": "R-1"}]


def person(**fields: Any) -> Person:
    return Person.model_validate({"provenance": PROVENANCE, **fields})


@pytest.mark.parametrize("fields", [
    {"family_name": "Иванова", "given_name": "Анна"},
    {"family_name": "Smith", "birth_date": "1990-01-01"},
    {"given_name": "Анна", "identifiers": SNILS},
    {"family_name": "Ким", "identifiers": SNILS},
])
def test_enough_to_identify_someone(fields: dict[str, Any]) -> None:
    assert person(**fields)


@pytest.mark.parametrize("fields", [
    {},
    {"birth_date": "1990-01-01", "identifiers": SNILS},  # no name at all
    {"family_name": "Smith"},
    {"given_name": "Анна", "identifiers": LOCAL},  # a local id is no evidence across agencies
])
def test_not_enough(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="identifies nobody"):
        person(**fields)


def test_a_missing_name_is_missing_in_every_comparison_column() -> None:
    std = standardize_person(person(family_name="Smith", birth_date="1990-01-01"))
    assert std["given_name_std"] is None
    assert std["given_latin_key"] is None
    assert std["name_latin_key"] is None
    assert std["family_latin_key"]  # the name it has is compared
    other = standardize_person(person(given_name="Анна", identifiers=SNILS))
    assert other["family_stem"] is None
    assert other["family_latin_key"] is None

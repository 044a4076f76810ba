"""Metaphone sound keys: spellings of one non-Russian name meet, different names stay apart."""

from __future__ import annotations

import pytest

from matching.features import person_features
from matching.phonetic import sound_key
from schemas import Person
from schemas.base import Provenance


@pytest.mark.parametrize(("a", "b"), [
    ("Catherine", "Kathryn"), ("Stephen", "Steven"), ("Jon", "John"), ("Mohammed", "Muhammad"),
    ("Smith", "Smyth"), ("Elizabeth", "Elisabeth"), ("Wojciechowski", "Wojciechowsky"),
    ("Gelashvili", "Gelashvily"), ("José", "Jose"), ("Łukasz", "Lukasz"), ("Ngoc-Anh", "Ngoc Anh"),
    ("O'Connor", "OConnor"), ("Иванов", "Ivanoff"),
])
def test_spellings_of_one_name_share_a_key(a: str, b: str) -> None:
    assert sound_key(a) == sound_key(b) is not None


@pytest.mark.parametrize(("a", "b"), [
    ("Catherine", "Caroline"), ("Smith", "Smart"), ("Nguyen", "Tran"), ("Grace", "Chloe"),
    ("Petrosyan", "Grigoryan"),
])
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert sound_key(a) != sound_key(b)


@pytest.mark.parametrize("blank", [None, "", "  ", "--", "123", "'"])
def test_a_value_without_letters_has_no_key(blank: str | None) -> None:
    assert sound_key(blank) is None


def test_a_missing_name_has_no_sound_key_and_a_diminutive_sounds_like_its_full_name() -> None:
    def row(**names: str) -> dict[str, object]:
        person = Person.model_validate({"provenance": Provenance(source_system="agency", source_record_id="1",
                                                                 mapping_version="t"),
                                        "birth_date": "1990-04-05", **names})
        return person_features("a|1", "a", person)

    only_family = row(family_name="Kathryn")
    assert only_family["given_sound"] is None
    assert only_family["family_sound"] == sound_key("Catherine")
    sasha = row(family_name="Иванова", given_name="Саша", sex="female")
    assert sasha["given_sound"] == sound_key("Александра")

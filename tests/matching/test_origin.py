"""Script detection and Russian-looking names: sex from a family-name ending only where it is evidence.

Names of the programmes' families of migrants and refugees arrive in Latin, in Cyrillic of other
languages, and in transliterations of both. Russian names in Latin must keep their Russian reading (they
meet their Cyrillic form); other names must not get a sex from an ending that means nothing in them.
"""

from __future__ import annotations

import pytest

from matching.origin import russian_looking, script_of
from matching.standardize import standardize_person
from schemas import Person
from schemas.base import Provenance


def person(family: str, given: str, **extra: object) -> Person:
    provenance = Provenance(source_system="ngo", source_record_id=f"{family}-{given}", mapping_version="t")
    return Person.model_validate({"provenance": provenance, "family_name": family, "given_name": given,
                                  "birth_date": "1990-01-02", **extra})


@pytest.mark.parametrize(("value", "script"), [
    ("Иванова", "cyrillic"), ("Ivanova", "latin"), ("Müller", "latin"), ("Ivanovа", "mixed"),
    ("Нұрлан", "cyrillic"), ("Ғафуров", "cyrillic"), ("", "none"), ("12-45", "none"),
])
def test_the_script_of_each_value(value: str, script: str) -> None:
    assert script_of(value) == script


@pytest.mark.parametrize(("family", "given", "patronymic"), [
    ("Иванова", "Мария", None),                 # Russian
    ("Ivanova", "Mariya", None),                 # Russian, ICAO-ish Latin
    ("Kuznetsova", "Olga", None),                # Russian ending in Latin
    ("Шевченко", "Тарас", "Григорьевич"),        # Ukrainian in Cyrillic
    ("Shevchenko", "Taras", None),               # Ukrainian in Latin (-enko)
    ("Нурланова", "Айгерим", None),              # Kazakh in Cyrillic
    ("Abdullayeva", "Dilnoza", None),            # Uzbek in Latin (-yeva)
    ("Rahmonov", "Firuz", None),                 # Tajik (-ov)
    ("Петросян", "Армен", None),                 # Armenian in Cyrillic: Russian documents' patterns
    ("Гиоргадзе", "Нино", None),                 # Georgian in Russian
    ("Petrosyan", "Armen", "Vardanovich"),       # a patronymic is the convention's own evidence
])
def test_russian_and_russified_names_keep_their_morphology(
    family: str, given: str, patronymic: str | None
) -> None:
    assert russian_looking(family, given, patronymic)


@pytest.mark.parametrize(("family", "given"), [
    ("Smith", "Elizabeth"), ("Wojciechowski", "Elizabeth"), ("Medina", "Andrea"), ("Beridze", "Nino"),
    ("Petrosyan", "Armen"), ("Nguyen", "Thi Lan"), ("O'Connor", "Siobhan"), ("Müller", "Jürgen"),
])
def test_other_names_are_compared_as_written(family: str, given: str) -> None:
    assert not russian_looking(family, given, None)


def test_an_ending_that_means_nothing_in_the_name_gives_no_sex() -> None:
    # -ski reads as a Russian -ский (male) and -a as female: for these names neither is evidence
    for family, given in (("Wojciechowski", "Elizabeth"), ("Medina", "Andrea"), ("Kowalska", "Jan")):
        std = standardize_person(person(family, given))
        assert std["sex_source"] != "family_name", (family, given, std["sex_std"])


def test_russian_names_in_latin_still_give_their_sex_and_meet_their_cyrillic_form() -> None:
    latin = standardize_person(person("Kuznetsova", "Zhenya"))
    cyrillic = standardize_person(person("Кузнецова", "Евгения"))
    assert latin["sex_std"] == "female"
    assert latin["sex_source"] == "family_name"  # Женя is both sexes: the ending decides, as in Cyrillic
    assert latin["family_stem"] == cyrillic["family_stem"]


def test_a_recorded_sex_is_always_kept() -> None:
    std = standardize_person(person("Medina", "Andrea", sex="male"))
    assert (std["sex_std"], std["sex_source"]) == ("male", "record")

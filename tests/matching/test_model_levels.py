"""Where the newest shipped model puts a pair: names with one part missing, addresses of any country.

Levels, not weights: the weights are the model's (trained), the levels are the mechanism.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from matching.address import address_parts
from matching.features import person_features
from schemas import Person
from schemas.base import Provenance
from schemas.person import Address
from tests.matching.levels import level_of


def _row(rid: str, **fields: Any) -> dict[str, Any]:
    person = Person.model_validate({
        "provenance": Provenance(source_system="agency", source_record_id=rid, mapping_version="t"),
        "birth_date": "1990-04-05", **fields})
    return person_features(f"agency|{rid}", "agency", person)


@pytest.mark.parametrize(("left", "right", "level"), [
    ({"family_name": "Smith", "given_name": "Grace"}, {"family_name": "Smith"},
     "one name missing, the other exact"),
    ({"family_name": "Smith", "given_name": "Grace"}, {"given_name": "Grace"},
     "one name missing, the other exact"),
    ({"family_name": "Wojciechowska", "given_name": "Nino"}, {"family_name": "Wojciechowsky"},
     "one name missing, the other close"),
    ({"family_name": "Smith"}, {"given_name": "Grace"}, "null"),  # nothing to compare
    ({"family_name": "Smith", "given_name": "Grace"}, {"family_name": "Jones"}, "All other comparisons"),
    ({"family_name": "Smith", "given_name": "Grace"}, {"family_name": "Smith", "given_name": "Grace"},
     "both exact"),
])
def test_a_missing_name_leaves_the_other_name_as_evidence(
    left: dict[str, Any], right: dict[str, Any], level: str
) -> None:
    assert level_of(_row("1", **left), _row("2", **right), "name") == level


@pytest.mark.parametrize(("left", "right", "level"), [
    ({"given_name": "Дима"}, {"given_name": "Дмитрий"}, "family exact, given a diminutive of it"),
    ({"given_name": "Вадим"}, {"given_name": "Дима"}, "family exact, given a diminutive of it"),
    ({"given_name": "Дмитрий"}, {"given_name": "Вадим"}, "family exact, given differs (a sibling?)"),
    ({"given_name": "Саша", "sex": "male"}, {"given_name": "Александр"}, "both exact"),  # resolved by sex
    ({"given_name": "Kathryn", "family_name": "Smyth"}, {"given_name": "Catherine", "family_name": "Smith"},
     "both sound alike (Metaphone)"),
])
def test_a_diminutive_of_several_names_and_other_spellings_have_levels_of_their_own(
    left: dict[str, Any], right: dict[str, Any], level: str
) -> None:
    base = {"family_name": "Петров"}
    assert level_of(_row("1", **{**base, **left}), _row("2", **{**base, **right}), "name") == level


@pytest.mark.parametrize(("code", "stored"), [
    ("173000", "173000"), ("sw1a 1aa", "SW1A 1AA"), ("75008", "75008"), ("1010-123", "1010-123"),
    ("00-950", "00-950"), ("  M5V   2T6 ", "M5V 2T6"),
])
def test_a_postcode_of_any_country_is_kept(code: str, stored: str) -> None:
    assert Address(postal_code=code, locality="X").postal_code == stored


@pytest.mark.parametrize("code", ["12#45", "1", "ABC", "-123", "ABCDEFGHIJK1", "12345678901"])
def test_a_value_of_no_postcode_shape_is_refused_without_echoing_it(code: str) -> None:
    with pytest.raises(ValidationError, match="expected a postcode") as info:
        Address(postal_code=code, locality="X")
    [error] = info.value.errors()
    assert code not in error["msg"]


def test_one_line_address_without_russian_type_words_gives_street_and_locality() -> None:
    parts = address_parts(Address(text="12 High Street, Leeds", postal_code="LS1 4AP"))
    assert (parts.postal_code, parts.locality, parts.street) == ("LS14AP", "LEEDS", "12 HIGH STREET")
    russian = address_parts(Address(text="173000, г. Великий Новгород, ул. Ленина, д. 5"))
    assert (russian.postal_code, russian.locality, russian.street, russian.house) == (
        "173000", "ВЕЛИКИЙ НОВГОРОД", "ЛЕНИНА", "5")
    assert address_parts(Address(text="Leeds")).locality is None  # one part tells neither


@pytest.mark.parametrize(("left", "right", "level"), [
    ({"text": "12 High Street, Leeds", "postal_code": "LS1 4AP"},
     {"street": "12 High Street", "locality": "Leeds", "postal_code": "LS14AP"}, "same street"),
    ({"street": "12 High Street", "locality": "Leeds"}, {"street": "12 High Street", "locality": "Leeds"},
     "same street"),  # no postcode on either side
    ({"street": "12 High Street", "postal_code": "LS1 4AP"},
     {"street": "9 Mill Road", "postal_code": "LS1 4AP"}, "same postcode"),
    ({"locality": "Leeds", "street": "Mill Road"}, {"locality": "Leeds", "street": "Park Avenue"},
     "same locality"),
])
def test_addresses_compare_without_russian_postcodes(
    left: dict[str, Any], right: dict[str, Any], level: str
) -> None:
    a = _row("1", family_name="Smith", given_name="Grace", addresses=[left])
    b = _row("2", family_name="Smith", given_name="Grace", addresses=[right])
    assert level_of(a, b, "address") == level

"""Identifier normalisation and validation, with property tests for SNILS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.identifiers import (
    format_snils,
    normalize_birth_certificate,
    normalize_local,
    normalize_oms_policy,
    normalize_passport_rf,
    normalize_snils,
    snils_check_digits,
)

VALID_SNILS = ["112-233-445 95", "056-860-671 92", "877-594-608 92"]

checked_bodies = st.integers(min_value=1_001_999, max_value=999_999_999).map(lambda n: f"{n:09d}")


@pytest.mark.parametrize("raw", VALID_SNILS)
def test_issue_examples_are_valid_in_both_spellings(raw: str) -> None:
    compact = raw.replace("-", "").replace(" ", "")
    assert normalize_snils(raw) == compact
    assert normalize_snils(compact) == compact
    assert format_snils(compact) == raw


def test_checksum_rule_by_hand() -> None:
    # 1·9 + 1·8 + 2·7 + 2·6 + 3·5 + 3·4 + 4·3 + 4·2 + 5·1 = 95
    assert snils_check_digits("112233445") == "95"


@pytest.mark.parametrize("raw", ["112-233-445 96", "11223344594", "056-860-671 00"])
def test_wrong_checksum_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="checksum"):
        normalize_snils(raw)


@pytest.mark.parametrize("raw", ["1122334459", "112233445951", "112-233-44a 95", "", "   "])
def test_wrong_shape_is_rejected_without_echoing(raw: str) -> None:
    with pytest.raises(ValueError, match="snils: expected") as exc:
        normalize_snils(raw)
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) >= 4:
        assert digits not in str(exc.value)


def test_numbers_up_to_001_001_998_skip_the_checksum() -> None:
    assert normalize_snils("001-001-998 00") == "00100199800"
    assert normalize_snils("000-000-001 77") == "00000000177"
    with pytest.raises(ValueError, match="checksum"):
        normalize_snils("001-001-999 00")


@given(checked_bodies)
def test_every_body_with_its_check_digits_is_valid(body: str) -> None:
    snils = body + snils_check_digits(body)
    assert normalize_snils(snils) == snils
    assert normalize_snils(format_snils(snils)) == snils


@given(checked_bodies, st.integers(min_value=0, max_value=99))
def test_any_other_check_digits_are_rejected(body: str, check: int) -> None:
    candidate = f"{body}{check:02d}"
    if f"{check:02d}" == snils_check_digits(body):
        assert normalize_snils(candidate) == candidate
    else:
        with pytest.raises(ValueError, match="checksum") as exc:
            normalize_snils(candidate)
        assert candidate not in str(exc.value)
        assert body not in str(exc.value)


@given(st.text(alphabet="0123456789- ", min_size=0, max_size=30))
def test_errors_never_contain_the_digits_sent(raw: str) -> None:
    digits = "".join(c for c in raw if c.isdigit())
    try:
        normalize_snils(raw)
        message = ""
    except ValueError as exc:
        message = str(exc).replace("-", "").replace(" ", "")
    if len(digits) >= 3 and set(digits) != {"9"}:  # shapes write digits as 9
        assert digits not in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("4415 564123", "4415 564123"), ("4415564123", "4415 564123"), ("44 15 564123", "4415 564123"),
     ("4415 № 564123", "4415 564123")],
)
def test_passport(raw: str, expected: str) -> None:
    assert normalize_passport_rf(raw) == expected


@pytest.mark.parametrize("raw", ["441 564123", "4415 5641234", "44AB 564123"])
def test_bad_passport(raw: str) -> None:
    with pytest.raises(ValueError, match="passport_rf"):
        normalize_passport_rf(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IV-АГ 123456", "IV-АГ 123456"),
        ("iv-аг 123456", "IV-АГ 123456"),
        ("IV АГ №123456", "IV-АГ 123456"),
        ("XII-ЖЮ 000001", "XII-ЖЮ 000001"),
        ("ІV-АГ 123456", "IV-АГ 123456"),  # Cyrillic І typed for Latin I
        ("IV-AB 123456", "IV-АВ 123456"),  # Latin look-alikes typed for Cyrillic letters
    ],
)
def test_birth_certificate(raw: str, expected: str) -> None:
    assert normalize_birth_certificate(raw) == expected


@pytest.mark.parametrize(
    "raw", ["IIII-АГ 123456", "IV-АГ 12345", "IV-A1 123456", "4-АГ 123456", "IV-АГД 123456"]
)
def test_bad_birth_certificate(raw: str) -> None:
    with pytest.raises(ValueError, match="birth_certificate"):
        normalize_birth_certificate(raw)


def test_oms_policy() -> None:
    assert normalize_oms_policy("1234 5678 9012 3456") == "1234567890123456"
    with pytest.raises(ValueError, match="16 digits"):
        normalize_oms_policy("123456789012345")


def test_local_identifier() -> None:
    assert normalize_local("  STU-0042 ") == "STU-0042"
    with pytest.raises(ValueError, match="1–200 characters"):
        normalize_local("   ")

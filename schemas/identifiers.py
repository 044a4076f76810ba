"""Identifiers the agencies exchange: normalisation and validation.

Each ``normalize_*`` function takes what an agency sent and returns the canonical form, or raises
``ValueError`` whose message names what is wrong and the *shape* of the input, never the number itself.

========================  ==========================  =====================================================
kind                      canonical form              accepted input
========================  ==========================  =====================================================
SNILS                     ``11223344595``             ``112-233-445 95``, ``11223344595``, spaces/hyphens
RF passport               ``4415 564123``             ``4415564123``, ``44 15 564123``, ``4415 № 564123``
birth certificate         ``IV-АГ 123456``            ``iv-аг 123456``, ``IV АГ №123456``, Latin look-alikes
OMS policy (unified)      ``1234567890123456``        16 digits, spaces/hyphens
local (agency system)     as sent, trimmed            any non-empty string, with its issuing ``system``
========================  ==========================  =====================================================
"""

from __future__ import annotations

import re

from schemas.privacy import shape

_SEPARATORS = re.compile(r"[\s\-–—№]+")

# SNILS numbers up to 001-001-998 were issued before the checksum existed.
_SNILS_CHECKSUM_FROM = 1_001_998

# Cyrillic and Latin letters that look alike: agencies type one for the other.
_CYR_TO_ROMAN = str.maketrans({"І": "I", "Х": "X", "С": "C", "Ӏ": "I", "М": "M"})
_LAT_TO_CYR = str.maketrans(
    {"A": "А", "B": "В", "E": "Е", "K": "К", "M": "М", "H": "Н", "O": "О", "P": "Р", "C": "С",
     "T": "Т", "X": "Х", "Y": "У"}
)
_ROMAN = re.compile(r"^(?=[IVXLCM]+$)M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_BIRTH_CERT = re.compile(r"^([IVXLCMІХСӀМ]+)[\s\-–—]*([А-ЯЁ]{2})[\s№N#]*(\d{6})$")


def _digits_only(raw: str, field: str) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{field}: expected a string, got {type(raw).__name__}")
    compact = _SEPARATORS.sub("", raw.strip())
    if not compact.isdigit() or not compact.isascii():
        raise ValueError(f"{field}: expected digits (spaces and hyphens allowed), got shape {shape(raw)!r}")
    return compact


def snils_check_digits(first_nine: str) -> str:
    """The two check digits of a SNILS from its first nine digits."""
    total = sum(int(d) * (9 - i) for i, d in enumerate(first_nine))
    return f"{(total % 101) % 100:02d}"


def normalize_snils(raw: str) -> str:
    """Return the 11-digit SNILS, verifying the checksum for numbers above 001-001-998."""
    digits = _digits_only(raw, "snils")
    if len(digits) != 11:
        raise ValueError(f"snils: expected 11 digits, got {len(digits)} (shape {shape(raw)!r})")
    body, check = digits[:9], digits[9:]
    if int(body) > _SNILS_CHECKSUM_FROM and snils_check_digits(body) != check:
        raise ValueError("snils: checksum does not match the first nine digits")
    return digits


def format_snils(snils: str) -> str:
    """``11223344595`` → ``112-233-445 95`` (display form)."""
    return f"{snils[0:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:11]}"


def normalize_passport_rf(raw: str) -> str:
    """Return ``SSSS NNNNNN`` (series of 4 digits, number of 6)."""
    digits = _digits_only(raw, "passport_rf")
    if len(digits) != 10:
        raise ValueError(
            f"passport_rf: expected 4-digit series and 6-digit number (10 digits), got {len(digits)} "
            f"(shape {shape(raw)!r})"
        )
    return f"{digits[:4]} {digits[4:]}"


def normalize_birth_certificate(raw: str) -> str:
    """Return ``ROMAN-ЯЯ NNNNNN``: Roman-numeral series, two Cyrillic letters, six digits."""
    if not isinstance(raw, str):
        raise ValueError(f"birth_certificate: expected a string, got {type(raw).__name__}")
    text = raw.strip().upper()
    match = _BIRTH_CERT.match(text) or _BIRTH_CERT.match(_latin_letters_to_cyrillic(text))
    if not match:
        raise ValueError(
            "birth_certificate: expected Roman-numeral series, 2 Cyrillic letters and 6 digits "
            f"(like 'IV-АГ 123456'), got shape {shape(raw)!r}"
        )
    roman = match.group(1).translate(_CYR_TO_ROMAN)
    if not _ROMAN.match(roman):
        raise ValueError(f"birth_certificate: series is not a Roman numeral, shape {shape(match.group(1))!r}")
    return f"{roman}-{match.group(2)} {match.group(3)}"


def _latin_letters_to_cyrillic(text: str) -> str:
    """Translate Latin look-alikes in the letter part only (after the Roman numeral and separator)."""
    head = re.match(r"^([IVXLCM]+[\s\-–—]*)(.*)$", text)
    if not head:
        return text
    return head.group(1) + head.group(2).translate(_LAT_TO_CYR)


def normalize_oms_policy(raw: str) -> str:
    """Return the 16-digit unified OMS policy number."""
    digits = _digits_only(raw, "oms_policy")
    if len(digits) != 16:
        raise ValueError(f"oms_policy: expected 16 digits, got {len(digits)} (shape {shape(raw)!r})")
    return digits


def normalize_local(raw: str) -> str:
    """An agency-local identifier: trimmed, non-empty, at most 200 characters."""
    if not isinstance(raw, str):
        raise ValueError(f"local: expected a string, got {type(raw).__name__}")
    value = raw.strip()
    if not value or len(value) > 200:
        raise ValueError(f"local: expected 1–200 characters, got {len(value)}")
    return value

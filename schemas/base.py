"""Base of every canonical model: strict, PII-safe errors, provenance on every record."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from schemas.privacy import shape

_SYSTEM_CODE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ \-'’.][^\W\d_]*)*$")
_EARLIEST = dt.date(1900, 1, 1)
TEXT_LIMIT = 2000
"""The longest string any canonical field holds (a field may set a lower limit): longer is an attack or a
corruption, and would be stored per record version."""
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "contains a NUL character or an unpaired surrogate (never genuine text)"

# UTF-8 Cyrillic read as windows-1251 turns every letter into two characters: 'Р' (byte D0) or 'С' (D1)
# followed by what windows-1251 makes of the UTF-8 continuation byte: А–п are D0 90–BF, Ё is D0 81, р–я are
# D1 80–8F, ё is D1 91 ("Сидоров" → "РЎРёРґРѕСЂРѕРІ").
_AFTER_D0 = bytes([0x81, *range(0x90, 0xC0)]).decode("cp1251", "ignore")
_AFTER_D1 = bytes([*range(0x80, 0x90), 0x91]).decode("cp1251", "ignore")
_MOJIBAKE_PAIR = re.compile(f"Р[{re.escape(_AFTER_D0)}]|С[{re.escape(_AFTER_D1)}]")
_MOJIBAKE_CHARS = re.compile(f"[\u0400-\u04ff{re.escape(_AFTER_D0 + _AFTER_D1)}]")
MOJIBAKE_MESSAGE = "text looks like mis-decoded Cyrillic (mojibake)"


class CanonicalModel(BaseModel):
    """Common configuration: unknown fields rejected; inputs never echoed in validation errors."""

    model_config = ConfigDict(
        extra="forbid",
        hide_input_in_errors=True,
        str_strip_whitespace=True,
        validate_assignment=True,
    )

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        """Every string field: PostgreSQL can store it (no NUL, valid UTF-8), and it is not huge.

        Runs after the fields' own rules, so a field's specific message ("at most 100 characters") wins;
        nested models check themselves. Exact ``str`` only: code enums are checked by their own type.
        """
        for name, value in self.__dict__.items():
            kind = type(value)
            if kind is str:
                if len(value) > TEXT_LIMIT or _UNSTORABLE.search(value):
                    _refuse(name, value)
            elif kind is list:
                for item in value:
                    if type(item) is str and (len(item) > TEXT_LIMIT or _UNSTORABLE.search(item)):
                        _refuse(name, item)
        return self


def _refuse(name: str, text: str) -> None:
    if len(text) > TEXT_LIMIT:
        raise ValueError(f"{name}: must be at most {TEXT_LIMIT} characters, got {len(text)}")
    raise ValueError(f"{name}: {UNSTORABLE_MESSAGE}")


def hostile_message(message: str) -> bool:
    """Whether a validation message says the value is hostile or broken text (NUL, lone surrogate, huge,
    mojibake): such a record is quarantined with its bytes, never kept with the value cut away."""
    return (UNSTORABLE_MESSAGE in message or MOJIBAKE_MESSAGE in message
            or f"at most {TEXT_LIMIT} characters" in message)


def has_unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL (PostgreSQL text and jsonb refuse it) or a lone surrogate (no UTF-8)."""
    return _UNSTORABLE.search(text) is not None


def looks_like_mojibake(text: str) -> bool:
    """Whether ``text`` looks like UTF-8 Cyrillic decoded as windows-1251.

    Mojibake is made of pairs only; a genuine name may hold one such pair (Ukrainian "Рій", "Рівне"), never
    several that make up most of its Cyrillic: at least two pairs covering half of it.
    """
    pairs = len(_MOJIBAKE_PAIR.findall(text))
    covered = 2 * pairs
    return pairs >= 2 and 2 * covered >= len(_MOJIBAKE_CHARS.findall(text))


def not_mojibake(value: str) -> str:
    """``value``, unless it looks like Cyrillic mojibake (then ``ValueError``, naming no value)."""
    if looks_like_mojibake(value):
        raise ValueError(MOJIBAKE_MESSAGE)
    return value


def _system_code(value: str) -> str:
    if not _SYSTEM_CODE.match(value):
        raise ValueError(f"expected a lower-case code like 'social_protection', got shape {shape(value)!r}")
    return value


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 200:
        raise ValueError(f"must be at most 200 characters, got {len(value)}")
    return value


def _person_name(value: str) -> str:
    collapsed = " ".join(value.split())
    if not collapsed:
        raise ValueError("must not be empty")
    if len(collapsed) > 100:
        raise ValueError(f"must be at most 100 characters, got {len(collapsed)}")
    not_mojibake(collapsed)  # before the character rule: its letters-only variant passes that
    if not _NAME_CHARS.match(collapsed):
        raise ValueError(
            f"must be letters with spaces, hyphens or apostrophes, got shape {shape(collapsed)!r}"
        )
    return collapsed


def _past_date(value: dt.date) -> dt.date:
    if value < _EARLIEST or value > dt.date.today():
        raise ValueError(f"must be between {_EARLIEST.isoformat()} and today")
    return value


SystemCode = Annotated[str, AfterValidator(_system_code)]
"""Code of a source system (``social_protection``, ``health_fhir``, …)."""

SourceRef = Annotated[str, AfterValidator(_non_empty)]
"""Id of a record inside its source system; references between records of one source use it."""

PersonName = Annotated[str, AfterValidator(_person_name)]
"""A name part as the agency wrote it (Cyrillic or Latin left as found), whitespace collapsed."""

PastDate = Annotated[dt.date, AfterValidator(_past_date)]
"""A date between 1900-01-01 and today (birth dates, establishment dates)."""


class Provenance(CanonicalModel):
    """Where a canonical record came from: enough for an auditor to find the source record again."""

    source_system: SystemCode
    source_record_id: SourceRef
    mapping_version: Annotated[str, AfterValidator(_non_empty)] = Field(
        description="Version of the mapping (or of the hand-written producer) that made this record."
    )
    mapping_name: str | None = None
    raw_pointer: str | None = Field(
        default=None, description="XPath or JSON pointer of the record inside its raw payload."
    )


def check_period(start: dt.date | None, end: dt.date | None, start_name: str, end_name: str) -> None:
    """Raise ``ValueError`` when a period ends before it starts."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"{end_name} is before {start_name}")

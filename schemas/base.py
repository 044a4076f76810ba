"""Base of every canonical model: strict, PII-safe errors, provenance on every record."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.privacy import shape

_SYSTEM_CODE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ \-'’.][^\W\d_]*)*$")
_EARLIEST = dt.date(1900, 1, 1)


class CanonicalModel(BaseModel):
    """Common configuration: unknown fields rejected; inputs never echoed in validation errors."""

    model_config = ConfigDict(
        extra="forbid",
        hide_input_in_errors=True,
        str_strip_whitespace=True,
        validate_assignment=True,
    )


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

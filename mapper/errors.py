"""Exceptions of the mapper package.

Hierarchy::

    MapperError
    ├── MappingSpecError       the mapping file itself is wrong (names the file, line and key)
    └── RecordMappingError     one source record could not be mapped (becomes a quarantine reason)
        ├── FieldMappingError  a field's path or transform failed (names the field, never the value)
        │   └── UnknownCodeError   a value is not in the rule's code table
        ├── PathEvaluationError a path cannot be evaluated on the record's value (also a ValueError)
        └── RecordInvalidError the mapped record fails the canonical model (invalid identifier, …)
"""

from __future__ import annotations

from schemas.errors import HubError


class MapperError(HubError):
    """Base of every error raised by the mapper package."""


class MappingSpecError(MapperError):
    """A mapping file does not load or validate; ``problems`` lists ``file:line: key: message`` strings."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid mapping ({len(problems)} problem(s))\n  " + "\n  ".join(problems))


class RecordMappingError(MapperError):
    """One source record could not be turned into canonical records."""

    reason_code = "mapping_error"


class FieldMappingError(RecordMappingError):
    """A field rule failed: ``field`` is the canonical field path, the message describes the value's shape."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class PathEvaluationError(RecordMappingError, ValueError):
    """A path cannot be evaluated on this record's value (a JSON function given another type): a field
    rule reading it drops the value (it is a ``ValueError``); a ``select``, ``foreach`` or ``within`` path
    costs its record (it is a ``RecordMappingError``)."""


class UnknownCodeError(FieldMappingError):
    """A value is not in the rule's code table (its ``on_unknown`` policy applies)."""


class RecordInvalidError(RecordMappingError):
    """The mapped record breaks the canonical model; ``errors`` are PII-free dicts (field, error, type)."""

    def __init__(self, kind: str, errors: list[dict[str, str]]) -> None:
        self.kind = kind
        self.errors = errors
        self.warnings: list[str] = []  # values dropped from the record before the model refused it
        identifier_fields = [e for e in errors if e["field"].startswith("identifiers")]
        self.reason_code = "invalid_identifier" if identifier_fields else "validation_error"
        detail = "; ".join(f"{e['field']}: {e['error']}" for e in errors[:5])
        super().__init__(f"{kind}: {detail}")

"""Validate JSON documents against the canonical model; export JSON Schemas.

Errors are plain dicts ``{"field": "identifiers.0.value", "error": "...", "type": "..."}``; they never
contain the input value (pydantic's input echo is switched off and our validators describe shapes only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas import RECORD_MODELS, CanonicalModel


@dataclass
class ValidationReport:
    """What ``validate_document`` found: the record when valid, else the errors."""

    kind: str
    record: CanonicalModel | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.record is not None and not self.errors


def error_list(exc: ValidationError) -> list[dict[str, str]]:
    """Flatten a pydantic ``ValidationError`` into PII-free dicts."""
    out = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        msg = err["msg"].removeprefix("Value error, ")
        out.append({"field": loc, "error": msg, "type": err["type"]})
    return out


def validate_document(kind: str, data: Any) -> ValidationReport:
    """Validate ``data`` (parsed JSON) as a canonical record of ``kind``."""
    model = RECORD_MODELS.get(kind)
    if model is None:
        raise KeyError(f"unknown record kind {kind!r}; known: {', '.join(RECORD_MODELS)}")
    if isinstance(data, dict) and "record_kind" not in data:
        data = {**data, "record_kind": kind}
    try:
        return ValidationReport(kind, record=model.model_validate(data))
    except ValidationError as exc:
        return ValidationReport(kind, errors=error_list(exc))


def validate_file(kind: str, path: Path) -> ValidationReport:
    """Read a JSON file and validate it; unreadable JSON is reported as an error, not raised."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return ValidationReport(
            kind, errors=[{"field": "(file)", "error": f"not readable JSON{where}", "type": "json"}]
        )
    return validate_document(kind, data)


def export_json_schemas(out_dir: Path) -> list[Path]:
    """Write ``<kind>.schema.json`` for every canonical record kind; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, model in RECORD_MODELS.items():
        schema = model.model_json_schema()
        schema["$id"] = f"urn:family-hub:canonical:{kind}"
        path = out_dir / f"{kind}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
        written.append(path)
    return written

"""``hub validate``: check a JSON document against the canonical model."""

from __future__ import annotations

from pathlib import Path

import click

from hub.output import emit, fail, json_option
from schemas import RECORD_MODELS


@click.command()
@click.argument("kind", type=click.Choice(list(RECORD_MODELS)))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def validate(kind: str, file: Path, as_json: bool) -> None:
    """Validate FILE.json as a canonical KIND record: exit 0 when valid, 1 with the errors when not.

    Errors name the field and what is wrong; they never repeat the personal value.
    """
    from schemas.validation import validate_file

    report = validate_file(kind, file)
    result = {"kind": kind, "file": str(file), "valid": report.ok, "errors": report.errors}
    emit(result, as_json, _text)
    if not report.ok:
        fail(f"{file.name}: not a valid {kind} ({len(report.errors)} error(s))")


def _text(result: dict[str, object]) -> str:
    if result["valid"]:
        return f"{result['file']}: valid {result['kind']}"
    errors = result["errors"]
    assert isinstance(errors, list)
    lines = [f"{result['file']}: invalid {result['kind']} ({len(errors)} error(s))"]
    lines += [f"  {e['field']}: {e['error']}" for e in errors]
    return "\n".join(lines)

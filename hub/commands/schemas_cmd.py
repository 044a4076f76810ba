"""``hub schemas``: the canonical model as JSON Schema, for agency IT people writing mappings."""

from __future__ import annotations

from pathlib import Path

import click

from hub.output import emit, json_option


@click.group()
def schemas() -> None:
    """The canonical model."""


@schemas.command("export")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@json_option
def export(out_dir: Path, as_json: bool) -> None:
    """Write the JSON Schema of every canonical record kind into OUT."""
    from schemas.validation import export_json_schemas

    paths = [str(p) for p in export_json_schemas(out_dir)]
    emit({"written": paths}, as_json, lambda d: "\n".join(d["written"]))

"""``hub source new NAME --sample FILE``: a draft mapping and sources entry from a sample, run once."""

from __future__ import annotations

from pathlib import Path

import click

from hub.commands.mapping_cmd import existing_file
from hub.output import emit, fail, json_option


@click.group()
def source() -> None:
    """Onboard an agency source."""


@source.command("new")
@click.argument("name")
@click.option("--sample", type=existing_file, required=True, help="A payload as the agency sends it.")
@click.option("--kind", type=click.Choice(["xml", "json", "jsonl", "csv"]), help="Default: from the file.")
@click.option("--encoding", default="utf-8", show_default=True, help="CSV: the file's encoding.")
@click.option("--delimiter", help="CSV: the delimiter (default: sniffed).")
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the mapping (default "
              "mappings/NAME.yaml).")
@click.option("--force", is_flag=True, help="Overwrite an existing mapping file.")
@json_option
def new(name: str, sample: Path, kind: str | None, encoding: str, delimiter: str | None, out: Path | None,
        force: bool, as_json: bool) -> None:
    """Write a draft mapping for NAME from --sample (each guess commented), then map the sample with it."""
    import re

    from mapper import MappingSpecError, load_mapping
    from mapper.draft import detect_kind, draft, render
    from mapper.sample import run_sample
    from registry.db import PROJECT_ROOT

    if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", name):
        fail(f"source name {name!r} must be lower case letters, digits and _ (2-64 characters)")
    path = out or PROJECT_ROOT / "mappings" / f"{name}.yaml"
    if path.exists() and not force:
        fail(f"{path} exists; choose --out or --force")
    data = sample.read_bytes()
    kind = kind or detect_kind(sample.name, data)
    try:
        result = draft(data, kind, encoding, delimiter)
    except (ValueError, UnicodeDecodeError) as exc:  # the reason's class and position, never the bytes
        fail(f"{sample.name}: cannot draft a mapping from it ({type(exc).__name__}"
             + (f" at byte {exc.start}; try --encoding" if isinstance(exc, UnicodeDecodeError) else "") + ")")
    path.write_text(render(result, name), "utf-8")
    try:
        mapped = run_sample(load_mapping(path), sample, None, False)
    except MappingSpecError as exc:
        fail(f"the draft {path} does not load ({len(exc.problems)} problem(s)); see hub mapping check")
    report = {
        "mapping": str(path), "records_found": result.records_seen, "select": result.select,
        "guesses": [{"field": g.canonical, "path": g.path, "why": g.why} for g in result.guesses],
        "unmapped": result.unmapped, "counts": mapped["counts"], "quarantine": mapped["quarantine"][:5],
        "first_record": mapped["records"][0] if mapped["records"] else None,
        "sources_entry": _entry(name, path, kind),
    }
    emit(report, as_json, _text)


def _entry(name: str, path: Path, kind: str) -> str:
    pattern = {"xml": "*.xml", "json": "*.json", "jsonl": "*.jsonl", "csv": "*.csv"}[kind]
    lines = [f"  {name}:", f"    agency: {name}", '    agency_name: "…"', '    name: "…"',
             "    connector: file_drop", f"    connection_id: {name}_drop", f"    mapping: {path}",
             f'    options: {{patterns: ["{pattern}"]}}']
    return "\n".join(lines) + "\n"


def _text(r: dict[str, object]) -> str:
    import json

    guesses = r["guesses"] if isinstance(r["guesses"], list) else []
    lines = [f"wrote {r['mapping']}: {r['records_found']} records of {r['select']!s} in the sample"]
    lines += [f"  {g['field']:<12} <- {g['path']}  ({g['why']})" for g in guesses]
    lines.append(f"  not mapped: {', '.join(r['unmapped']) if r['unmapped'] else 'nothing'}")  # type: ignore[arg-type]
    counts = r["counts"] if isinstance(r["counts"], dict) else {}
    lines.append("mapped the sample: " + (", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
                                          or "nothing"))
    if r["first_record"]:
        lines.append("first canonical record: " + json.dumps(r["first_record"], ensure_ascii=False)[:600])
    lines.append("add to config/sources.yaml (sources:), and a connection AIRFLOW_CONN_<ID> for its folder:")
    lines.append(str(r["sources_entry"]))
    return "\n".join(lines)

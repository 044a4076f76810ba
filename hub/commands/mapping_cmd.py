"""``hub mapping``: check a mapping file, run it on a sample — the agency IT person's tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hub.output import emit, fail, json_option

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def mapping() -> None:
    """Declarative per-source mappings (mappings/*.yaml)."""


@mapping.command()
@click.argument("file", type=existing_file)
@json_option
def check(file: Path, as_json: bool) -> None:
    """Validate the mapping FILE itself: exit 1 listing each problem as file:line: key: message."""
    from mapper import MappingSpecError, load_mapping

    try:
        loaded = load_mapping(file)
    except MappingSpecError as exc:
        emit({"file": str(file), "valid": False, "problems": exc.problems}, as_json,
             lambda d: "\n".join(d["problems"]))
        fail(f"{file.name}: invalid mapping ({len(exc.problems)} problem(s))")
    result: dict[str, Any] = {"file": str(file), "valid": True, "mapping": loaded.name,
                              "version": loaded.version, "source": loaded.source,
                              "records": [r.name for r in loaded.records]}
    result["checked_against"] = _check_xsd(file, loaded, as_json)
    emit(result, as_json, lambda d: f"{d['file']}: valid mapping {d['mapping']} {d['version']}"
         + (f" (paths checked against {', '.join(d['checked_against'])})" if d["checked_against"] else ""))


def _check_xsd(file: Path, loaded: Any, as_json: bool) -> list[str]:
    """The XSDs the mapping's paths were checked against; exit 1 naming each path that fits none."""
    from connectors.config import source_for_mapping
    from mapper.loader import locate
    from mapper.xsd_paths import check_against_xsd

    source = source_for_mapping(loaded.source)
    if loaded.format != "xml" or source is None or not source.xsd:
        return []
    problems = check_against_xsd(loaded.spec, source.xsd_paths())
    if problems:
        lines = locate(file, problems)
        emit({"file": str(file), "valid": False, "problems": lines}, as_json,
             lambda d: "\n".join(d["problems"]))
        if problems[0][0] == ():  # the XSDs themselves could not be read: no path was judged
            fail(f"{file.name}: the XSDs of source {source.code!r} cannot be read; no path was checked")
        fail(f"{file.name}: {len(lines)} path(s) do not fit the XSDs of source {source.code!r}")
    return sorted(source.xsd)


@mapping.command()
@click.argument("file", type=existing_file)
@click.option("--sample", type=existing_file, required=True, help="A payload as the agency sends it.")
@json_option
def run(file: Path, sample: Path, as_json: bool) -> None:
    """Print the canonical records (and quarantine reasons) FILE makes of a sample, without the registry."""
    from connectors.config import source_for_mapping
    from mapper import MappingSpecError, load_mapping
    from mapper.sample import run_sample, schema_lookup

    try:
        loaded = load_mapping(file)
    except MappingSpecError as exc:
        click.echo("\n".join(exc.problems))
        fail(f"{file.name}: invalid mapping ({len(exc.problems)} problem(s)); see hub mapping check")
    source = source_for_mapping(loaded.source)
    schema_for = schema_lookup(source.xsd_paths()) if source and source.xsd else None
    strict = source.validation == "strict" if source else True
    result = run_sample(loaded, sample, schema_for, strict)
    # Say where the XSD and validation mode came from: a mapping of an unconfigured source runs unchecked.
    if source and source.xsd:
        xsds = ", ".join(sorted(source.xsd))
        result["validated_by"] = f"XSD of {xsds} from source {source.code!r} ({source.validation})"
    else:
        why = "configured without one" if source else "not in config/sources.yaml (or HUB_SOURCES)"
        result["validated_by"] = f"no XSD: source {loaded.source!r} is {why}"
    emit(result, as_json, _text)


@mapping.command()
def schema() -> None:
    """Print the JSON Schema of the mapping language (for editors: YAML language server, IDEs)."""
    import json

    from mapper.spec import MappingSpec

    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           **MappingSpec.model_json_schema(by_alias=True), "title": "family-hub mapping"}
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


def _text(result: dict[str, Any]) -> str:
    import json

    lines = [json.dumps(r, ensure_ascii=False) for r in result["records"]]
    lines += [f"deleted {d['kind']} {d['source_record_id']}" for d in result["deletions"]]
    lines += [f"QUARANTINE {q['pointer']}: {q['reason_code']}: {q['reason']}" for q in result["quarantine"]]
    lines += [f"WARNING {w['pointer']}: {w['warning']}" for w in result.get("warnings", [])]
    lines += [f"NOTE {n}" for n in result.get("notes", [])]
    lines.append(f"# validation: {result['validated_by']}")
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(result["counts"].items())) or "nothing"
    lines.append(f"# {result['mapping']} {result['version']}: {counts}")
    return "\n".join(lines)

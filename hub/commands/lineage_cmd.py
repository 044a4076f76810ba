"""``hub lineage …``, ``hub report lineage`` and ``hub audit verify`` — the auditors' commands.

Every lineage query, raw-bytes view and report is appended to the audit log (who, what, which id — never
a value or the bytes) in the transaction that answered it; a query that fails is logged as such.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.commands import lineage_text
from hub.output import emit, fail, json_option

T = TypeVar("T")
as_of_option = click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="The registry as it was then (YYYY-MM-DD = end of that day, or an ISO timestamp).",
)


def audited(
    action: str, kind: str, object_id: str, query: Callable[[Any], T], details: Callable[[T], dict[str, Any]]
) -> T:
    """Run ``query(conn)`` and append the audit entry in the same transaction; log a failure too."""
    from registry import audit
    from registry.db import connect
    from registry.history import LineageError

    try:
        with connect() as conn:
            result = query(conn)
            audit.append(conn, action, kind, object_id, details(result))
            return result
    except LineageError as exc:
        with connect() as conn:
            audit.append(conn, action, kind, object_id, {"outcome": "error"})
        raise click.ClickException(str(exc)) from exc


@click.group()
def lineage() -> None:
    """Record-level lineage: from a registry value back to the raw bytes, and forward (audited)."""


@lineage.command()
@click.argument("registry_id")
@as_of_option
@click.option("--verify-raw", is_flag=True, help="Re-hash each raw payload and resolve each pointer in it.")
@json_option
def person(registry_id: str, as_of: str | None, verify_raw: bool, as_json: bool) -> None:
    """A person's golden values with full traces, linked source records and history."""
    from registry.lineage_views import person_view

    view = audited(
        "lineage.person",
        "person",
        registry_id,
        lambda c: person_view(c, registry_id, as_of, verify_raw),
        lambda v: {"as_of": as_of, "resolved": v["registry_id"], "values": len(v["values"])},
    )
    emit(view, as_json, lineage_text.person_text)


@lineage.command()
@click.argument("family_id")
@as_of_option
@json_option
def family(family_id: str, as_of: str | None, as_json: bool) -> None:
    """A family's members and roles, categories, cases, services and source households (by source).

    A person id (P…) stands for that person's current family.
    """
    from registry.lineage_family import family_view
    from registry.lineage_views import family_of_person

    def query(conn: Any) -> dict[str, Any]:
        fid = family_of_person(conn, family_id) if family_id.upper().startswith("P") else family_id
        return family_view(conn, fid, as_of)

    view = audited(
        "lineage.family",
        "family",
        family_id,
        query,
        lambda v: {"as_of": as_of, "resolved": v["family_id"], "members": len(v["members"])},
    )
    emit(view, as_json, lineage_text.family_text)


@lineage.command()
@click.argument("registry_id")
@click.argument("field")
@json_option
def value(registry_id: str, field: str, as_json: bool) -> None:
    """One attribute's trace, every candidate survivorship saw, and the conflict if any."""
    from registry.lineage_views import value_view

    view = audited(
        "lineage.value",
        "person",
        registry_id,
        lambda c: value_view(c, registry_id, field),
        lambda v: {"attribute": field, "resolved": v["registry_id"], "candidates": len(v["candidates"])},
    )
    emit(view, as_json, lineage_text.value_text)


@lineage.command()
@click.argument("system")
@click.argument("source_id")
@json_option
def source(system: str, source_id: str, as_json: bool) -> None:
    """Forward: where a source record went (staged versions, registry entity, attributes, care rows)."""
    from registry.lineage_forward import source_view

    view = audited(
        "lineage.source",
        "source_record",
        f"{system}:{source_id}",
        lambda c: source_view(c, system, source_id),
        lambda v: {"versions": len(v["staged_versions"]), "links": len(v["links"])},
    )
    emit(view, as_json, lineage_text.source_text)


@lineage.command()
@click.argument("run_id", type=int)
@click.option("--limit", type=int, default=20, show_default=True, help="Sample ids listed per table.")
@json_option
def run(run_id: int, limit: int, as_json: bool) -> None:
    """What a run changed: staged records, quarantine, links, golden attributes, events, outbox."""
    from registry.lineage_forward import run_view

    view = audited(
        "lineage.run",
        "run",
        str(run_id),
        lambda c: run_view(c, run_id, limit),
        lambda v: {"kind": v["run"]["kind"]},
    )
    emit(view, as_json, lineage_text.run_text)


@lineage.command()
@click.argument("sha256")
@click.option("--source", help="The source system, when several sent the same bytes.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the bytes here.")
def raw(sha256: str, source: str | None, out: Path | None) -> None:
    """The raw bytes an agency sent (to stdout or --out FILE); audited with who and which sha256."""
    from registry.history import LineageError
    from registry.lineage_forward import raw_bytes, raw_payloads

    def fetch(conn: Any) -> dict[str, Any]:
        found = raw_payloads(conn, sha256, source)
        if len({(f["source"]) for f in found}) > 1:
            raise LineageError(
                f"several sources sent these bytes ({', '.join(sorted(f['source'] for f in found))});"
                " choose one with --source"
            )
        digest, size = _write(raw_bytes(conn, found[0]), out)
        return {**found[0], "verified": digest == sha256.lower(), "written": size}

    result = audited(
        "lineage.raw",
        "raw_payload",
        sha256.lower(),
        fetch,
        lambda r: {
            "source": r["source"],
            "table": r["table"],
            "id": r["id"],
            "bytes": r["written"],
            "to": str(out) if out else "stdout",
            "verified": r["verified"],
        },
    )
    if not result["verified"]:
        raise click.ClickException("the stored bytes do not hash to the sha256 asked for")
    if out is not None:
        click.echo(
            f"wrote {result['written']} bytes from {result['table']} {result['id']} ({result['source']}) "
            f"to {out}",
            err=True,
        )


def _write(chunks: Any, out: Path | None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    stream = out.open("wb") if out is not None else sys.stdout.buffer
    try:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            stream.write(chunk)
        stream.flush()
    finally:
        if out is not None:
            stream.close()
    return digest.hexdigest(), size


@click.group()
def report() -> None:
    """Readable reports for people."""


@report.command("lineage")
@click.argument("entity_id", metavar="ID")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.html")
@json_option
def report_lineage(entity_id: str, out: Path, as_json: bool) -> None:
    """A self-contained HTML page of a family's lineage (a person id means their current family)."""
    from registry.lineage_report import build

    def make(conn: Any) -> dict[str, Any]:
        page, summary = build(conn, entity_id)
        out.write_text(page, "utf-8")
        return {**summary, "out": str(out)}

    kind = "person" if entity_id.upper().startswith("P") else "family"
    summary = audited(
        "report.lineage",
        kind,
        entity_id,
        make,
        lambda s: {"family_id": s["family_id"], "members": s["members"], "out": s["out"]},
    )
    emit(
        summary,
        as_json,
        lambda s: (
            f"wrote {s['out']}: family {s['family_id']}, {s['members']} members, {s['values']} traced values"
        ),
    )


@click.group()
def audit() -> None:
    """The append-only audit log: chained by the database, signed by the hub, checkpointed outside both."""


@audit.command()
@json_option
def verify(as_json: bool) -> None:
    """Check every row (chain, hash, signature, content) and every checkpoint; exit 1 naming each problem."""
    from registry import audit as audit_log
    from registry.db import connect

    with connect() as conn:
        result = audit_log.verify(conn)
    emit(result, as_json, _verify_text)
    if not result["ok"]:
        fail(f"audit log BROKEN at row {result['first_broken']}: {result['problem']} "
             f"({result['problem_count']} problem(s) in {result['rows']} rows)")


def _verify_text(r: dict[str, Any]) -> str:
    if r["ok"]:
        legacy = f", {r['legacy_rows']} from before signatures" if r["legacy_rows"] else ""
        return (f"audit log ok: {r['rows']} rows{legacy}, chain intact, every row signed, "
                f"{r['checkpoints']} checkpoint(s) hold")
    return "\n".join(f"row {p['audit_id'] if p['audit_id'] is not None else '-'}: {p['problem']}"
                     for p in r["problems"])


@audit.command()
@json_option
def checkpoint(as_json: bool) -> None:
    """Write the chain head as a signed checkpoint outside the database (HUB_AUDIT_CHECKPOINTS)."""
    from registry import audit as audit_log
    from registry.audit_keys import checkpoints_path
    from registry.db import connect

    with connect() as conn:
        written = audit_log.checkpoint(conn)
    emit({"checkpoint": written, "file": str(checkpoints_path())}, as_json,
         lambda d: f"checkpoint of row {d['checkpoint']['audit_id']} written to {d['file']}"
         if d["checkpoint"] else "the audit log is empty: nothing to checkpoint")

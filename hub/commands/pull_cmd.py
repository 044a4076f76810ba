"""``hub pull`` and ``hub quarantine``: bring agency data into staging; look at what was refused."""

from __future__ import annotations

from typing import Any

import click

from hub.output import emit, fail, json_option


@click.command()
@click.argument("source", required=False)
@click.option("--all", "pull_all", is_flag=True, help="Pull every configured source, in sorted order.")
@json_option
def pull(source: str | None, pull_all: bool, as_json: bool) -> None:
    """Pull SOURCE (or --all) into staging: raw payloads, canonical records, quarantine, watermarks."""
    from connectors.config import load_sources
    from connectors.errors import ConnectorError, QualityGateError
    from connectors.pipeline import pull as run_pull

    sources = list(load_sources()) if pull_all else [source] if source else []
    if not sources:
        raise click.UsageError("name a SOURCE or use --all")
    results: list[dict[str, Any]] = []
    from hub.progress import status_line

    for code in sources:
        try:
            with status_line(f"pulling {code}") as say:
                stats = run_pull(code, progress=lambda s: say(
                    f"{s.payloads} payloads, {s.records} records, {s.quarantined} quarantined"))
            results.append(stats.as_dict())
        except QualityGateError as exc:
            results.append({"source": code, "error": str(exc), "quality_gate": True})
        except ConnectorError as exc:
            results.append({"source": code, "error": str(exc), "error_class": type(exc).__name__})
    failed = [r for r in results if "error" in r]
    if pull_all or as_json or not failed:
        emit(results if pull_all else results[0], as_json, _pull_text)
    if failed:
        fail(f"{failed[0]['source']}: {failed[0]['error']}" if len(failed) == 1
             else f"{len(failed)} of {len(results)} sources failed: {', '.join(r['source'] for r in failed)}")


def _pull_text(data: Any) -> str:
    rows = data if isinstance(data, list) else [data]
    lines = []
    for r in rows:
        if "error" in r:
            lines.append(f"{r['source']:<18} FAILED: {r['error']}")
            continue
        lines.append(
            f"{r['source']:<18} run {r['run_id']}: {r['payloads']} payloads "
            f"({r['payloads_skipped']} already done), {r['records']} records: {r['new']} new, "
            f"{r['updated']} updated, {r['unchanged']} unchanged, {r['deleted']} deleted, "
            f"{r['quarantined']} quarantined; {r['retries']} retries; {r['seconds']}s"
        )
    return "\n".join(lines)


@click.group()
def quarantine() -> None:
    """Records that could not be staged, with their reasons and raw bytes."""


@quarantine.command("list")
@click.option("--source", help="Only this source.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--warnings", "warnings_", is_flag=True,
              help="Instead: staged records kept with a warning (a value dropped or kept as sent).")
@json_option
def list_(source: str | None, limit: int, warnings_: bool, as_json: bool) -> None:
    """The most recent quarantined records (reasons only; no personal values)."""
    from registry.quarantine import list_quarantine, list_warnings

    if warnings_:
        kept = list_warnings(source, limit)
        emit(kept, as_json, lambda rs: "\n".join(
            [f"{'staged':>8}  {'source':<18} {'kind':<11} warning"]
            + [f"{r['staged_id']:>8}  {r['source_code']:<18} {r['record_kind']:<11} {w[:100]}"
               for r in rs for w in r["warnings"]]) if rs else "no staged record has warnings")
        return
    rows = list_quarantine(source, limit)
    emit(
        rows,
        as_json,
        lambda rs: (
            "\n".join(
                [f"{'row':>7}  {'source':<18} {'reason code':<18} reason"]
                + [f"{r['quarantine_id']:>7}  {r['source_code']:<18} {r['reason_code']:<18} "
                   f"{r['reason'][:90]}" for r in rs]
            )
            if rs else "quarantine is empty"
        ),
    )


@quarantine.command("show")
@click.argument("quarantine_id", type=int)
@click.option("--raw", is_flag=True, help="Also print the raw bytes (personal data: an audited action).")
@json_option
def show(quarantine_id: int, raw: bool, as_json: bool) -> None:
    """One quarantined record: source, run, position, reason; with --raw its bytes."""
    from registry.quarantine import show_quarantine

    row = show_quarantine(quarantine_id, raw)
    if row is None:
        raise click.ClickException(f"no quarantine row {quarantine_id}")
    emit(row, as_json, lambda r: "\n".join(f"{k:<14} {v}" for k, v in r.items()))

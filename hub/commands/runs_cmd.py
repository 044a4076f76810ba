"""``hub runs list|show|replay``: the registry's record of every run; replaying a pull from stored bytes."""

from __future__ import annotations

from typing import Any

import click

from hub.output import emit, json_option
from registry.run_history import RUN_KINDS


@click.group()
def runs() -> None:
    """Pull, reconcile, push, maintenance and replay runs: status, Airflow ids, counts; replay a pull."""


@runs.command("list")
@click.option("--kind", type=click.Choice(RUN_KINDS), help="Only runs of this kind.")
@click.option("--source", help="Only runs of this source.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def list_(kind: str | None, source: str | None, limit: int, as_json: bool) -> None:
    """The newest runs first, one line each."""
    from registry.db import connect
    from registry.run_history import list_runs

    with connect() as conn:
        rows = list_runs(conn, kind, source, limit)
    header = f"{'run':>7}  {'kind':<11} {'source':<18} {'status':<10} {'started':<19}  counts  airflow"
    emit(rows, as_json, lambda rs: "\n".join([header, *(_line(r) for r in rs)]) if rs else "no runs")


def _line(r: dict[str, Any]) -> str:
    airflow = f"{r['dag_id']}/{r['task_id']} try {r['try_number']}" if r["dag_id"] else "(no Airflow)"
    started = r["started_at"].strftime("%Y-%m-%d %H:%M:%S") if r["started_at"] else ""
    error = f"  error: {r['error'][:80]}" if r["error"] else ""
    return (f"{r['run_id']:>7}  {r['kind']:<11} {r['source_code'] or '-':<18} {r['status']:<10} {started}  "
            f"{_counts(r['stats'])}  {airflow}{error}")


_SHOWN = ("records", "new", "updated", "deleted", "quarantined", "replay_of",  # pull, replay
          "entries_changed", "queued", "delivered", "failed", "dead")  # push


def _counts(stats: dict[str, Any]) -> str:
    shown = [f"{k} {stats[k]}" for k in _SHOWN if k in stats]
    persons = stats.get("persons")
    if isinstance(persons, dict):  # a reconcile
        shown.append(f"person records {persons.get('records')} ({persons.get('new_persons')} new persons)")
    return ", ".join(shown) or "-"


@runs.command()
@click.argument("run_id", type=int)
@click.option("--log-lines", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many last lines of the Airflow task log to show (0: none).")
@json_option
def show(run_id: int, log_lines: int, as_json: bool) -> None:
    """One run: status, Airflow ids, stats, error, payloads, rows staged and quarantined, its task log."""
    from hub.task_log import task_log
    from registry.db import connect
    from registry.run_history import show_run

    with connect() as conn:
        run = show_run(conn, run_id)
    if run is None:
        raise click.ClickException(f"no run {run_id}")
    run["task_log"] = task_log(run["airflow"], log_lines) if log_lines else None
    emit(run, as_json, _show_text)


def _show_text(r: dict[str, Any]) -> str:
    a = r["airflow"]
    lines = [
        f"run {r['run_id']}  {r['kind']}  {r['source_code'] or '-'}  {r['status']}",
        f"started   {r['started_at']}   finished {r['finished_at']}",
        f"airflow   dag {a['dag_id']}  run {a['airflow_run_id']}  task {a['task_id']}  try {a['try_number']}"
        if a["dag_id"] else "airflow   (run outside Airflow)",
        f"stats     {_counts(r['stats'])}",
    ]
    if r["error"]:
        lines.append(f"error     {r['error']}")
    lines.append(f"payloads  {len(r['payloads'])}")
    lines += [f"  #{p['payload_id']:<7} {p['sha256'][:16]}… {p['size_bytes']:>10} B  {p['content_type']:<20} "
              f"records {p['record_count']}  {'' if p['first_stored_by_this_run'] else '(stored earlier) '}"
              f"{p['position']}" for p in r["payloads"]]
    staged = ", ".join(f"{k} {v['rows']} ({v['current']} current)" for k, v in r["staged"].items())
    lines.append(f"staged    {staged or 'none'}")
    quarantined = ", ".join(f"{k} {n}" for k, n in r["quarantined"].items())
    lines.append(f"quarant.  {quarantined or 'none'}")
    if r["reconciled_records"]:
        lines.append(f"reconciled records {r['reconciled_records']}")
    if r["replays"]:
        lines.append(f"replayed by runs {', '.join(map(str, r['replays']))}")
    log = r.get("task_log")
    if log and log["found"]:
        lines.append(f"task log  {log['path']} (last {len(log['lines'])} lines)")
        lines += [f"  {line}" for line in log["lines"]]
    elif log:
        lines.append("task log  none in Airflow's log folder (a dag.test() run logs to its runner's output)")
    return "\n".join(lines)


@runs.command()
@click.argument("run_id", type=int)
@json_option
def replay(run_id: int, as_json: bool) -> None:
    """Re-process pull run RUN_ID from its stored raw payloads with the current mapping (no agency call)."""
    from connectors.replay import replay as run_replay

    emit(run_replay(run_id), as_json, _replay_text)


def _replay_text(s: dict[str, Any]) -> str:
    return (
        f"replay run {s['run_id']} of pull run {s['replay_of']} ({s['source']}, mapping {s['mapping']} "
        f"{s['mapping_version']}): {s['payloads']} payloads, {s['records']} records: {s['new']} new, "
        f"{s['updated']} updated, {s['unchanged']} unchanged, {s['deleted']} deleted, {s['quarantined']} "
        f"quarantined, {s['kept_newer']} kept (newer payload); {s['seconds']}s"
    )

"""``make demo``: two nights of interagency sync of the sandbox agencies, through Airflow.

1. the registry (embedded PostgreSQL in ``.hub/pgdata``, reset for a clean demo) and a sandbox of 2,000
   families in ``.hub/sandbox``; the agencies' HTTP/SOAP systems start on 127.0.0.1 (with 2% faults);
2. Airflow metadata in ``.hub/airflow``; agency credentials go to the DAG runs as Airflow Connections
   (``AIRFLOW_CONN_…`` environment variables), never into DAG files;
3. night 1: ``registry_maintenance``, one pull DAG per agency, ``reconcile``, ``push`` — each a real
   ``dag.test()`` run; then the sandbox advances one night and night 2 runs under Airflow's own scheduler,
   DAG processor and triggerer (LocalExecutor): pulls by their crons, reconcile and push by their assets,
   each task's log where the UI's Logs tab and ``hub runs show`` read it;
4. a summary: per source and night what was pulled, quarantined, new, updated; the registry's totals;
   accuracy against the sandbox truth; one lineage trace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hub.airflow_env import DAGS_FOLDER, airflow_bin, airflow_env, airflow_home, run_logged
from registry.db import (
    EMBEDDED_DATABASE,
    connect,
    database_url,
    drop_database,
    hub_home,
    redact,
)
from schemas.settings import settings

FAMILIES = 2000
SEED = 2026
FAULTS = 0.02
Say = Callable[[str], None]


def _dag_specs(first_night: bool) -> list[str]:
    from connectors.config import load_sources

    pulls = [f"{DAGS_FOLDER / 'hub_pull.py'}:pull_{code}" for code in sorted(load_sources())]
    maintenance = [str(DAGS_FOLDER / "registry_maintenance.py")] if first_night else []
    return [*maintenance, *pulls, str(DAGS_FOLDER / "hub_reconcile.py"), str(DAGS_FOLDER / "hub_push.py")]


def run_demo(say: Say = click.echo) -> dict[str, Any]:
    """Run the demo; return its summary. Raises ``click.ClickException`` when a step fails."""
    started = time.monotonic()
    url = _fresh_registry(say)
    sandbox = _fresh_sandbox(say)
    logs = hub_home() / "logs"
    nights: list[tuple[str, str]] = []
    failed_dags: list[str] = []
    with _agency_servers(sandbox, say) as connections:
        env = airflow_env(url, extra=connections)
        _fresh_airflow_metadata()
        _step(say, "airflow metadata", [airflow_bin(), "db", "migrate"], env, logs / "airflow-db-migrate.log")
        for night in (1, 2):
            if night == 2:
                _advance(sandbox, say)
            nights.append((f"night {night}", _db_now(url)))
            failed_dags += _night_step(say, night, env, logs / f"night-{night}.log")
    summary = _summary(url, sandbox, nights)
    summary["workspace_users"] = _workspace_users(url)
    summary["failed_dag_runs"] = failed_dags
    summary["seconds"] = round(time.monotonic() - started, 1)
    say(_report(summary))
    return summary


def _workspace_users(url: str) -> dict[str, str]:
    """One demo user per workspace role, each with a fresh random password (kept in .hub/, owner-only)."""
    import os
    import secrets

    from registry.web_users import save_user
    from web.auth import hash_password

    users = {role: secrets.token_urlsafe(9) for role in ("steward", "auditor", "manager", "operator")}
    with connect(url) as conn:
        for role, password in users.items():
            save_user(conn, role, role, None, hash_password(password))
    path = hub_home() / "web-demo-users.json"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(users, out, indent=2)
    return users


def _fresh_registry(say: Say) -> str:
    url = database_url()
    if not settings().database_url:
        # Only the embedded registry is the demo's own to reset; a configured database is used as it is.
        drop_database(url, EMBEDDED_DATABASE)
        url = database_url()
    say(f"registry          {redact(url)}")
    return url


def _fresh_airflow_metadata() -> None:
    """A clean demo starts Airflow afresh too: its runs, task logs and asset events are the demo's own (an
    earlier demo's scheduled runs would make tonight's cron ticks look done)."""
    home = airflow_home()
    (home / "airflow.db").unlink(missing_ok=True)
    shutil.rmtree(home / "logs", ignore_errors=True)


def _fresh_sandbox(say: Say) -> Path:
    from sandbox.generate import generate

    out = hub_home() / "sandbox"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.monotonic()
    generate(out, FAMILIES, SEED)
    say(f"sandbox           {FAMILIES} families generated in {time.monotonic() - t0:.1f}s ({out})")
    return out


@contextmanager
def _agency_servers(sandbox: Path, say: Say) -> Iterator[dict[str, str]]:
    from sandbox.connections import hub_connections

    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--data", str(sandbox), "--faults", str(FAULTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ports = json.loads(proc.stdout.readline())
        say(f"agency systems    127.0.0.1 ports {ports} (faults {FAULTS:.0%})")
        yield hub_connections(sandbox, ports)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _advance(sandbox: Path, say: Say) -> None:
    from sandbox.generate import advance

    t0 = time.monotonic()
    result = advance(sandbox)
    say(f"sandbox           advanced to night {result['night']} in {time.monotonic() - t0:.1f}s")


def _db_now(url: str) -> str:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT now()::text")
        row = cur.fetchone()
    return str(row[0]) if row else ""


def _step(say: Say, label: str, args: list[str], env: dict[str, str], log: Path) -> None:
    t0 = time.monotonic()
    code = run_logged(args, env, log)
    if code != 0:
        raise click.ClickException(f"{label} failed (exit {code}); see {log}")
    say(f"{label:<17} ok in {time.monotonic() - t0:.1f}s (log: {log})")


def _night_step(say: Say, night: int, env: dict[str, str], log: Path) -> list[str]:
    """Run one night's DAGs; return the DAG runs that did not succeed (the night goes on past them).

    Night 1 runs each DAG with ``dag.test()`` in one process (fast, in order). Night 2 runs as production
    does: Airflow's scheduler, DAG processor and triggerer start the pulls by their crons and reconcile and
    push by their assets, on LocalExecutor, each task's log in Airflow's log folder (``hub.scheduled``).
    """
    t0 = time.monotonic()
    if night == 1:
        args = [sys.executable, "-m", "hub.airflow_runner", *_dag_specs(True)]
    else:
        args = [sys.executable, "-m", "hub.scheduled", "night", "--work", str(hub_home() / "airflow-parts")]
    code = run_logged(args, env, log)
    lines = log.read_text("utf-8", errors="replace").splitlines() if log.exists() else []
    if code not in (0, 1) or not any(line.startswith("HUB_DAG_RUN_STATE=") for line in lines):
        raise click.ClickException(f"night {night} DAGs did not run (exit {code}); see {log}")
    runs = [dict(kv.split("=", 1) for kv in line.split()[1:])
            for line in lines if line.startswith("HUB_DAG_RUN ")]
    failed = [f"night {night}: {r.get('dag_id')} {r.get('state')}"
              for r in runs if r.get("state") != "success"]
    state = "ok" if not failed else f"{len(failed)} DAG run(s) did not succeed"
    how = "dag.test()" if night == 1 else _run_types(runs)
    say(f"{'night ' + str(night) + ' DAGs':<17} {state} in {time.monotonic() - t0:.1f}s, {how} (log: {log})")
    return failed


def _run_types(runs: list[dict[str, str]]) -> str:
    """``by the scheduler: 5 scheduled, 2 asset_triggered``."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.get("run_type", "?")] = counts.get(run.get("run_type", "?"), 0) + 1
    return "by the scheduler: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def _summary(url: str, sandbox: Path, nights: list[tuple[str, str]]) -> dict[str, Any]:
    from matching.evaluate import evaluate
    from registry import audit, disclosures
    from registry.lineage import trace_values
    from registry.maintenance import last_maintenance_run
    from registry.report import (
        pulls_by_night,
        registry_totals,
        roles_by_dag,
        runs_not_succeeded,
        well_traced_person,
    )

    maintenance = last_maintenance_run(url)
    with connect(url) as conn:
        person = well_traced_person(conn)
        trace = trace_values(conn, person, "family_name") if person else []
        summary = {
            "maintenance": maintenance,
            "pulls": pulls_by_night(conn, nights),
            "registry": registry_totals(conn),
            "lineage_example": {"registry_id": person, "trace": trace},
            "disclosures": disclosures.counts(conn),
            "runs_not_succeeded": runs_not_succeeded(conn),
            "roles_by_dag": roles_by_dag(conn),
            "audit": {k: v for k, v in audit.verify(conn).items() if k != "problems"},
            "kpi": _kpi(conn),
        }
    summary["accuracy"] = evaluate(sandbox, url)
    return summary


def _kpi(conn: Any) -> dict[str, Any]:
    from registry import kpi
    from web.kpi_view import default_period

    r = kpi.report(conn, *default_period())
    return {"from": r.date_from, "to": r.date_to, "closed_cases": r.closed_cases,
            "closed_positive": r.closed_positive, "positive_share": r.positive_share,
            "accompanied_families": r.accompanied_families}


def _report(s: dict[str, Any]) -> str:
    lines = [
        "",
        f"{'source':<18}{'night':<9}{'pulled':>8}{'quarant.':>10}{'new':>8}{'updated':>9}{'deleted':>9}"
        f"{'retries':>9}",
    ]
    for night, sources in s["pulls"].items():
        for source, c in sources.items():
            lines.append(
                f"{source:<18}{night:<9}{c['records']:>8}{c['quarantined']:>10}{c['new']:>8}"
                f"{c['updated']:>9}{c['deleted']:>9}{c['retries']:>9}"
            )
    r, m = s["registry"], s.get("maintenance") or {}
    applied = ", ".join(f"{x['version']:04d}_{x['name']}" for x in (m.get("stats") or {}).get("applied", []))
    lines += [
        "",
        f"registry migrated by Airflow DAG run {m.get('dag_id')} / {m.get('airflow_run_id')} "
        f"(task {m.get('task_id')}, try {m.get('try_number')}): applied {applied or 'nothing (up to date)'}",
        "registry: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r.items()),
    ]
    acc = s["accuracy"]
    lines.append(
        f"accuracy vs sandbox truth: persons precision {acc['persons']['precision']}, recall "
        f"{acc['persons']['recall']}; families precision {acc['families']['precision']}, recall "
        f"{acc['families']['recall']}"
    )
    lines += _trace_text(s["lineage_example"])
    lines += _trust_text(s)
    k = s["kpi"]
    share = "n/a" if k["positive_share"] is None else f"{k['positive_share']:.1%}"
    lines.append(
        f"programme KPI {k['from']}..{k['to']}: {k['accompanied_families']} families accompanied, "
        f"{k['closed_positive']} of {k['closed_cases']} closed cases for positive dynamics ({share}; "
        "target ≥ 30%)"
    )
    lines.append(
        f"\nDone in {s['seconds']}s. Explore with .venv/bin/hub (db status, review list, quarantine list, "
        f"lineage …); Airflow home {airflow_home()}: `make airflow` for the UI."
    )
    users = ", ".join(f"{role} / {password}" for role, password in s["workspace_users"].items())
    lines.append(
        "Workspace for stewards, auditors, managers, operators: run .venv/bin/hub web, then open "
        f"http://127.0.0.1:8765/ (also at http://127.0.0.1:8080/hub/ under `make airflow`). "
        f"Demo users (user / password, kept in {hub_home() / 'web-demo-users.json'}): {users}"
    )
    return "\n".join(lines)


def _trust_text(s: dict[str, Any]) -> list[str]:
    """Disclosures per agency and legal basis, the database role of each DAG, the audit log's state."""
    lines = ["", "disclosed (fields sent to agencies, by legal basis):"]
    for agency, by_basis in sorted(s["disclosures"].items()):
        lines.append(f"  {agency:<18}" + ", ".join(f"{basis} {n}" for basis, n in sorted(by_basis.items())))
    if not s["disclosures"]:
        lines.append("  nothing")
    lines.append("database role per DAG: " + "; ".join(
        f"{dag} {'/'.join(roles)}" for dag, roles in s["roles_by_dag"].items()))
    bad = s["runs_not_succeeded"]
    lines.append("runs that did not succeed: " + ("none" if not bad else "; ".join(
        f"run {r['run_id']} {r['kind']} {r['source'] or ''} {r['status']}: {r['error']}" for r in bad)))
    if s.get("failed_dag_runs"):
        lines.append("Airflow DAG runs that did not succeed: " + "; ".join(s["failed_dag_runs"]))
    a = s["audit"]
    state = "verified" if a["ok"] else f"NOT verified ({a['problem_count']} problem(s): {a['problem']})"
    lines.append(f"audit log: {a['rows']} rows, {a['checkpoints']} signed checkpoint(s), {state}")
    return lines


def _trace_text(example: dict[str, Any]) -> list[str]:
    if not example["trace"]:
        return []
    t = example["trace"][0]
    run, payload, rec = t["pull_run"], t["raw_payload"], t["source_record"]
    return [
        "",
        f"lineage of {example['registry_id']}.{t['attribute']} (value sha256 {t['value_sha256'][:12]}…):",
        f"  chosen by survivorship rule {t['survivorship_rule']} in run {t['chosen_in_run']}",
        f"  from {rec['source']} record {rec['source_record_id']} (staged #{rec['staged_id']}), "
        f"matched by {t['match']['decision']} ({t['match']['model_version'] or 'rule'})",
        f"  raw payload sha256 {payload['sha256'][:16]}… at "
        f"{json.dumps(payload['position'], ensure_ascii=False)}"
        f", inside {payload['pointer_inside']}",
        f"  mapped by {t['mapping']['name']} {t['mapping']['version']}; pulled by Airflow {run['dag_id']} / "
        f"{run['airflow_run_id']} / {run['task_id']} try {run['try_number']}",
    ]

"""A night under Airflow's own scheduler (``hub.scheduled``): the parts an operator runs, LocalExecutor.

Real processes on loopback: the sandbox agencies, a fresh registry, Airflow metadata in SQLite, then the
API server, DAG processor, scheduler and triggerer. The scheduler starts maintenance and the pulls by their
crons, reconcile and push by their assets; every task's log is a file in Airflow's log folder, which
``hub runs show`` prints; a run later than ``nightly.run_deadline_minutes`` sends one deadline alert from
the triggerer to a loopback SMTP sink; the DAGs are paused again afterwards.
"""

from __future__ import annotations

import email
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dags.smtp_sink import start as start_sink
from tests.sources import query

pytestmark = [pytest.mark.airflow]
ROOT = Path(__file__).resolve().parents[2]
DEADLINE_MINUTES = 0.05  # 3 s: every pull of the night takes longer, so each misses it


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Iterator[dict[str, Any]]:
    from hub.airflow_env import airflow_bin, airflow_env
    from registry import migrate
    from registry.db import connect, drop_database, ensure_database, with_database
    from sandbox.connections import hub_connections
    from sandbox.generate import generate
    from sandbox.server.app import serve

    work = tmp_path_factory.mktemp("scheduled")
    sink = start_sink()
    sources = yaml.safe_load((ROOT / "config" / "sources.yaml").read_text("utf-8"))
    sources["nightly"]["run_deadline_minutes"] = DEADLINE_MINUTES
    (work / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1}}
    alerts = {"HUB_ALERT_TO": "duty@region.example", "AIRFLOW_CONN_HUB_SMTP": json.dumps(smtp),
              "HUB_SOURCES": str(work / "sources.yaml")}
    name = f"hub_sched_{os.getpid()}"
    ensure_database(pg_server_url, name)
    url = with_database(pg_server_url, name)
    with connect(url) as conn:
        migrate.upgrade(conn)
    generate(work / "sandbox", 30, 2026, workers=1)
    running = serve(work / "sandbox")
    try:
        env = airflow_env(url, home=work / "airflow", extra={
            **hub_connections(work / "sandbox", running.ports), "HUB_HOME": str(work), **alerts})
        migrated = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True,
                                  timeout=300, check=False)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        done = subprocess.run([sys.executable, "-m", "hub.scheduled", "night", "--work", str(work / "parts"),
                               "--timeout", "900"], env=env, capture_output=True, text=True, timeout=1200,
                              check=False)
        runs = [dict(kv.split("=", 1) for kv in line.split()[1:])
                for line in done.stdout.splitlines() if line.startswith("HUB_DAG_RUN ")]
        yield {"done": done, "runs": runs, "url": url, "env": env, "work": work, "sink": sink}
    finally:
        running.stop()
        sink.stop()
        drop_database(pg_server_url, name)


def test_the_scheduler_runs_the_night_by_time_and_by_assets(night: dict[str, Any]) -> None:
    done = night["done"]
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    kinds = {r["dag_id"]: r["run_type"] for r in night["runs"]}
    pulls = ("pull_education", "pull_health", "pull_ngo", "pull_social_protection")
    assert kinds == {"registry_maintenance": "scheduled", **dict.fromkeys(pulls, "scheduled"),
                     "reconcile": "asset_triggered", "push": "asset_triggered"}
    assert len(night["runs"]) == len(kinds)  # one run each: no early reconcile, no second push
    assert all(r["state"] == "success" for r in night["runs"])


def test_every_hub_run_has_its_task_log_and_runs_show_prints_it(night: dict[str, Any]) -> None:
    runs = query(night["url"], "SELECT run_id, kind FROM run WHERE dag_id IS NOT NULL ORDER BY run_id")
    assert {kind for _, kind in runs} >= {"pull", "reconcile", "push"}
    pull = next(run_id for run_id, kind in runs if kind == "pull")
    shown = subprocess.run([sys.executable, "-m", "hub", "runs", "show", str(pull), "--json"],
                           env=night["env"], capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    log = json.loads(shown.stdout)["task_log"]
    assert log["found"], log
    assert Path(log["path"]).is_relative_to(night["work"] / "airflow" / "logs")
    assert any("pull" in line for line in log["lines"]), log["lines"]
    text = subprocess.run([sys.executable, "-m", "hub", "runs", "show", str(pull), "--log-lines", "5"],
                          env=night["env"], capture_output=True, text=True, timeout=120, check=False)
    assert "task log" in text.stdout
    assert text.stdout.count("\n  ") >= 5
    for run_id, _kind in runs:  # each hub run's task wrote its log where the UI reads it
        one = subprocess.run([sys.executable, "-m", "hub", "runs", "show", str(run_id), "--json"],
                             env=night["env"], capture_output=True, text=True, timeout=120, check=False)
        assert json.loads(one.stdout)["task_log"]["found"], run_id


def test_the_dags_are_paused_again_after_the_night(night: dict[str, Any]) -> None:
    with sqlite3.connect(night["work"] / "airflow" / "airflow.db") as db:
        paused = dict(db.execute("SELECT dag_id, is_paused FROM dag").fetchall())
    assert paused
    assert all(paused.values()), paused


def test_runs_late_for_their_deadline_send_one_alert_each_without_personal_values(
    night: dict[str, Any]
) -> None:
    late = [email.message_from_bytes(m.data) for m in night["sink"].messages]
    deadline = [m for m in late if "missed its deadline" in str(m["Subject"])]
    assert deadline, [str(m["Subject"]) for m in late]
    dags = {str(m["Subject"]).split("]", 1)[1].split(":", 1)[0].strip() for m in deadline}
    assert dags <= {r["dag_id"] for r in night["runs"]}
    assert len(deadline) == len(dags)  # one alert per late run
    for message in deadline:
        body = "".join(part.get_payload(decode=True).decode("utf-8", "replace")
                       for part in message.walk() if part.get_content_maintype() == "text")
        assert "holds no personal data" in body
        assert "run_deadline_minutes" in body


def test_the_ui_api_serves_the_task_logs(night: dict[str, Any]) -> None:
    """What the Logs tab shows: the REST API of an API server started on the night's metadata."""
    import requests

    from hub.airflow_env import airflow_bin
    from hub.airflow_stack import Stack, free_port

    port = free_port()
    stack = Stack(night["work"] / "ui", {**night["env"], "AIRFLOW__API__PORT": str(port)})
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/api/v2/version", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    stack.start("api-server", [airflow_bin(), "api-server", "--host", "127.0.0.1", "--port", str(port)])
    try:
        stack.wait("the API server", up, ["api-server"], timeout=180)
        passwords = night["work"] / "airflow" / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text("utf-8"))["admin"]
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password},
                              timeout=10).json()["access_token"]
        pull = next(r for r in night["runs"] if r["dag_id"] == "pull_ngo")
        answer = requests.get(
            f"{base}/api/v2/dags/pull_ngo/dagRuns/{pull['run_id']}/taskInstances/pull/logs/1",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=30)
        assert answer.status_code == 200, answer.text[:500]
        events = [e.get("event", "") for e in answer.json()["content"] if isinstance(e, dict)]
        # the hub task's own last line: the pull's counts (no personal values), as the file holds it
        done = [str(e) for e in events if "Returned value was" in str(e)]
        assert any("'source': 'ngo'" in e for e in done), events[-5:]
    finally:
        stack.stop()


@pytest.mark.parametrize(("states", "over"), [
    ({"pull_a": "success", "pull_b": "failed"}, True),         # a failed pull: reconcile cannot run tonight
    ({"pull_a": "success", "pull_b": "running"}, False),
    ({"pull_a": "success", "pull_b": "success", "reconcile": "success"}, False),  # push is still to come
    ({"pull_a": "success", "pull_b": "success", "reconcile": "failed"}, True),
    ({"pull_a": "success", "pull_b": "success", "reconcile": "success", "push": "failed"}, True),
])
def test_the_night_is_over_when_nothing_more_can_run(states: dict[str, str], over: bool) -> None:
    from hub.scheduled import finished

    runs = [{"dag_id": "registry_maintenance", "state": "success"},
            *({"dag_id": d, "state": s} for d, s in states.items())]
    assert finished(runs, ["registry_maintenance", "pull_a", "pull_b", "reconcile", "push"]) is over

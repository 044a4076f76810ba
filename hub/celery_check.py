"""``python -m hub.celery_check [check [--scheduler]]``: the hub's DAGs on CeleryExecutor with two workers.

The scale-out path (``docker/``) runs Airflow with CeleryExecutor; this check runs the same DAG files the
same way without containers, to show that nothing in them assumes one process:

* Airflow metadata in a fresh PostgreSQL database (CeleryExecutor needs a real database; SQLite is only
  for the sequential executor), Redis as the broker, the same PostgreSQL as Celery's result backend;
* the Execution API (``airflow api-server --apps execution``): in Airflow 3 a worker runs a task through it;
* two ``airflow celery worker --concurrency 1`` processes; each reports its own host name to Airflow
  (``core.hostname_callable`` = :func:`worker_hostname`), so ``task_instance.hostname`` tells who ran what;
* the sandbox agencies (in this process) and a fresh registry database.

Who drives the DAG runs:

* ``check --scheduler``: ``airflow scheduler`` and ``airflow dag-processor``, as in ``docker/``. The check
  triggers ``registry_maintenance`` and the four pulls; the scheduler starts ``reconcile`` when every
  staging asset has been updated and ``push`` when the registry asset has (crons moved out of the way:
  :func:`scheduler_settings`);
* ``check``: one process runs every DAG of the night with ``dag.test(use_executor=True)`` — Airflow queues
  each task to Celery instead of running it in place (the way ``hub demo`` runs DAGs, on workers).

Everything started is stopped at the end, the databases dropped and the Redis keys deleted. Prints a JSON
report: the DAG runs, each task instance with its state and the worker that ran it, the workers' log lines,
the registry's totals.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hub.airflow_env import DAGS_FOLDER, airflow_bin, airflow_env
from hub.airflow_stack import Stack, execution_api_up, free_port
from hub.scheduled import sources_without_ticks

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
WORKERS = ("hub-worker-a", "hub-worker-b")
WORKER_ENV = "HUB_CELERY_WORKER"


def worker_hostname() -> str:
    """``core.hostname_callable`` of the check's workers: the worker's name, then the machine's."""
    name = os.environ.get(WORKER_ENV)
    return f"{name}@{socket.getfqdn()}" if name else socket.getfqdn()


def redis_answers(url: str = DEFAULT_BROKER, timeout: float = 2.0) -> bool:
    """Whether a Redis server answers PING at ``url`` (``redis://host:port/db``)."""
    host, _, port = url.split("://", 1)[1].split("/", 1)[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def celery_env(base: dict[str, str], metadata_url: str, broker: str, api_port: int, prefix: str
               ) -> dict[str, str]:
    """``base`` (from :func:`hub.airflow_env.airflow_env`) switched to CeleryExecutor on PostgreSQL."""
    sqlalchemy_url = metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    return {
        **base,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url,
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sqlalchemy_url,  # SQLAlchemy's default driver is psycopg 3
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        # Keys of our own in Redis: no other user of this Redis takes our tasks, and we take none of theirs
        # (a task's queue cannot be used for that: Airflow 3.3's DAG serialisation resets it to "default").
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{prefix}:",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "7200",  # > a task's 30 min timeout
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # the runner signs each task's token, the Execution API checks it: one secret for both
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "hub.celery_check.worker_hostname",
        "AIRFLOW__CORE__PARALLELISM": "8",
    }


def start_airflow(stack: Stack, api_port: int) -> None:
    """Migrate the metadata, start the Execution API and the two workers; return once all are ready."""
    migrate = subprocess.run([airflow_bin(), "db", "migrate"], env=stack.env, capture_output=True,
                             check=False, text=True)
    if migrate.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-3000:]}")
    stack.start("api-server", [airflow_bin(), "api-server", "--apps", "execution", "--host", "127.0.0.1",
                               "--port", str(api_port), "--workers", "1"])
    for name in WORKERS:
        stack.start(name, [airflow_bin(), "celery", "worker", "--concurrency", "1", "--celery-hostname",
                           f"{name}@%h", "--skip-serve-logs", "--without-gossip", "--without-mingle"],
                    {WORKER_ENV: name})
    stack.wait("the Execution API", lambda: execution_api_up(api_port), ["api-server"])
    for name in WORKERS:
        stack.wait(f"celery worker {name}", _says_ready(stack.log(name)), [name])


def _says_ready(log: Path) -> Callable[[], bool]:
    return lambda: "ready." in log.read_text("utf-8", "replace")


def dag_specs() -> list[str]:
    """A whole night, as ``hub demo`` runs it: maintenance, a pull per source, reconcile, push."""
    from connectors.config import load_sources

    pulls = [f"{DAGS_FOLDER / 'hub_pull.py'}:pull_{code}" for code in sorted(load_sources())]
    return [str(DAGS_FOLDER / "registry_maintenance.py"), *pulls, str(DAGS_FOLDER / "hub_reconcile.py"),
            str(DAGS_FOLDER / "hub_push.py")]


def run_dags_with_executor(specs: list[str]) -> int:
    """``dag.test(use_executor=True)`` for each DAG (in the process that has the Celery environment)."""
    from hub.airflow_runner import load

    failed = 0
    for spec in specs:
        file, _, attr = spec.partition(":")
        dag = getattr(load(Path(file)), attr or "dag")
        started = time.monotonic()
        state = str(getattr(dag.test(use_executor=True), "state", "unknown"))
        print(f"HUB_DAG_RUN dag_id={dag.dag_id} state={state} seconds={time.monotonic() - started:.1f}",
              flush=True)
        failed += state != "success"
    print(f"HUB_DAG_RUN_STATE={'success' if not failed else 'failed'}", flush=True)
    return 0 if not failed else 1


def task_instances(metadata_url: str) -> list[dict[str, Any]]:
    """Every task instance in the metadata database: DAG, task, state, the host that ran it, queue."""
    from registry.db import connect

    # Airflow's metadata database is not the registry: its sessions stay the login's, not hub_app.
    with connect(metadata_url, owner=True) as conn, conn.cursor() as cur:
        cur.execute("""SELECT dag_id, task_id, state, hostname, queue, try_number, start_date, end_date
                       FROM task_instance ORDER BY start_date NULLS LAST, dag_id, task_id""")
        keys = ("dag_id", "task_id", "state", "hostname", "queue", "try_number", "start_date", "end_date")
        return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]


def worker_log_evidence(stack: Stack) -> dict[str, list[str]]:
    """Per worker, the log lines where Celery received and finished a task."""
    out: dict[str, list[str]] = {}
    for name in WORKERS:
        lines = stack.log(name).read_text("utf-8", "replace").splitlines()
        out[name] = [ln.strip()[:300] for ln in lines
                     if ("execute_workload" in ln and ("received" in ln or "succeeded" in ln))
                     or "Executing workload in Celery" in ln]
    return out


@contextlib.contextmanager
def _databases(server: str) -> Iterator[tuple[str, str]]:
    """A fresh Airflow metadata database and a fresh registry database, dropped afterwards."""
    from registry.db import drop_database, ensure_database, with_database

    tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
    names = (f"hub_celery_airflow_{tag}", f"hub_celery_registry_{tag}")
    for name in names:
        ensure_database(server, name)
    try:
        yield with_database(server, names[0]), with_database(server, names[1])
    finally:
        for name in names:
            drop_database(server, name)


def run_check(server: str = DEFAULT_SERVER, broker: str = DEFAULT_BROKER, families: int = 40,
              work: Path | None = None, scheduler: bool = False) -> dict[str, Any]:
    """Run one night of the hub's DAGs on CeleryExecutor; the report (raises if a step fails).

    ``scheduler=False``: ``dag.test(use_executor=True)`` drives the DAG runs. ``scheduler=True``: Airflow's
    scheduler and dag-processor do, as in ``docker/``: the check triggers ``registry_maintenance`` and the
    pulls; the scheduler starts ``reconcile`` when every staging asset is updated and ``push`` after it.
    """
    from sandbox.connections import hub_connections
    from sandbox.generate import generate
    from sandbox.server.app import serve

    work = work or Path(tempfile.mkdtemp(prefix="hub-celery-"))
    generate(work / "sandbox", families, 2026, workers=1)
    running = serve(work / "sandbox")
    try:
        with _databases(server) as (metadata_url, registry_url):
            extra = {**hub_connections(work / "sandbox", running.ports), "HUB_HOME": str(work)}
            if scheduler:
                extra |= scheduler_settings(work)
            return _night(work, extra, metadata_url, registry_url, broker, scheduler)
    finally:
        running.stop()


def scheduler_settings(work: Path) -> dict[str, str]:
    """The sources config with every cron moved out of the way, and DAGs unpaused at creation.

    Unpausing a DAG whose cron tick has passed makes the scheduler start that tick's run at once (no
    catch-up means "only the latest"); the check wants exactly the runs it triggers and those the assets
    trigger, so no cron ticks.
    """
    path = sources_without_ticks(work, "sources-triggered-only.yaml", pulls_too=True)
    return {"HUB_SOURCES": str(path), "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}


def _night(work: Path, extra: dict[str, str], metadata_url: str, registry_url: str, broker: str,
           scheduler: bool) -> dict[str, Any]:
    api_port, prefix = free_port(), f"hub_celery_{uuid.uuid4().hex[:8]}"
    base = airflow_env(registry_url, home=work / "airflow", extra=extra)
    stack = Stack(work, celery_env(base, metadata_url, broker, api_port, prefix))
    started = time.monotonic()
    try:
        start_airflow(stack, api_port)
        ready = time.monotonic() - started
        drive = _drive_with_scheduler if scheduler else _drive_with_dag_test
        dag_runs = drive(stack, metadata_url, registry_url)
        tis = task_instances(metadata_url)
        evidence = worker_log_evidence(stack)
        registry = _registry_totals(registry_url)
    finally:
        stack.stop()
        _forget_broker_keys(broker, prefix)
    report = _report(stack, dag_runs, tis, evidence, ready, time.monotonic() - started, prefix)
    return {**report, "driven_by": "scheduler" if scheduler else "dag.test(use_executor=True)",
            "registry": registry}


def _drive_with_dag_test(stack: Stack, metadata_url: str, registry_url: str) -> list[str]:
    """One runner process: ``dag.test(use_executor=True)`` for each DAG of the night, in order."""
    stack.start("runner", [sys.executable, "-m", "hub.celery_check", "run-dags", *dag_specs()])
    stack.wait("the DAG runs", lambda: stack.procs["runner"].poll() is not None, ["api-server", *WORKERS],
               timeout=900)
    runner_log = stack.log("runner").read_text("utf-8", "replace")
    return [ln for ln in runner_log.splitlines() if ln.startswith("HUB_DAG_RUN")]


def _drive_with_scheduler(stack: Stack, metadata_url: str, registry_url: str) -> list[str]:
    """Scheduler and dag-processor; trigger maintenance and the pulls, wait for the asset-driven rest."""
    from connectors.config import load_sources

    expected = ["registry_maintenance", *(f"pull_{c}" for c in sorted(load_sources())), "reconcile", "push"]
    stack.start("dag-processor", [airflow_bin(), "dag-processor"])
    stack.start("scheduler", [airflow_bin(), "scheduler"])
    processes = ["api-server", "dag-processor", "scheduler", *WORKERS]
    stack.wait("the DAGs to be parsed", lambda: set(expected) <= _parsed_dags(metadata_url), processes)
    _migrate_registry(registry_url)  # the pulls are triggered with maintenance, not after it
    stack.start("trigger", [sys.executable, "-m", "hub.celery_check", "trigger", *expected[:-2]])
    stack.wait("every DAG run of the night", lambda: _night_finished(metadata_url, expected), processes,
               timeout=900)
    return [f"HUB_DAG_RUN dag_id={d} run_type={t} state={s}" for d, t, s in _dag_runs(metadata_url)] + [
        "HUB_DAG_RUN_STATE=" + ("success" if all(s == "success" for *_, s in _dag_runs(metadata_url))
                                else "failed")]


def _parsed_dags(metadata_url: str) -> set[str]:
    from registry.db import connect

    with connect(metadata_url, owner=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('dag') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return set()
        cur.execute("SELECT dag_id FROM dag WHERE NOT is_stale")
        return {str(r[0]) for r in cur.fetchall()}


def _dag_runs(metadata_url: str) -> list[tuple[str, str, str]]:
    from registry.db import connect

    with connect(metadata_url, owner=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT dag_id, run_type, state FROM dag_run ORDER BY start_date NULLS LAST, dag_id")
        return [(str(d), str(t), str(s)) for d, t, s in cur.fetchall()]


def _night_finished(metadata_url: str, expected: list[str]) -> bool:
    runs = _dag_runs(metadata_url)
    done = {d for d, _, s in runs if s in ("success", "failed")}
    return set(expected) <= done and all(s in ("success", "failed") for *_, s in runs)


def _migrate_registry(url: str) -> None:
    from registry import migrate
    from registry.db import connect

    with connect(url) as conn:
        migrate.upgrade(conn)


def trigger(dag_ids: list[str]) -> int:
    """Trigger a manual run of each DAG (one process: Airflow's start-up once)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    for dag_id in dag_ids:
        run = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.CLI, triggering_user_name="celery_check")
        print(f"HUB_TRIGGERED dag_id={dag_id} run_id={getattr(run, 'run_id', None)}", flush=True)
    return 0


def _registry_totals(url: str) -> dict[str, int]:
    from registry.db import connect
    from registry.report import registry_totals

    with connect(url) as conn:
        return registry_totals(conn)


def _forget_broker_keys(broker: str, prefix: str) -> None:
    """Delete the check's keys from Redis (bindings stay behind after the workers stop)."""
    import redis

    client = redis.Redis.from_url(broker)
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _report(stack: Stack, dag_runs: list[str], tis: list[dict[str, Any]], evidence: dict[str, list[str]],
            ready: float, seconds: float, prefix: str) -> dict[str, Any]:
    by_worker: dict[str, list[str]] = {}
    for ti in tis:
        by_worker.setdefault(str(ti["hostname"]).split("@")[0], []).append(f"{ti['dag_id']}.{ti['task_id']}")
    return {
        "succeeded": "HUB_DAG_RUN_STATE=success" in dag_runs and all(t["state"] == "success" for t in tis),
        "dag_runs": dag_runs,
        "task_instances": [{**t, "start_date": str(t["start_date"]), "end_date": str(t["end_date"])}
                           for t in tis],
        "tasks_by_worker": by_worker,
        "worker_log_lines": evidence,
        "redis_key_prefix": prefix,
        "logs": str(stack.work / "logs"),
        "seconds_to_ready": round(ready, 1),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """``check`` (default) or ``run-dags SPEC…`` (the runner the check starts)."""
    parser = argparse.ArgumentParser(prog="python -m hub.celery_check", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    check = sub.add_parser("check", help="run one night on CeleryExecutor with two workers (default)")
    check.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server for the two databases")
    check.add_argument("--broker", default=DEFAULT_BROKER)
    check.add_argument("--families", type=int, default=40)
    check.add_argument("--work", type=Path, help="folder for logs and the sandbox (default: a temp folder)")
    check.add_argument("--scheduler", action="store_true",
                       help="let Airflow's scheduler run the night (default: dag.test(use_executor=True))")
    runner = sub.add_parser("run-dags", help=argparse.SUPPRESS)
    runner.add_argument("specs", nargs="+")
    triggerer = sub.add_parser("trigger", help=argparse.SUPPRESS)
    triggerer.add_argument("dag_ids", nargs="+")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] or ["check"])
    if args.command == "run-dags":
        return run_dags_with_executor(args.specs)
    if args.command == "trigger":
        return trigger(args.dag_ids)
    if not redis_answers(args.broker):
        print(f"error: no Redis answers at {args.broker}", file=sys.stderr)
        return 2
    report = run_check(args.server, args.broker, args.families, args.work, args.scheduler)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["succeeded"] else 1


if __name__ == "__main__":
    sys.exit(main())

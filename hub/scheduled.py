"""A night run by Airflow itself: scheduler, DAG processor, triggerer and API server, LocalExecutor.

``python -m hub.scheduled night`` (started by ``hub demo`` for its second night, in the environment of
``hub.airflow_env``) does what an operator's deployment does: the DAGs are unpaused, the scheduler starts
each pull and the maintenance DAG at its cron's latest tick (run type ``scheduled``), ``reconcile`` when
every staging asset has been updated and ``push`` when the registry asset has (``asset_triggered``). Each
task runs in its own process under Airflow's task supervisor, so its log is a file in Airflow's log
folder — the Logs tab of the UI, and ``hub runs show`` for a hub run.

Three things are set for the night and said here: ``reconcile``'s deadline cron is moved out of the way
(unpausing a DAG whose cron tick has passed starts that tick at once, which would reconcile before the
pulls; the deadline path is tested in ``tests/dags``), and asset events queued by earlier manual runs
(night 1's ``dag.test()``) are cleared, so ``reconcile`` waits for tonight's pulls; after the night the DAGs
are paused again, so that a UI started later does not begin a night against agencies no longer running.

Prints ``HUB_DAG_RUN dag_id=… run_type=… state=… run_id=…`` per DAG run and ``HUB_DAG_RUN_STATE=…``; exits
0 when every run succeeded, 1 when one failed, 2 when the night could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from hub.airflow_env import airflow_bin
from hub.airflow_stack import Stack, execution_api_up, free_port

NEVER = "0 0 29 2 *"
"""A cron whose next tick is years away (29 February 2028): the scheduler starts no run on its own."""
PARTS = ("api-server", "dag-processor", "scheduler", "triggerer")


def sources_without_ticks(work: Path, name: str, *, pulls_too: bool = False) -> Path:
    """A copy of the sources file with the reconcile deadline (and with ``pulls_too`` every pull's cron)
    moved to :data:`NEVER`, written to ``work/name``."""
    import yaml

    from connectors.config import sources_path

    raw = yaml.safe_load(sources_path().read_text("utf-8"))
    if pulls_too:
        for entry in raw["sources"].values():
            entry["schedule"] = NEVER
    raw.setdefault("nightly", {})["reconcile_deadline"] = NEVER
    work.mkdir(parents=True, exist_ok=True)
    path = work / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def local_env(env: dict[str, str], api_port: int, sources: Path) -> dict[str, str]:
    """``env`` switched to LocalExecutor with an Execution API on loopback ``api_port``."""
    return {
        **env,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",  # 2 cores: four pulls at once, as the night allows
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # the runner signs, the API checks
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "HUB_SOURCES": str(sources),
    }


def expected_dags() -> list[str]:
    from connectors.config import load_sources

    return ["registry_maintenance", *(f"pull_{c}" for c in sorted(load_sources())), "reconcile", "push"]


def set_paused(dag_ids: list[str], paused: bool) -> None:
    """Pause or unpause the night's DAGs; unpausing also clears asset events queued by manual runs."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id.in_(dag_ids)).update(
            {DagModel.is_paused: paused}, synchronize_session=False)
        if not paused:
            session.query(AssetDagRunQueue).delete(synchronize_session=False)


def runs_since(started: Any, dag_ids: list[str]) -> list[dict[str, str]]:
    """The DAG runs created since ``started`` (a UTC datetime), oldest first."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (session.query(DagRun).filter(DagRun.dag_id.in_(dag_ids), DagRun.run_after >= started)
                .order_by(DagRun.id).all())
        return [{"dag_id": r.dag_id, "run_type": str(r.run_type), "state": str(r.state), "run_id": r.run_id}
                for r in rows]


def parsed_since(started: Any, dag_ids: list[str]) -> bool:
    """Whether the DAG processor has parsed every DAG of the night since ``started`` (with tonight's
    settings: a scheduler started before would schedule from what an earlier parse stored)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(DagModel.dag_id, DagModel.last_parsed_time).filter(
            DagModel.dag_id.in_(dag_ids)).all()
    fresh = {dag_id for dag_id, parsed in rows if parsed is not None and parsed >= started}
    return set(dag_ids) <= fresh


def callbacks_pending() -> bool:
    """Whether a deadline callback is still to be run by the triggerer (its alert not yet sent)."""
    from airflow.models.callback import Callback
    from airflow.utils.session import create_session
    from airflow.utils.state import CallbackState

    waiting = [CallbackState.SCHEDULED, CallbackState.PENDING, CallbackState.QUEUED, CallbackState.RUNNING]
    with create_session() as session:
        return session.query(Callback).filter(Callback.state.in_(waiting)).count() > 0


START_TIMEOUT = 300.0
"""Seconds for the scheduler to start the cron-scheduled DAGs (a DAG whose latest tick already ran, in
metadata of an earlier night, would never start: the wait names it instead of hanging)."""


def _not_started(since: Any, before: set[str], dag_ids: list[str]) -> set[str]:
    started = {r["dag_id"] for r in runs_since(since, dag_ids) if r["run_id"] not in before}
    return {d for d in dag_ids if d not in ("reconcile", "push")} - started


def finished(runs: list[dict[str, str]], dag_ids: list[str]) -> bool:
    """Every run is over and every DAG ran — or what did not run cannot run tonight: reconcile waits for
    all pulls' assets (a failed pull updates none) and push for reconcile's."""
    if not all(r["state"] in ("success", "failed") for r in runs):
        return False
    done = {r["dag_id"] for r in runs}
    failed = {r["dag_id"] for r in runs if r["state"] == "failed"}
    blocked = set()
    if any(d.startswith("pull_") for d in failed) or "reconcile" in failed:
        blocked = {"push"} | ({"reconcile"} if "reconcile" not in done else set())
    return set(dag_ids) - blocked <= done


def run_night(env: dict[str, str], work: Path, timeout: float) -> int:
    """Start Airflow's parts, let the scheduler run the night, stop them; print the runs."""
    api_port = free_port()
    full = local_env(env, api_port, sources_without_ticks(work, "sources-scheduled-night.yaml"))
    os.environ.update(full)  # this process reads the metadata with the same settings
    dag_ids = expected_dags()
    stack = Stack(work, full)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)  # the latest cron ticks lie before now
    before = {r["run_id"] for r in runs_since(since, dag_ids)}
    set_paused(dag_ids, False)
    try:
        stack.start("api-server", [airflow_bin(), "api-server", "--host", "127.0.0.1",
                                   "--port", str(api_port), "--workers", "1"])
        stack.wait("the Execution API", lambda: execution_api_up(api_port), ["api-server"])
        parse_start = dt.datetime.now(dt.UTC)
        stack.start("dag-processor", [airflow_bin(), "dag-processor"])
        stack.wait("the DAGs parsed with tonight's settings", lambda: parsed_since(parse_start, dag_ids),
                   ["api-server", "dag-processor"], timeout=300)
        for part in ("scheduler", "triggerer"):
            stack.start(part, [airflow_bin(), part])
        try:
            stack.wait("the night's runs to start", lambda: not _not_started(since, before, dag_ids),
                       list(PARTS), timeout=START_TIMEOUT)
        except RuntimeError as exc:
            missing = ", ".join(sorted(_not_started(since, before, dag_ids)))
            raise RuntimeError(f"{exc}: no run of {missing} (has its latest cron tick run already in this "
                               "metadata?)") from None
        stack.wait("every DAG run of the night",
                   lambda: finished([r for r in runs_since(since, dag_ids) if r["run_id"] not in before],
                                    dag_ids),
                   list(PARTS), timeout=timeout)
        # a deadline missed tonight is reported by the triggerer: let it send what it has before stopping
        stack.wait("the deadline alerts", lambda: not callbacks_pending(), list(PARTS), timeout=120)
    finally:
        stack.stop()
        # Paused again, as the demo found them: a UI started later (make airflow) must not begin a night
        # of its own against agency systems that are no longer running.
        set_paused(dag_ids, True)
    runs = [r for r in runs_since(since, dag_ids) if r["run_id"] not in before]
    for r in runs:
        print(f"HUB_DAG_RUN dag_id={r['dag_id']} run_type={r['run_type']} state={r['state']} "
              f"run_id={r['run_id']}", flush=True)
    ok = all(r["state"] == "success" for r in runs)
    print(f"HUB_DAG_RUN_STATE={'success' if ok else 'failed'}", flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.scheduled", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    night = sub.add_parser("night", help="run one night under Airflow's scheduler (LocalExecutor)")
    night.add_argument("--work", type=Path, required=True, help="folder for the parts' logs")
    night.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    try:
        return run_night(dict(os.environ), args.work, args.timeout)
    except RuntimeError as exc:
        print(f"error: the scheduled night did not finish: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Two nights of the hub's DAGs end to end: real ``dag.test()`` runs against the sandbox agencies (127.0.0.1).

One subprocess per night runs every DAG (``hub.airflow_runner``: Airflow's start-up is paid once a night),
with the agencies' connections as ``AIRFLOW_CONN_…`` variables, as in ``hub demo``. The module checks:

* the registry against the sandbox's ground truth after each night (pairwise precision and recall of
  persons and families, active registry persons against the true persons behind the linked records);
* running the same night again changes nothing (staging, registry, links, outbox; the pulls stage nothing);
* a pull killed with SIGKILL after some payloads were committed, then run again, ends exactly like one clean
  pull (same staged records and payloads, no duplicate current versions, the killed run marked failed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from registry import migrate
from registry.db import connect, drop_database, ensure_database, with_database
from tests.registry.snapshot import duplicate_current_versions, snapshot

pytestmark = pytest.mark.airflow

FAMILIES, SEED = 120, 2718
ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
MIN_SCORE = 0.99


@dataclass
class Night:
    """What one night's DAG runs left in the registry."""

    dag_runs: list[str]
    snapshot: dict[str, Any]
    totals: dict[str, int]
    accuracy: dict[str, Any]
    true_persons: int
    pull_runs: list[dict[str, Any]]
    payloads: list[tuple[str, str]]


@dataclass
class Nights:
    """The module's shared history: night 1, night 1 again, night 2."""

    sandbox: Path
    airflow_home: Path
    first: Night
    again: Night
    second: Night


def _new_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    ensure_database(server, name)
    return with_database(server, name)


def _env(url: str, home: Path, hub_home: Path, connections: dict[str, str]) -> dict[str, str]:
    from hub.airflow_env import airflow_env

    return airflow_env(url, home=home, extra={**connections, "HUB_HOME": str(hub_home)})


def _dag_specs(first_night: bool) -> list[str]:
    from connectors.config import load_sources

    maintenance = [str(DAGS / "registry_maintenance.py")] if first_night else []
    pulls = [f"{DAGS / 'hub_pull.py'}:pull_{code}" for code in sorted(load_sources())]
    return [*maintenance, *pulls, str(DAGS / "hub_reconcile.py"), str(DAGS / "hub_push.py")]


def _run_dags(env: dict[str, str], specs: list[str], cwd: Path) -> list[str]:
    """Run DAGs in one ``hub.airflow_runner`` process; its ``HUB_DAG_RUN`` lines (all must succeed)."""
    run = subprocess.run([sys.executable, "-m", "hub.airflow_runner", *specs], env=env, capture_output=True,
                         text=True, check=False, cwd=cwd, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "HUB_DAG_RUN_STATE=success" in run.stdout
    return [line for line in run.stdout.splitlines() if line.startswith("HUB_DAG_RUN dag_id=")]


def _query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _totals(url: str) -> dict[str, int]:
    """Row counts that must not move when a night is run again."""
    tables = ("staged_record", "quarantine", "registry_person", "registry_family",
              "entity_link", "membership", "accompaniment_case", "service", "outbox", "push_state",
              "review_item", "attribute_lineage")
    return {t: int(_query(url, f"SELECT count(*) FROM {t}")[0][0]) for t in tables}


def _night(url: str, sandbox: Path, dag_runs: list[str], since_run: int) -> Night:
    from matching.evaluate import evaluate, load_truth

    truth = load_truth(sandbox)
    linked = _query(url, "SELECT source_code, source_record_id FROM entity_link "
                         "WHERE record_kind = 'person' AND valid_to IS NULL")
    true_persons = len({truth[(s, i)]["pid"] for s, i in linked if (s, i) in truth})
    pulls = [{"run_id": r[0], "source": r[1], "status": r[2], "dag_id": r[3], "stats": r[4]}
             for r in _query(url, "SELECT run_id, source_code, status, dag_id, stats FROM run "
                                  "WHERE kind = 'pull' AND run_id > %s ORDER BY run_id", since_run)]
    payloads = [(str(s), str(h)) for s, h in _query(url, "SELECT source_code, sha256 FROM raw_payload")]
    return Night(dag_runs, snapshot(url), _totals(url), evaluate(sandbox, url), true_persons, pulls, payloads)


def _last_run(url: str) -> int:
    return int(_query(url, "SELECT coalesce(max(run_id), 0) FROM run")[0][0])


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow home with migrated metadata (SQLite), shared by every DAG run of the module."""
    from hub.airflow_env import airflow_bin, airflow_env

    home = tmp_path_factory.mktemp("nightly-airflow")
    env = airflow_env("postgresql://unused", home=home, extra={"HUB_HOME": str(home)})
    done = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home


@pytest.fixture(scope="module")
def registry_url(pg_server_url: str) -> Iterator[str]:
    """An empty database: night 1's ``registry_maintenance`` DAG migrates it."""
    url = _new_database(pg_server_url, "hub_nightly")
    yield url
    drop_database(pg_server_url, url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def nights(registry_url: str, airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Nights:
    from sandbox.connections import hub_connections
    from sandbox.generate import advance, generate
    from sandbox.server.app import serve

    work = tmp_path_factory.mktemp("nightly")
    sandbox = work / "sandbox"
    generate(sandbox, FAMILIES, SEED, workers=1)
    running = serve(sandbox)
    try:
        env = _env(registry_url, airflow_home, work, hub_connections(sandbox, running.ports))
        first = _night(registry_url, sandbox, _run_dags(env, _dag_specs(True), work), 0)
        mark = _last_run(registry_url)
        again = _night(registry_url, sandbox, _run_dags(env, _dag_specs(False), work), mark)
        advance(sandbox, workers=1)
        mark = _last_run(registry_url)
        second = _night(registry_url, sandbox, _run_dags(env, _dag_specs(False), work), mark)
    finally:
        running.stop()
    return Nights(sandbox, airflow_home, first, again, second)


# ------------------------------------------------------------------------------------------ two nights


def _assert_accurate(night: Night) -> None:
    persons, families = night.accuracy["persons"], night.accuracy["families"]
    assert min(persons["precision"], persons["recall"]) >= MIN_SCORE, persons
    assert min(families["precision"], families["recall"]) >= MIN_SCORE, families
    active = night.snapshot["counts"]["active_persons"]
    # A split person adds one registry person, a false merge removes one: both stay within 2%.
    assert abs(active - night.true_persons) <= max(2, 0.02 * night.true_persons), (active, night.true_persons)


def test_night_one_matches_the_truth(nights: Nights) -> None:
    night = nights.first
    assert len(night.dag_runs) == len(_dag_specs(True))
    assert all(" state=success " in line for line in night.dag_runs), night.dag_runs
    assert {r["source"] for r in night.pull_runs} == {"education", "health", "ngo", "social_protection"}
    assert all(r["status"] == "succeeded" and r["dag_id"] == f"pull_{r['source']}" for r in night.pull_runs)
    assert night.accuracy["persons"]["records"] > 5 * FAMILIES  # every agency's persons were linked
    _assert_accurate(night)
    assert night.totals["outbox"] > 0


def test_night_two_matches_the_truth(nights: Nights) -> None:
    night = nights.second
    assert sum(r["stats"]["new"] + r["stats"]["updated"] for r in night.pull_runs) > 0  # the night's changes
    _assert_accurate(night)
    assert night.snapshot["counts"]["active_persons"] > nights.first.snapshot["counts"]["active_persons"]


def test_running_the_same_night_again_changes_nothing(nights: Nights) -> None:
    first, again = nights.first, nights.again
    assert len(again.pull_runs) == 4
    assert all(r["status"] == "succeeded" for r in again.pull_runs)
    assert all(r["stats"]["new"] == r["stats"]["updated"] == r["stats"]["deleted"] == 0
               for r in again.pull_runs), [r["stats"] for r in again.pull_runs]
    assert again.totals == first.totals
    assert again.snapshot == first.snapshot
    # An agency may send a page again (a cursor API re-reads its last instant): new bytes are kept as a
    # raw payload, and its records are all unchanged (the zero counts above).
    assert set(first.payloads) <= set(again.payloads)


# ------------------------------------------------------------------------------ a pull killed mid-way


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _kill_after_first_payload(env: dict[str, str], url: str, cwd: Path, clean_payloads: int) -> int:
    """Start the NGO pull DAG, SIGKILL it once a payload is committed; the killed registry run's id."""
    proc = subprocess.Popen([sys.executable, "-m", "hub.airflow_runner", f"{DAGS / 'hub_pull.py'}:pull_ngo"],
                            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group: the kill takes all of it
    watch = psycopg2.connect(url)
    watch.autocommit = True  # each poll sees what the pull has committed by then
    try:
        with watch.cursor() as cur:
            def committed() -> bool:
                cur.execute("SELECT count(*) FROM raw_payload WHERE source_code = 'ngo'")
                row = cur.fetchone()
                return proc.poll() is not None or bool(row and row[0])

            _wait_for(committed, 120, "the first NGO payload")
    finally:
        watch.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the pull ended before it could be killed"
    ((run_id, status),) = _query(url, "SELECT run_id, status FROM run WHERE kind = 'pull'")
    assert status == "running"  # nobody closed it: the process died mid-pull
    assert 1 <= _count(url, "raw_payload WHERE source_code = 'ngo'") < clean_payloads
    return int(run_id)


def _count(url: str, what: str) -> int:
    return int(_query(url, f"SELECT count(*) FROM {what}")[0][0])


def test_a_pull_killed_mid_way_and_retried_leaves_no_duplicates(
    nights: Nights, pg_server_url: str, tmp_path: Path
) -> None:
    from sandbox.connections import hub_connections
    from sandbox.generate import generate
    from sandbox.server.app import serve

    sandbox = tmp_path / "sandbox"
    generate(sandbox, FAMILIES, SEED, workers=1)  # the same seed: byte for byte the module's night 1
    clean_payloads = sorted(sha for source, sha in nights.first.payloads if source == "ngo")
    url = _new_database(pg_server_url, "hub_killed")
    running = serve(sandbox, rate_limit=1)  # one NGO request a second: time to kill between two pages
    try:
        with connect(url) as conn:
            migrate.upgrade(conn)
        env = _env(url, nights.airflow_home, tmp_path, hub_connections(sandbox, running.ports))
        killed = _kill_after_first_payload(env, url, tmp_path, len(clean_payloads))
        _run_dags(env, [f"{DAGS / 'hub_pull.py'}:pull_ngo"], tmp_path)
        after = snapshot(url)
        duplicates = duplicate_current_versions(url)
        runs = _query(url, "SELECT run_id, status, error FROM run WHERE kind = 'pull' ORDER BY run_id")
        kept = _count(url, f"raw_payload WHERE first_run_id = {killed}")
    finally:
        running.stop()
        drop_database(pg_server_url, url.rsplit("/", 1)[1])

    clean = Counter({k: n for k, n in nights.first.snapshot["staged"].items() if k[0] == "ngo"})
    assert after["staged"] == clean  # the same records, versions and content hashes as one clean pull
    assert duplicates == 0
    assert kept >= 1  # what the killed pull committed stays, and was not staged twice (the counts above)
    assert runs[0] == (killed, "abandoned", "abandoned: its process ended without closing the run")
    assert [r[1] for r in runs[1:]] == ["succeeded"]

"""Replaying pull runs from stored raw payloads (``connectors.replay``, ``hub runs …``) on a real registry.

Two nights of the four sandbox agencies are pulled (real HTTP servers, file drop) and reconciled once, in
this process; every test then works on its own copy of that database (``CREATE DATABASE … TEMPLATE``), with
the agency servers already stopped and their connections unset: a replay that called an agency would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.config import load_sources
from connectors.pipeline import pull
from connectors.replay import ReplayError, replay
from matching.reconcile import reconcile
from registry import migrate
from registry.db import connect, drop_database, ensure_database, with_database
from sandbox.connections import hub_connections
from sandbox.generate import advance, generate
from sandbox.server.app import serve
from tests.registry.snapshot import duplicate_current_versions, snapshot, wipe_derived_state

FAMILIES, SEED = 60, 4242
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class History:
    """The registry after night 1 and after night 2 (template databases), and the server they live on."""

    server: str
    night1: str
    night2: str
    copies: list[str]

    def copy(self, template: str) -> str:
        """A new database with ``template``'s contents; dropped at the end of the module."""
        name = f"hub_replay_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with connect(self.server, owner=True) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_name(template)}"')
        self.copies.append(name)
        return with_database(self.server, name)


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def _night(url: str) -> None:
    for code in sorted(load_sources()):
        pull(code, url)
    reconcile(url)


@pytest.fixture(scope="module")
def history(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    sandbox = tmp_path_factory.mktemp("replay") / "sandbox"
    generate(sandbox, FAMILIES, SEED, workers=1)
    h = History(pg_server_url, "", "", [])
    first = f"hub_replay_n1_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    ensure_database(pg_server_url, first)
    h.night1 = with_database(pg_server_url, first)
    h.copies.append(first)
    with connect(h.night1) as conn:
        migrate.upgrade(conn)
    running = serve(sandbox)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in hub_connections(sandbox, running.ports).items():
                mp.setenv(name, value)
            _night(h.night1)
            h.night2 = h.copy(h.night1)
            advance(sandbox, workers=1)
            _night(h.night2)
    finally:
        running.stop()
    yield h
    # Each DROP DATABASE waits for a checkpoint; concurrent ones share it.
    with ThreadPoolExecutor(len(h.copies)) as pool:
        list(pool.map(lambda name: drop_database(pg_server_url, name), h.copies))


def _pull_runs(url: str, night_of: str | None = None) -> list[int]:
    """Pull run ids in order; with ``night_of``, only those already in that database (night 1's)."""
    with connect(night_of or url) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id FROM run WHERE kind = 'pull' ORDER BY run_id")
        return [int(r[0]) for r in cur.fetchall()]


def test_replay_after_a_wipe_rebuilds_the_same_registry(history: History) -> None:
    before = snapshot(history.night1)
    url = history.copy(history.night1)
    wipe_derived_state(url)
    assert snapshot(url)["counts"]["staged_rows"] == 0

    results = [replay(run_id, url) for run_id in _pull_runs(url)]
    reconcile(url)
    after = snapshot(url)

    assert all(r["payloads"] > 0 for r in results)
    assert sum(r["new"] for r in results) == before["counts"]["staged_rows"]
    assert after["staged"] == before["staged"]  # same records, same content hashes, same mapping versions
    assert after["quarantine"] == before["quarantine"]
    assert after["person_partition"] == before["person_partition"]
    assert after["family_partition"] == before["family_partition"]
    assert after["counts"] == before["counts"]


def test_replaying_two_nights_in_order_rebuilds_night_two(history: History) -> None:
    before = snapshot(history.night2)
    url = history.copy(history.night2)
    night_one_runs = set(_pull_runs(url, night_of=history.night1))
    wipe_derived_state(url)
    for night in (True, False):  # each night's pulls, then that night's reconcile, as they ran
        for run_id in _pull_runs(url):
            if (run_id in night_one_runs) == night:
                replay(run_id, url)
        reconcile(url)
    after = snapshot(url)
    assert after["staged"] == before["staged"]
    assert after["person_partition"] == before["person_partition"]
    assert after["family_partition"] == before["family_partition"]
    assert duplicate_current_versions(url) == 0


def test_an_old_replay_never_overwrites_what_a_later_payload_brought(history: History) -> None:
    before = snapshot(history.night2)
    url = history.copy(history.night2)
    first_pulls = _pull_runs(url, night_of=history.night1)
    results = [replay(run_id, url) for run_id in first_pulls]
    assert sum(r["new"] + r["updated"] + r["deleted"] for r in results) == 0
    assert sum(r["kept_newer"] for r in results) > 0  # night 2 changed some of night 1's records
    assert snapshot(url)["staged"] == before["staged"]


def test_replay_after_a_mapping_fix_stages_with_the_current_mapping(history: History, tmp_path: Path) -> None:
    url = history.copy(history.night1)
    ngo = load_sources()["ngo"]
    fixed = tmp_path / "ngo.yaml"
    text = ngo.mapping_path.read_text("utf-8")
    assert "\nversion: 1.0.0\n" in text
    fixed.write_text(text.replace("\nversion: 1.0.0\n", "\nversion: 1.0.1\n"), "utf-8")
    source = ngo.model_copy(update={"mapping": str(fixed)})
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id FROM run WHERE kind = 'pull' AND source_code = 'ngo'")
        (run_id,) = cur.fetchone() or (0,)
        cur.execute("SELECT count(*) FROM staged_record WHERE source_code = 'ngo' AND superseded_by IS NULL")
        (current,) = cur.fetchone() or (0,)

    first = replay(run_id, url, source)
    again = replay(run_id, url, source)

    assert (first["mapping_version"], first["new"], first["updated"]) == ("1.0.1", 0, current)
    assert (again["updated"], again["unchanged"]) == (0, current)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT mapping_version, count(*) FROM staged_record
                       WHERE source_code = 'ngo' AND superseded_by IS NULL GROUP BY 1""")
        assert dict(cur.fetchall()) == {"1.0.1": current}
        cur.execute("SELECT kind, stats->>'replay_of' FROM run WHERE run_id = %s", (first["run_id"],))
        assert cur.fetchone() == ("replay", str(run_id))
    before = snapshot(history.night1)["person_partition"]
    reconcile(url)
    assert snapshot(url)["person_partition"] == before  # a version bump changes no match


def test_only_pull_runs_can_be_replayed(history: History) -> None:
    url = history.copy(history.night1)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id FROM run WHERE kind = 'reconcile' LIMIT 1")
        (reconcile_run,) = cur.fetchone() or (0,)
    with pytest.raises(ReplayError, match="only pull runs"):
        replay(reconcile_run, url)
    with pytest.raises(ReplayError, match="no run"):
        replay(10**9, url)


def test_runs_commands(history: History, hub_cli: list[str]) -> None:
    url = history.copy(history.night1)
    env = {**os.environ, "HUB_DATABASE_URL": url}

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*hub_cli, *args], env=env, capture_output=True, text=True, check=False,
                              cwd=ROOT)

    listed = hub("runs", "list", "--kind", "pull", "--source", "health", "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert (run["kind"], run["source_code"], run["status"]) == ("pull", "health", "succeeded")

    shown = json.loads(hub("runs", "show", str(run["run_id"]), "--json").stdout)
    assert shown["payloads"]
    assert all(p["first_stored_by_this_run"] for p in shown["payloads"])
    assert shown["staged"]["person"]["rows"] == shown["stats"]["by_kind"]["person"]

    replayed = hub("runs", "replay", str(run["run_id"]), "--json")
    assert replayed.returncode == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert (result["replay_of"], result["new"], result["updated"]) == (run["run_id"], 0, 0)
    assert result["unchanged"] == sum(shown["stats"]["by_kind"].values())
    assert json.loads(hub("runs", "show", str(run["run_id"]), "--json").stdout)["replays"] == [
        result["run_id"]]

    text = hub("runs", "list", "--limit", "3")
    assert text.returncode == 0
    assert "replay" in text.stdout
    missing = hub("runs", "show", "999999999")
    assert missing.returncode == 1
    assert "no run 999999999" in missing.stderr
    wrong = hub("runs", "replay", "999999999")
    assert wrong.returncode == 1
    assert "no run 999999999" in wrong.stderr

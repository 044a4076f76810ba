"""A care record waits for its person: never marked reconciled before it is attached, never lost.

Through the real pipeline (a file drop of FHIR Bundles mapped by ``mappings/health.yaml``) and the real
reconcile, in both orders the issue names:

* the Patient is quarantined on night 1 (it came without a name) while its disability Condition is
  staged: the Condition waits (counted, listed by ``hub waiting``), and night 2's corrected Patient brings
  the status into the registry;
* records a pull commits while a reconcile runs are left pending by that reconcile and taken by the next.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from matching.reconcile import reconcile
from tests.sources import MakeSource, Source, query

GOLDEN = Path(__file__).resolve().parents[1] / "mappings" / "golden" / "health"
PATIENT = json.loads((GOLDEN / "patients_page.json").read_text("utf-8"))["entry"][0]
CONDITION = json.loads((GOLDEN / "conditions_page.json").read_text("utf-8"))["entry"][0]


def bundle(*entries: dict[str, Any]) -> str:
    doc = {"resourceType": "Bundle", "type": "searchset", "entry": list(entries)}
    return json.dumps(doc, ensure_ascii=False)


def patient(pid: str, birth: str = "2015-03-04", named: bool = True) -> dict[str, Any]:
    entry = copy.deepcopy(PATIENT)
    entry["resource"].update(id=pid, birthDate=birth)
    if not named:  # nothing left to identify the person by: the record is quarantined
        entry["resource"]["name"] = []
    entry["resource"]["identifier"] = []  # no identifiers: nothing links it to anyone else
    return entry


def condition(cid: str, pid: str) -> dict[str, Any]:
    entry = copy.deepcopy(CONDITION)
    entry["resource"].update(id=cid, subject={"reference": f"Patient/{pid}"})
    return entry


@pytest.fixture
def health_drop(tmp_path: Path, make_source: MakeSource, empty_database_url: str,
                monkeypatch: pytest.MonkeyPatch) -> tuple[Source, Path]:
    from registry import migrate
    from registry.db import connect

    with connect(empty_database_url) as conn:
        migrate.upgrade(conn)
    folder = tmp_path / "drop"
    folder.mkdir()
    connection = {"conn_type": "fs", "extra": {"path": str(folder)}}
    source = make_source("file_drop", "mappings/health.yaml", connection, agency="health",
                         options={"patterns": ["*.json"]})
    source.url = empty_database_url
    monkeypatch.setenv("HUB_DATABASE_URL", empty_database_url)
    return source, folder


def _statuses(url: str) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in query(url, "SELECT source_record_id, kind FROM health_status")]


def test_a_condition_waits_for_its_quarantined_patient(
    health_drop: tuple[Source, Path], hub_cli: list[str]
) -> None:
    source, folder = health_drop
    night1 = bundle(patient("pat-w1", named=False), condition("cond-w1", "pat-w1"))
    (folder / "night1.json").write_text(night1)
    source.pull()
    assert [c for c, _ in source.quarantine()] in (["mapping_error"], ["validation_error"])
    first = reconcile(source.url)
    assert first["care"]["waiting"] == 1
    assert _statuses(source.url) == []
    listed = subprocess.run([*hub_cli, "waiting", "--json"], capture_output=True, text=True, timeout=120,
                            env=os.environ.copy())
    report = json.loads(listed.stdout)
    assert report["waiting"] == 1
    assert report["records"][0]["waits_for"] == "person Patient/pat-w1"
    assert reconcile(source.url)["care"]["waiting"] == 1  # still waiting, still not lost

    (folder / "night2.json").write_text(bundle(patient("pat-w1", "2015-02-28")))
    source.pull()
    third = reconcile(source.url)
    assert third["care"]["waiting"] == 0
    assert third["care"]["statuses"] == 1
    assert _statuses(source.url) == [("Condition/cond-w1", "disability")]
    person = query(source.url, "SELECT h.person_id = l.person_id FROM health_status h JOIN entity_link l "
                   "ON l.source_record_id = 'Patient/pat-w1' AND l.valid_to IS NULL")
    assert person == [(True,)]


def test_records_staged_while_a_reconcile_runs_are_left_for_the_next(
    health_drop: tuple[Source, Path],
) -> None:
    source, folder = health_drop
    (folder / "a.json").write_text(bundle(patient("pat-a"), condition("cond-a", "pat-a")))
    source.pull()
    blocker = psycopg2.connect(source.url)
    blocker.autocommit = False
    with blocker.cursor() as cur:  # the reconcile will stop at its first write of a registry person
        cur.execute("LOCK TABLE registry_person IN EXCLUSIVE MODE")
    outcome: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: outcome.update(reconcile(source.url)))
    worker.start()
    _wait_for_lock_wait(source.url)
    (folder / "b.json").write_text(bundle(patient("pat-b"), condition("cond-b", "pat-b")))
    source.pull()  # commits while the reconcile is in the middle
    blocker.rollback()
    blocker.close()
    worker.join(timeout=120)
    assert outcome["persons"]["records"] == 1
    pending = query(source.url, "SELECT source_record_id FROM staged_record JOIN staged_reconcile q "
                    "USING (staged_id) WHERE q.run_id IS NULL AND superseded_by IS NULL ORDER BY 1")
    pending_ids = [str(r[0]) for r in pending]
    assert "Condition/cond-b" in pending_ids
    assert "Patient/pat-b" in pending_ids
    assert all("pat-b" in r or "cond-b" in r for r in pending_ids)  # nothing of night a is left behind
    reconcile(source.url)
    assert sorted(_statuses(source.url)) == [("Condition/cond-a", "disability"),
                                             ("Condition/cond-b", "disability")]


def _wait_for_lock_wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = query(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()")
        if rows[0][0]:
            return
        time.sleep(0.1)
    raise AssertionError("the reconcile never reached the locked table")

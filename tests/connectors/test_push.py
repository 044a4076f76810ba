"""Push through the outbox to the sandbox agencies on 127.0.0.1: formats, entitlement, once only, dead letter.

Until reconciliation exists the registry rows are inserted here as test data; what is under test is the
outbox, the formats and the delivery against the real sandbox servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.config import load_sources
from connectors.push import push, retry_dead
from registry.db import connect
from registry.runs import ensure_source_system
from sandbox.connections import hub_connections
from sandbox.generate import generate
from sandbox.server.app import serve

SOURCES = load_sources()


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("push") / "sbx"
    generate(out, 30, seed=5, workers=1)
    return out


@pytest.fixture
def agencies(sandbox_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    handle = serve(sandbox_dir, faults=0.0)
    for name, value in hub_connections(sandbox_dir, handle.ports).items():
        monkeypatch.setenv(name, value)
    yield handle
    handle.stop()


@pytest.fixture
def registry(empty_database_url: str) -> str:
    """A registry with two persons in one family under crisis accompaniment, one with a disability."""
    from registry import migrate

    with connect(empty_database_url) as conn:
        migrate.upgrade(conn)
    with connect(empty_database_url) as conn, conn.cursor() as cur:
        for code, src in SOURCES.items():
            ensure_source_system(conn, code, src.agency, src.name, src.connector)
        cur.execute("INSERT INTO registry_family (registry_id) VALUES ('F000000001')")
        cur.execute("INSERT INTO registry_person (registry_id) VALUES ('P000000001'), ('P000000002')")
        cur.execute("""INSERT INTO membership (family_id, person_id, role) VALUES
                       ('F000000001', 'P000000001', 'mother'), ('F000000001', 'P000000002', 'child')""")
        cur.execute("""INSERT INTO accompaniment_case (family_id, source_code, source_record_id, level, stage,
                       opened_on) VALUES ('F000000001', 'social_protection', 'SZN-C-1', 'crisis', 'activity',
                       '2026-01-10')""")
        cur.execute("""INSERT INTO health_status (person_id, source_code, source_record_id, kind)
                       VALUES ('P000000002', 'health', 'Condition/c1', 'disability')""")
        links = [("ngo", "1001", "P000000001"), ("ngo", "1002", "P000000002"),
                 ("education", "STU-00000000AA", "P000000002"), ("education", "REP-0001", "P000000001"),
                 ("health", "Patient/pat-1", "P000000002"), ("social_protection", "SZN-P-1", "P000000002")]
        for source, sid, pid in links:
            cur.execute("""INSERT INTO entity_link (source_code, record_kind, source_record_id, person_id,
                           decision) VALUES (%s, 'person', %s, %s, 'rule')""", (source, sid, pid))
    return empty_database_url


def _recorded(sandbox_dir: Path, agency: str) -> list[dict[str, Any]]:
    path = sandbox_dir / "pushes" / f"{agency}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()] if path.exists() else []


def test_ngo_gets_registry_ids_only_once(agencies: Any, registry: str, sandbox_dir: Path) -> None:
    before = len(_recorded(sandbox_dir, "ngo"))
    stats = push(SOURCES["ngo"], registry)
    assert (stats.entries_changed, stats.queued, stats.delivered, stats.failed) == (2, 1, 1, 0)
    sent = _recorded(sandbox_dir, "ngo")[before:]
    assert len(sent) == 1
    body = json.dumps(sent[0], ensure_ascii=False)
    assert "P000000002" in body
    for forbidden in ("disability", "accompaniment_status", "registry_family_id"):
        assert forbidden not in body, f"the NGO is not entitled to {forbidden}"
    again = push(SOURCES["ngo"], registry)
    assert (again.entries_changed, again.queued, again.delivered) == (0, 0, 0)
    assert len(_recorded(sandbox_dir, "ngo")) == before + 1


def _file_links(sandbox_dir: Path) -> list[str]:
    files = sorted((sandbox_dir / "social_protection" / "inbox").glob("HUB_registry_links_*.xml"),
                   key=lambda f: f.stat().st_mtime_ns)
    return [f.read_text("utf-8") for f in files]


def _disclosures(url: str, field: str) -> list[tuple[str, str, int | None]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT target_source, basis, consent_id FROM disclosure WHERE field = %s ORDER BY 1, 2",
                    (field,))
        return [(str(a), str(b), c) for a, b, c in cur.fetchall()]


def _consent(url: str, agencies: list[str], purpose: str = "social_support") -> int:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO consent (person_id, source_code, source_record_id, receiving_agencies,
                       purpose, valid_from)
                       VALUES ('P000000002', 'health', 'Consent/k1', %s, %s, '2026-01-01')
                       RETURNING consent_id""", (agencies, purpose))
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def test_health_data_goes_only_under_a_consent_naming_the_agency_and_is_retracted_on_withdrawal(
    agencies: Any, registry: str, sandbox_dir: Path
) -> None:
    push(SOURCES["health"], registry)
    health = json.dumps(_recorded(sandbox_dir, "health")[-1], ensure_ascii=False)
    assert '"accompaniment_status": "active"' in health
    assert "disability" not in health
    push(SOURCES["social_protection"], registry)  # no consent at all
    assert 'disabilityStatus="disability"' not in _file_links(sandbox_dir)[-1]
    wrong = _consent(registry, ["health"])  # a consent naming only health
    assert push(SOURCES["social_protection"], registry).entries_changed == 0
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("UPDATE consent SET receiving_agencies = '{social_protection}', purpose = 'other' "
                    "WHERE consent_id = %s", (wrong,))
    assert push(SOURCES["social_protection"], registry).entries_changed == 0  # wrong purpose
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("UPDATE consent SET purpose = 'Social_Support ' WHERE consent_id = %s", (wrong,))
    assert push(SOURCES["social_protection"], registry).delivered == 1
    assert 'disabilityStatus="disability"' in _file_links(sandbox_dir)[-1]
    assert _disclosures(registry, "disability_status") == [("social_protection", "consent", wrong)]
    assert ("social_protection", "law_442fz", None) in _disclosures(registry, "registry_person_id")
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("UPDATE consent SET withdrawn_on = current_date WHERE consent_id = %s", (wrong,))
    stats = push(SOURCES["social_protection"], registry)
    assert (stats.delivered, stats.retracted_fields) == (1, 1)
    assert 'disabilityStatus=""' in _file_links(sandbox_dir)[-1]
    assert _disclosures(registry, "disability_status") == [("social_protection", "consent", wrong),
                                                           ("social_protection", "retraction", None)]
    assert "disability" not in json.dumps(_recorded(sandbox_dir, "ngo"))
    listed = subprocess.run([sys.executable, "-m", "hub", "disclosures", "list", "--person", "P000000002",
                             "--purpose", "test", "--json"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HUB_DATABASE_URL": registry}, check=True)
    fields = {(r["target_source"], r["field"], r["basis"]) for r in json.loads(listed.stdout)}
    assert ("social_protection", "disability_status", "retraction") in fields
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("SELECT object_id, details ->> 'purpose' FROM audit_log "
                    "WHERE action = 'disclosures.list'")
        assert cur.fetchall() == [("P000000002", "test")]


def test_a_status_that_flips_back_and_forth_ends_as_the_registry_says(
    agencies: Any, registry: str, sandbox_dir: Path
) -> None:
    for closed in (None, "2026-10-01", None, "2026-10-01"):
        with connect(registry) as conn, conn.cursor() as cur:
            cur.execute("UPDATE accompaniment_case SET closed_on = %s", (closed,))
        push(SOURCES["health"], registry)
        last = _recorded(sandbox_dir, "health")[-1]
        assert f'"accompaniment_status": "{"closed" if closed else "active"}"' in json.dumps(last)


def test_a_smev_message_sent_again_after_a_crash_is_already_delivered(
    agencies: Any, registry: str, sandbox_dir: Path
) -> None:
    assert push(SOURCES["education"], registry).delivered == 1
    with connect(registry) as conn, conn.cursor() as cur:  # the hub died after sending, before recording it
        cur.execute("UPDATE outbox SET status = 'pending', delivered_at = NULL "
                    "WHERE target_source = 'education'")
        cur.execute("DELETE FROM push_state WHERE target_source = 'education'")
    again = push(SOURCES["education"], registry)
    assert (again.queued, again.delivered, again.failed) == (0, 1, 0)  # same message, same MessageID
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, attempts FROM outbox WHERE target_source = 'education'")
        assert cur.fetchall() == [("delivered", 2)]
    assert len(_recorded(sandbox_dir, "education")) == 1  # the agency kept it once (DuplicateMessageID)


def test_education_gets_a_smev_crosswalk_for_students_only(agencies: Any, registry: str,
                                                           sandbox_dir: Path) -> None:
    stats = push(SOURCES["education"], registry)
    assert (stats.entries_changed, stats.delivered) == (1, 1)
    record = json.dumps(_recorded(sandbox_dir, "education")[-1], ensure_ascii=False)
    assert "STU-00000000AA" in record
    assert "REP-0001" not in record


def test_a_status_change_sends_only_what_changed(agencies: Any, registry: str, sandbox_dir: Path) -> None:
    push(SOURCES["health"], registry)
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("UPDATE accompaniment_case SET closed_on = '2026-10-01', stage = 'post_accompaniment', "
                    "closure_reason = 'positive_dynamics'")
    stats = push(SOURCES["health"], registry)
    assert (stats.entries_changed, stats.delivered) == (1, 1)
    assert '"post_accompaniment"' in json.dumps(_recorded(sandbox_dir, "health")[-1])


def test_undeliverable_messages_back_off_die_and_are_retried_on_demand(
    agencies: Any, registry: str, monkeypatch: pytest.MonkeyPatch, sandbox_dir: Path
) -> None:
    closed = hub_connections(sandbox_dir, {"health": 1, "ngo": 1, "education": 1})
    monkeypatch.setenv("AIRFLOW_CONN_NGO_API", closed["AIRFLOW_CONN_NGO_API"])
    source = SOURCES["ngo"].model_copy(update={"push": SOURCES["ngo"].push.model_copy(  # type: ignore[union-attr]
        update={"max_attempts": 2})})
    first = push(source, registry)
    assert (first.queued, first.failed, first.dead) == (1, 1, 0)
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("SELECT attempts, status, next_attempt_at > now(), last_error FROM outbox")
        attempts, status, later, error = cur.fetchone()
        assert (attempts, status, later) == (1, "pending", True)
        assert "127.0.0.1" in error
        cur.execute("UPDATE outbox SET next_attempt_at = now()")
    second = push(source, registry)
    assert (second.queued, second.failed, second.dead) == (0, 1, 1)
    held = push(source, registry)  # a dead letter's entries are held, not queued again every night
    assert (held.queued, held.failed) == (0, 0)
    reopened = hub_connections(sandbox_dir, agencies.ports)
    monkeypatch.setenv("AIRFLOW_CONN_NGO_API", reopened["AIRFLOW_CONN_NGO_API"])
    released, retried = retry_dead(source, registry)
    assert (released, retried.queued, retried.delivered) == (1, 1, 1)

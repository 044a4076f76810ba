"""Migrations on a real PostgreSQL: from empty, re-applied, concurrent, and guarded against edits."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import psycopg2
import pytest

from registry import migrate
from registry.bulk import copy_rows
from registry.db import connect
from registry.errors import MigrationChecksumError, MigrationError

EXPECTED_TABLES = {
    "schema_migration", "source_system", "run", "raw_payload", "source_cursor", "staged_record",
    "quarantine", "registry_person", "registry_family", "entity_link", "membership", "family_category",
    "accompaniment_case", "service", "health_status", "consent", "review_item", "steward_decision",
    "attribute_lineage", "audit_log", "outbox", "raw_payload_chunk", "push_state", "match_person",
    "survivorship_conflict", "entity_event", "disclosure", "web_user", "match_block_scheme", "family_dirty",
    "staged_reconcile",
}


def _tables(url: str) -> set[str]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in cur.fetchall()}


def _upgrade(url: str, directory: Path = migrate.MIGRATIONS_DIR) -> migrate.UpgradeResult:
    with connect(url) as conn:
        return migrate.upgrade(conn, directory)


def test_from_empty_then_reapplied(empty_database_url: str) -> None:
    first = _upgrade(empty_database_url)
    assert [m.version for m in first.applied] == [m.version for m in migrate.discover()]
    assert _tables(empty_database_url) == EXPECTED_TABLES
    second = _upgrade(empty_database_url)
    assert second.applied == []
    assert second.current_version == first.current_version


def test_concurrent_upgrades_apply_each_migration_once(empty_database_url: str) -> None:
    results: list[migrate.UpgradeResult] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(_upgrade(empty_database_url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = sorted(m.version for r in results for m in r.applied)
    assert applied == [m.version for m in migrate.discover()]


def test_edited_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy)
    _upgrade(empty_database_url, copy)
    first = sorted(copy.glob("0001_*.sql"))[0]
    first.write_text(first.read_text("utf-8") + "\n-- edited\n", "utf-8")
    with pytest.raises(MigrationChecksumError, match="0001"):
        _upgrade(empty_database_url, copy)


def test_failing_migration_leaves_previous_version(empty_database_url: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy)
    broken = copy / f"{len(migrate.discover()) + 1:04d}_broken.sql"
    broken.write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();\n", "utf-8")
    with pytest.raises(MigrationError, match="broken"):
        _upgrade(empty_database_url, copy)
    assert "half_done" not in _tables(empty_database_url)
    with connect(empty_database_url) as conn:
        assert max(migrate.applied_versions(conn)) == len(migrate.discover())


def test_gap_in_versions_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="without gaps"):
        migrate.discover(tmp_path)


def test_audit_log_is_append_only(database_url: str) -> None:
    """Not even the owner (whose grants would allow it) rewrites the log: the triggers refuse."""
    row = ("hub-test", "test.append", "0" * 64, "a" * 64)
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO audit_log (actor, action, prev_hash, hash) VALUES (%s, %s, %s, %s)", row)
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(psycopg2.Error, match="append-only"), connect(database_url, owner=True) as conn:
            conn.cursor().execute(statement)


def test_registry_ids_are_prefixed_and_tombstones_need_a_target(database_url: str) -> None:
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO registry_person DEFAULT VALUES RETURNING registry_id")
        (pid,) = cur.fetchone()
        assert pid.startswith("P")
        assert len(pid) == 10
        cur.execute("INSERT INTO registry_family DEFAULT VALUES RETURNING registry_id")
        assert cur.fetchone()[0].startswith("F")
    with pytest.raises(psycopg2.IntegrityError), connect(database_url) as conn:
        conn.cursor().execute("UPDATE registry_person SET status = 'replaced' WHERE registry_id = %s", (pid,))


def test_the_hub_role_cannot_delete_what_lineage_points_at(database_url: str) -> None:
    """Lineage rows and links carry staged and run ids without a per-row foreign key (0018): the rows they
    point at stay because the hub's own role may not delete them."""
    for statement in ("DELETE FROM staged_record WHERE false", "DELETE FROM run WHERE false"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), connect(database_url) as conn:
            conn.cursor().execute(statement)


def test_every_staged_record_gets_its_reconcile_row(database_url: str) -> None:
    """The trigger of 0019: a staged version waits for a reconcile from the statement that staged it."""
    with connect(database_url) as conn, conn.cursor() as cur:
        source = f"trigger_{uuid.uuid4().hex[:8]}"
        cur.execute("INSERT INTO source_system (code, agency, name, format) VALUES (%s, 'ngo', 'n', 'json')",
                    (source,))
        cur.execute("INSERT INTO run (kind, source_code) VALUES ('pull', %s) RETURNING run_id", (source,))
        (run_id,) = cur.fetchone()
        cur.execute(
            """INSERT INTO staged_record (source_code, record_kind, source_record_id, content_sha256,
                                          canonical, mapping_version, run_id)
               SELECT %s, 'person', 'trigger-test-' || i, repeat('0', 64), '{}', 'v1', %s
               FROM generate_series(1, 3) i RETURNING staged_id""",
            (source, run_id),
        )
        ids = sorted(r[0] for r in cur.fetchall())
        # Staging writes by COPY, which fires the statement trigger as well.
        cur.execute("SELECT nextval('staged_record_staged_id_seq') FROM generate_series(1, 2)")
        copied = sorted(r[0] for r in cur.fetchall())
        copy_rows(cur, "staged_record", ("staged_id", "source_code", "record_kind", "source_record_id",
                                         "content_sha256", "canonical", "mapping_version", "run_id"),
                  [(i, source, "person", f"copied-{i}", "0" * 64, "{}", "v1", run_id) for i in copied])
        cur.execute("SELECT staged_id, run_id FROM staged_reconcile WHERE staged_id = ANY(%s) ORDER BY 1",
                    (ids + copied,))
        assert cur.fetchall() == [(i, None) for i in sorted(ids + copied)]
        conn.rollback()

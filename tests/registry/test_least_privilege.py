"""Least privilege in practice: application sessions are hub_app; migrations and VACUUM are the owner's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from registry import migrate
from registry.db import connect
from registry.runs import ensure_source_system, start_run
from tests.registry.test_audit import app_login as app_url_for


@pytest.fixture
def registry(empty_database_url: str) -> str:
    with connect(empty_database_url) as conn:
        migrate.upgrade(conn)
    return empty_database_url


@pytest.fixture
def app_login(registry: str) -> Iterator[str]:
    with app_url_for(registry, f"hub_lp_app_{os.getpid()}") as url:
        yield url


def _current_user(url: str, owner: bool = False) -> str:
    with connect(url, owner=owner) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user")
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def test_application_sessions_are_hub_app_and_owner_sessions_the_login(registry: str) -> None:
    assert _current_user(registry) == "hub_app"
    assert _current_user(registry, owner=True) != "hub_app"


@pytest.mark.parametrize("statement", [
    "CREATE TABLE sneaky (x int)",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
    "DROP TRIGGER audit_log_chain ON audit_log",
    "UPDATE audit_log SET actor = 'x'",
    "DELETE FROM disclosure",
    "DELETE FROM schema_migration",
])
def test_the_application_session_cannot_change_schema_or_evidence(registry: str, statement: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), connect(registry) as conn:
        conn.cursor().execute(statement)


def test_runs_record_the_role_they_used(registry: str) -> None:
    with connect(registry) as conn:
        ensure_source_system(conn, "lp", "ngo", "least privilege", "rest_cursor")
        run_id = start_run(conn, "pull", "lp")
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("SELECT db_role FROM run WHERE run_id = %s", (run_id,))
        assert cur.fetchone() == ("hub_app",)


def test_hub_db_upgrade_with_nothing_to_apply_succeeds_as_the_application_login(app_login: str) -> None:
    done = subprocess.run([sys.executable, "-m", "hub", "db", "upgrade", "--json"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HUB_DATABASE_URL": app_login})
    assert done.returncode == 0, done.stderr
    assert '"applied": []' in done.stdout


def test_the_application_login_cannot_apply_a_migration(app_login: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder)
    extra = folder / f"{len(migrate.discover()) + 1:04d}_extra.sql"
    extra.write_text("CREATE TABLE extra (x int);\n", "utf-8")
    conn = psycopg2.connect(app_login)
    try:
        with pytest.raises(migrate.MigrationError, match="extra"):
            migrate.upgrade(conn, folder)
    finally:
        conn.close()

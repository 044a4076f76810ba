"""The audit log: the hub's role may only append; a tampered chain is found and its first broken row named.

The role test logs in as a member of ``hub_app`` (created by migration 0007) the way a deployment does.
Tampering needs what only the table owner or a superuser has: disabling the append-only trigger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import pytest
from click.testing import CliRunner

from hub.cli import main
from registry import audit, migrate
from registry.db import connect, drop_database, ensure_database, with_database


def as_user(url: str, user: str) -> str:
    """``url`` logging in as ``user`` (trust authentication on the test servers)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


def _with_entries(url: str) -> str:
    with connect(url) as conn:
        migrate.upgrade(conn)
    with connect(url) as conn:
        for n in range(5):
            audit.append(conn, "test.entry", "person", f"P{n:09d}", {"n": n}, who="auditor")
    return url


@pytest.fixture
def registry(empty_database_url: str) -> str:
    """A fresh registry with five chained audit entries (for the tests that tamper with it)."""
    return _with_entries(empty_database_url)


@pytest.fixture(scope="module")
def shared(pg_server_url: str) -> Iterator[str]:
    """One registry with five chained audit entries for the tests that leave the chain intact."""
    name = f"hub_audit_{os.getpid()}"
    ensure_database(pg_server_url, name)
    yield _with_entries(with_database(pg_server_url, name))
    drop_database(pg_server_url, name)


@pytest.fixture(scope="module")
def app_url(shared: str) -> Iterator[str]:
    """The registry URL of a login that is a member of ``hub_app`` (and nothing else)."""
    login = f"hub_audit_app_{os.getpid()}"
    with connect(shared) as conn, conn.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {login}")
        cur.execute(f"CREATE ROLE {login} LOGIN IN ROLE hub_app")
    yield as_user(shared, login)
    with connect(shared) as conn, conn.cursor() as cur:
        cur.execute(f"DROP OWNED BY {login}")
        cur.execute(f"DROP ROLE {login}")


def _ids(url: str) -> list[int]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT audit_id FROM audit_log ORDER BY audit_id")
        return [r[0] for r in cur.fetchall()]


def _as_owner(url: str, statement: str, *args: object) -> None:
    """Run ``statement`` with the append-only trigger switched off (owner/superuser only), then on again."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        cur.execute(statement, args)
        cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")


def _verify_cli(url: str) -> tuple[int, dict[str, object]]:
    result = CliRunner(env={"HUB_DATABASE_URL": url}).invoke(main, ["audit", "verify", "--json"])
    return result.exit_code, json.loads(result.output)


def test_an_intact_chain_verifies(shared: str) -> None:
    with connect(shared) as conn:
        assert audit.verify(conn) == {"ok": True, "rows": 5, "first_broken": None, "problem": None}
    assert _verify_cli(shared) == (0, {"ok": True, "rows": 5, "first_broken": None, "problem": None})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
    ],
)
def test_the_hub_role_cannot_rewrite_the_audit_log(app_url: str, statement: str) -> None:
    rows = len(_ids(app_url))
    with connect(app_url) as conn:  # the role appends and reads like the hub does
        audit.append(conn, "test.as_app", "person", "P000000009", {}, who="hub")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), connect(app_url) as conn:
        conn.cursor().execute(statement)
    assert len(_ids(app_url)) == rows + 1


def test_the_trigger_still_refuses_the_superuser(shared: str) -> None:
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(psycopg2.Error, match="append-only"), connect(shared) as conn:
            conn.cursor().execute(statement)


def test_the_hub_role_still_works_everywhere_else(app_url: str) -> None:
    with connect(app_url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO registry_person DEFAULT VALUES RETURNING registry_id")
        pid = cur.fetchone()[0]
        cur.execute("UPDATE registry_person SET golden = '{}' WHERE registry_id = %s", (pid,))
        cur.execute("SELECT count(*) FROM schema_migration")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("DELETE FROM schema_migration")


def test_an_edited_row_is_named(registry: str) -> None:
    ids = _ids(registry)
    _as_owner(registry, "UPDATE audit_log SET details = '{\"n\": 99}' WHERE audit_id = %s", ids[2])
    code, result = _verify_cli(registry)
    assert code == 1
    assert result["first_broken"] == ids[2]
    assert result["problem"] == "row edited"


def test_a_deleted_row_is_named(registry: str) -> None:
    ids = _ids(registry)
    _as_owner(registry, "DELETE FROM audit_log WHERE audit_id = %s", ids[1])
    code, result = _verify_cli(registry)
    assert code == 1
    assert result["first_broken"] == ids[2]
    assert "missing" in str(result["problem"])
    text = CliRunner(env={"HUB_DATABASE_URL": registry}).invoke(main, ["audit", "verify"])
    assert text.exit_code == 1
    assert f"BROKEN at row {ids[2]}" in text.output

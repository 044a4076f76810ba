"""The audit log: the hub's role may only append; a tampered chain is found and its first broken row named.

The role test logs in as a member of ``hub_app`` (created by migration 0007) the way a deployment does.
Tampering needs what only the table owner or a superuser has: disabling the append-only trigger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


@contextmanager
def app_login(url: str, login: str) -> Iterator[str]:
    """``url`` for a new login ``login`` that is a member of ``hub_app`` (and nothing else); dropped after."""
    with connect(url, owner=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {login}")
        cur.execute(f"CREATE ROLE {login} LOGIN IN ROLE hub_app")
    try:
        yield as_user(url, login)
    finally:
        with connect(url, owner=True) as conn, conn.cursor() as cur:
            cur.execute(f"DROP OWNED BY {login}")
            cur.execute(f"DROP ROLE {login}")


@pytest.fixture(scope="module")
def app_url(shared: str) -> Iterator[str]:
    """The registry URL of a login that is a member of ``hub_app`` (and nothing else)."""
    with app_login(shared, f"hub_audit_app_{os.getpid()}") as url:
        yield url


def _ids(url: str) -> list[int]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT audit_id FROM audit_log ORDER BY audit_id")
        return [r[0] for r in cur.fetchall()]


def _as_owner(url: str, statement: str, *args: object) -> None:
    """Run ``statement`` with the append-only trigger switched off (owner/superuser only), then on again."""
    with connect(url, owner=True) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        cur.execute(statement, args)
        cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")


def _verify_cli(url: str) -> tuple[int, dict[str, object]]:
    result = CliRunner(env={"HUB_DATABASE_URL": url}).invoke(main, ["audit", "verify", "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_an_intact_chain_verifies(shared: str) -> None:
    with connect(shared) as conn:
        result = audit.verify(conn)
    assert (result["ok"], result["rows"], result["first_broken"], result["problems"]) == (True, 5, None, [])
    code, cli = _verify_cli(shared)
    assert (code, cli["ok"], cli["rows"]) == (0, True, 5)


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
        with pytest.raises(psycopg2.Error, match="append-only"), connect(shared, owner=True) as conn:
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
    assert result["problem"] == "row edited (its content differs from what was signed)"


def test_a_deleted_row_is_named(registry: str) -> None:
    ids = _ids(registry)
    _as_owner(registry, "DELETE FROM audit_log WHERE audit_id = %s", ids[1])
    code, result = _verify_cli(registry)
    assert code == 1
    assert result["first_broken"] == ids[2]
    assert "missing" in str(result["problem"])
    text = CliRunner(env={"HUB_DATABASE_URL": registry}).invoke(main, ["audit", "verify"])
    assert text.exit_code == 1
    assert f"row {ids[2]}: chain broken" in text.output


def _recompute_chain(url: str) -> None:
    """What an owner with the formula but without the key can do: rechain every row from the genesis."""
    with connect(url, owner=True) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        cur.execute("SELECT audit_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
                    "signed, signature FROM audit_log ORDER BY audit_id")
        prev = audit.GENESIS
        for audit_id, at, signed, signature in cur.fetchall():
            digest = audit.row_hash(prev, audit_id, at, signed, signature)
            cur.execute("UPDATE audit_log SET prev_hash = %s, hash = %s WHERE audit_id = %s",
                        (prev, digest, audit_id))
            prev = digest
        cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")


def _checkpoint(url: str) -> None:
    result = CliRunner(env={"HUB_DATABASE_URL": url}).invoke(main, ["audit", "checkpoint", "--json"])
    assert result.exit_code == 0, result.output


def test_a_row_deleted_and_the_chain_recomputed_is_found_by_the_checkpoint(registry: str) -> None:
    _checkpoint(registry)
    ids = _ids(registry)
    _as_owner(registry, "DELETE FROM audit_log WHERE audit_id = %s", ids[1])
    _recompute_chain(registry)
    code, result = _verify_cli(registry)
    assert code == 1
    assert "the chain was recomputed" in str(result["problem"])
    assert result["first_broken"] == ids[-1]


def test_a_cut_tail_is_found_by_the_checkpoint(registry: str) -> None:
    _checkpoint(registry)
    ids = _ids(registry)
    _as_owner(registry, "DELETE FROM audit_log WHERE audit_id >= %s", ids[3])
    code, result = _verify_cli(registry)
    assert code == 1
    assert "tail was cut" in str(result["problem"])
    text = CliRunner(env={"HUB_DATABASE_URL": registry}).invoke(main, ["audit", "verify"])
    assert "tail was cut" in text.output


def test_an_edited_row_with_a_recomputed_chain_fails_its_signature(registry: str) -> None:
    ids = _ids(registry)
    forged = audit.content_text("auditor", "test.entry", "person", "P000000002", {"n": 42}, "x", None, None)
    _as_owner(registry, "UPDATE audit_log SET details = '{\"n\": 42}', signed = %s WHERE audit_id = %s",
              forged, ids[2])
    _recompute_chain(registry)
    code, result = _verify_cli(registry)
    assert code == 1
    assert result["first_broken"] == ids[2]
    assert "signature invalid" in str(result["problem"])


def test_the_hub_role_cannot_plant_a_chain_value_and_later_edits_are_still_found(
    registry: str, app_url: str
) -> None:
    app = as_user(registry, urlsplit(app_url).username or "")
    with connect(app) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit_log (actor, action, prev_hash, hash)
                       VALUES ('hub', 'planted', %s, %s) RETURNING prev_hash, hash""", ("f" * 64, "e" * 64))
        prev, digest = cur.fetchone()
    assert prev != "f" * 64  # the database chains it, whatever the client says
    assert digest != "e" * 64
    with connect(registry) as conn:
        audit.append(conn, "test.after", "person", "P000000008", {"n": 8}, who="auditor")
    ids = _ids(registry)
    _as_owner(registry, "UPDATE audit_log SET details = '{\"n\": 1}' WHERE audit_id = %s", ids[-1])
    code, result = _verify_cli(registry)
    assert code == 1
    problems = {p["audit_id"]: p["problem"] for p in result["problems"]}  # type: ignore[union-attr]
    assert problems[ids[-2]] == "unsigned row (written without the hub's key)"
    assert problems[ids[-1]] == "row edited (its content differs from what was signed)"


def test_who_is_recorded_beside_the_declared_actor(registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ACTOR", "steward-ivanova")
    with connect(registry) as conn:
        audit.append(conn, "test.cli")
    for name, value in {"AIRFLOW_CTX_DAG_ID": "push", "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2026-12-01",
                        "AIRFLOW_CTX_TASK_ID": "push_ngo", "AIRFLOW_CTX_TRY_NUMBER": "2"}.items():
        monkeypatch.setenv(name, value)
    with connect(registry) as conn:
        audit.append(conn, "test.dag")
    with connect(registry) as conn, conn.cursor() as cur:
        cur.execute("SELECT action, actor, os_user, declared_actor, airflow_run FROM audit_log "
                    "WHERE action LIKE 'test.%%' AND action <> 'test.entry' ORDER BY audit_id")
        rows = cur.fetchall()
    assert rows[0][:2] == ("test.cli", "steward-ivanova")
    assert rows[0][2]
    assert rows[0][3] == "steward-ivanova"
    assert rows[1][1] == "airflow:push/scheduled__2026-12-01/push_ngo#2"
    assert rows[1][4] == "push/scheduled__2026-12-01/push_ngo#2"
    with connect(registry) as conn:
        assert audit.verify(conn)["ok"] is True


def test_concurrent_appends_form_one_chain_in_id_order(registry: str) -> None:
    """Ids are drawn under the chain's lock: rows committed by racing sessions still verify in id order."""
    import threading

    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        barrier.wait()
        for k in range(15):
            with connect(registry) as conn:
                audit.append(conn, "test.race", "person", f"P{n}{k:08d}", {"n": n, "k": k}, who="auditor")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connect(registry) as conn:
        result = audit.verify(conn)
    assert (result["ok"], result["rows"], result["problems"]) == (True, 5 + 60, [])


def test_a_registry_created_again_under_the_same_name_is_not_taken_for_a_rewritten_one(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hub demo drops and recreates its registry: the old registry's checkpoints are not this one's."""
    monkeypatch.setenv("HUB_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints.jsonl"))
    name = f"hub_audit_again_{os.getpid()}"
    for _ in range(2):
        drop_database(pg_server_url, name)
        ensure_database(pg_server_url, name)
        url = _with_entries(with_database(pg_server_url, name))
        with connect(url) as conn:
            audit.checkpoint(conn)
            result = audit.verify(conn)
        assert (result["ok"], result["checkpoints"]) == (True, 1), result["problems"]
    drop_database(pg_server_url, name)

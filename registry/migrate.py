"""Versioned schema migrations: numbered SQL files applied in order, recorded in ``schema_migration``.

Why numbered SQL and not alembic: the registry has no ORM models to autogenerate from, and auditors read
plain SQL more easily. Each file ``NNNN_name.sql`` runs in its own transaction under an advisory lock, so
two concurrent ``hub db upgrade`` calls apply each migration once. A file already applied must not change:
its sha256 is stored and compared on every upgrade.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2.errors
import psycopg2.extensions

from registry.errors import MigrationChecksumError, MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x4855_4201  # advisory lock id for migrations ("HUB" + 1)

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version     integer PRIMARY KEY,
    name        text        NOT NULL,
    sha256      text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text("utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class UpgradeResult:
    """What an upgrade did."""

    applied: list[Migration]
    current_version: int

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": [{"version": m.version, "name": m.name} for m in self.applied],
            "current_version": self.current_version,
        }


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a gap or a duplicate version is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_case_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1..{len(found)} without gaps, found {versions}")
    return found


def applied_versions(conn: psycopg2.extensions.connection) -> dict[int, str]:
    """version → sha256 of what the database has applied (empty for a new database)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migration') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return {}
        cur.execute("SELECT version, sha256 FROM schema_migration")
        return {int(v): str(s) for v, s in cur.fetchall()}


def upgrade(conn: psycopg2.extensions.connection, directory: Path = MIGRATIONS_DIR) -> UpgradeResult:
    """Apply every pending migration; idempotent. ``conn`` must not be in a transaction.

    Migrations are the owner's: the session leaves the application role (``SET ROLE NONE``; a login that is
    itself only ``hub_app`` stays what it is). With nothing to apply nothing is written, so ``hub db
    upgrade`` succeeds for the application's own login too.
    """
    migrations = discover(directory)
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SET ROLE NONE")
    done = applied_versions(conn)
    conn.commit()
    _check_unchanged(migrations, done)
    if all(m.version in done for m in migrations):
        return UpgradeResult([], migrations[-1].version if migrations else 0)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            cur.execute(_BOOKKEEPING)
        except psycopg2.errors.InsufficientPrivilege as exc:
            conn.rollback()
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            conn.commit()
            pending = ", ".join(f"{m.version:04d}_{m.name}" for m in migrations if m.version not in done)
            raise MigrationError(f"migrations pending ({pending}) but this login may not change the schema "
                                 "(it acts as hub_app): run `hub db upgrade` with the owner's URL") from exc
    conn.commit()
    try:
        done = applied_versions(conn)
        _check_unchanged(migrations, done)
        applied = [m for m in migrations if m.version not in done]
        for migration in applied:
            _apply(conn, migration)
        return UpgradeResult(applied, migrations[-1].version if migrations else 0)
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.commit()


def _check_unchanged(migrations: list[Migration], done: dict[int, str]) -> None:
    for migration in migrations:
        stored = done.get(migration.version)
        if stored is not None and stored != migration.sha256:
            raise MigrationChecksumError(
                f"migration {migration.version:04d}_{migration.name} was edited after it was applied; "
                "add a new migration instead"
            )
    unknown = sorted(set(done) - {m.version for m in migrations})
    if unknown:
        raise MigrationError(f"database has migrations this code does not know: {unknown}")


def _apply(conn: psycopg2.extensions.connection, migration: Migration) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(migration.sql)
            cur.execute(
                "INSERT INTO schema_migration (version, name, sha256) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.sha256),
            )
        conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name} failed: {exc.pgerror or exc}".strip()
        ) from exc

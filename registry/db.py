"""Where the registry lives and how to connect to it.

``HUB_DATABASE_URL`` wins; without it the hub starts (or reuses) an embedded PostgreSQL from the pgserver
wheel in ``<HUB_HOME>/pgdata`` (``HUB_HOME`` defaults to ``.hub/`` at the project root). The embedded
server keeps running between commands so that each ``hub`` call does not pay for a start-up.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

from registry.errors import DatabaseUnavailableError
from schemas.settings import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DATABASE = "hub"


def hub_home() -> Path:
    """The hub's working folder: ``HUB_HOME`` or ``.hub/`` at the project root."""
    return settings().home_dir


def database_url() -> str:
    """The registry URL in use: ``HUB_DATABASE_URL`` or the embedded server's."""
    url = settings().database_url
    return url if url else embedded_url()


def embedded_url(database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded PostgreSQL and return the URL of ``database``, creating it."""
    server_url = _embedded_server_url(hub_home() / "pgdata")
    ensure_database(server_url, database)
    return with_database(server_url, database)


def _embedded_server_url(pgdata: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        from pgserver.postgres_server import get_server

        pgdata.mkdir(parents=True, exist_ok=True)
        try:
            server = get_server(pgdata, cleanup_mode=None)
        except Exception as exc:  # pgserver raises bare subprocess/assertion errors
            raise DatabaseUnavailableError(f"embedded PostgreSQL in {pgdata} did not start: {exc}") from exc
        return str(server.get_uri())


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def ensure_database(server_url: str, database: str) -> None:
    """Create ``database`` on the server at ``server_url`` unless it exists."""
    conn = connect_raw(with_database(server_url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{database}"')
    finally:
        conn.close()


def drop_database(server_url: str, database: str) -> None:
    """Drop ``database`` (closing its other sessions first)."""
    conn = connect_raw(with_database(server_url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        conn.close()


APP_ROLE = "hub_app"
"""The application's role (migration 0007): no DDL, no trigger control, no audit rewrite."""


def connect_raw(url: str, role: str | None = None) -> psycopg2.extensions.connection:
    """A connection; with ``role`` its session runs as that role from the start (``-c role=…``).

    A database that has not been migrated has no ``hub_app`` yet: then the login's own role is used (there
    is nothing to protect, and ``hub db upgrade`` has to run first anyway).
    """
    options = f"-c role={role}" if role else None
    try:
        if options:
            return psycopg2.connect(url, connect_timeout=5, application_name="family-hub", options=options)
        return psycopg2.connect(url, connect_timeout=5, application_name="family-hub")
    except psycopg2.OperationalError as exc:
        if role and _no_such_role(str(exc), role):  # not migrated: no hub_app yet
            return connect_raw(url)
        raise _unavailable(exc) from exc
    except psycopg2.ProgrammingError:  # "invalid dsn": the message would quote the URL, password included
        raise DatabaseUnavailableError(
            "the registry database URL (HUB_DATABASE_URL) is not a valid PostgreSQL URL or key=value string"
        ) from None


def _no_such_role(message: str, role: str) -> bool:
    # The server says either (the role exists nowhere in the cluster, or is not usable by this login).
    return f'role "{role}" does not exist' in message or 'invalid value for parameter "role"' in message


def _unavailable(exc: psycopg2.OperationalError) -> DatabaseUnavailableError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
    return DatabaseUnavailableError(f"cannot connect to the registry database: {first_line}")


@contextmanager
def connect(url: str | None = None, *, owner: bool = False) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the registry; committed on success, rolled back on error, always closed.

    Its session runs as ``hub_app`` (least privilege: the nightly pulls, reconcile, push and every command
    can read and write data but not change the schema, disable a trigger or rewrite the audit log), unless
    ``owner`` — migrations and VACUUM, the only owner's work, ask for it.
    """
    conn = connect_raw(url or database_url(), None if owner else APP_ROLE)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def redact(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url

"""Exceptions of the registry package.

Hierarchy::

    RegistryError
    ├── DatabaseUnavailableError    no server answers at the URL, or the embedded one won't start
    ├── RunBusyError                another run of the same kind and scope holds the run lock
    └── MigrationError              a migration could not be applied
        └── MigrationChecksumError  an applied migration file was edited afterwards
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import psycopg2

from schemas.errors import HubError

_ROOT = Path(__file__).resolve().parents[1]


class RegistryError(HubError):
    """Base of every error raised by the registry package."""


class DatabaseUnavailableError(RegistryError):
    """The registry database cannot be reached."""


class RunBusyError(RegistryError):
    """Another run of the same kind and scope holds the lock (one pull per source, one reconcile, …)."""


class MigrationError(RegistryError):
    """A migration failed; the database stays at the last fully applied version."""


class MigrationChecksumError(MigrationError):
    """A migration that was already applied has been changed on disk."""


def safe_error(exc: BaseException) -> str:
    """A one-line, PII-free description of an unexpected exception, for the run row, logs and Airflow.

    The class, where it was raised in our code and, for a database error, SQLSTATE, the primary message
    with anything quoted masked (``invalid input syntax for type date: "…"``) and the names of the
    constraint, table and column; never DETAIL or CONTEXT, which quote values.
    """
    text = f"{type(exc).__name__} at {_where(exc)}"
    if isinstance(exc, psycopg2.Error):
        text += f": {_database_error(exc)}"
    return text[:500]


def _database_error(exc: psycopg2.Error) -> str:
    diag = exc.diag
    primary = re.sub(r'"[^"]*"|\'[^\']*\'', "…", diag.message_primary or "(no message)")
    objects = (("constraint", diag.constraint_name), ("table", diag.table_name), ("column", diag.column_name))
    names = [f"{what} {name}" for what, name in objects if name]
    return "; ".join([f"SQLSTATE {exc.pgcode or '?'}", primary.strip(), *names])


def _where(exc: BaseException) -> str:
    """``file:line in function`` of the innermost frame in the hub's code (else the innermost frame)."""
    frames = [(f, _in_hub(f.filename)) for f in traceback.extract_tb(exc.__traceback__)]
    if not frames:
        return "(unknown)"
    frame, name = next((f for f in reversed(frames) if f[1] is not None), frames[-1])
    return f"{name or Path(frame.filename).name}:{frame.lineno} in {frame.name}"


def _in_hub(filename: str) -> str | None:
    """``filename`` relative to the project when it is the hub's own code (not the virtualenv)."""
    path = Path(filename).resolve()
    if not path.is_relative_to(_ROOT) or ".venv" in path.parts:
        return None
    return str(path.relative_to(_ROOT))

"""Shared fixtures: a real PostgreSQL database per test session, and an isolated Airflow home.

The server is ``HUB_TEST_DATABASE_URL`` if set, else the PostgreSQL on 127.0.0.1:5432 if it answers, else
the embedded pgserver. Each session creates its own database and drops it at the end.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration at first import: point it at a throw-away home before any test imports it.
# Each process (the xdist controller and every worker) removes the folders it made when it exits.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="hub-test-airflow-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
# The hub's own working folder (audit keys and checkpoints among it) is the test session's, not the project's.
if "HUB_HOME" not in os.environ:  # workers inherit the controller's
    os.environ["HUB_HOME"] = tempfile.mkdtemp(prefix="hub-test-home-")
    atexit.register(shutil.rmtree, os.environ["HUB_HOME"], ignore_errors=True)

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
pytest_plugins = ["tests.web_world"]  # the workspace over a sandbox registry: tests/web and tests/security


def _answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of a PostgreSQL server the tests may create databases on."""
    from registry.db import embedded_url, with_database

    explicit = os.environ.get("HUB_TEST_DATABASE_URL")
    if explicit:
        return explicit
    if _answers(LOCAL_SERVER):
        return LOCAL_SERVER
    return with_database(embedded_url("postgres"), "postgres")


def _create_database(server_url: str, prefix: str) -> str:
    from registry.db import ensure_database, with_database

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    ensure_database(server_url, name)
    return with_database(server_url, name)


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[str]:
    """A migrated registry database for this test session, dropped at the end."""
    from registry import migrate
    from registry.db import connect, drop_database

    url = _create_database(pg_server_url, "hub_test")
    with connect(url) as conn:
        migrate.upgrade(conn)
    yield url
    drop_database(pg_server_url, url.rsplit("/", 1)[1].split("?")[0])


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A brand-new empty database for one test, dropped afterwards."""
    from registry.db import drop_database

    url = _create_database(pg_server_url, "hub_empty")
    yield url
    drop_database(pg_server_url, url.rsplit("/", 1)[1].split("?")[0])


@pytest.fixture
def hub_cli() -> list[str]:
    """The command that runs the real ``hub`` CLI of this checkout."""
    return [sys.executable, "-m", "hub"]


from tests.sources import agency, make_source, recorder  # noqa: E402,F401  (fixtures for every test)

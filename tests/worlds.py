"""A sandbox region for tests: generated agencies served on loopback, their connections in the environment,
and a migrated registry database of its own (dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.config import load_sources
from connectors.pipeline import Puller
from registry import migrate
from registry.db import connect, drop_database, ensure_database, with_database
from sandbox.connections import hub_connections
from sandbox.generate import generate
from sandbox.server.app import serve


@contextmanager
def sandbox_region(pg_server_url: str, sandbox: Path, families: int, seed: int, prefix: str) -> Iterator[str]:
    """Yield the registry URL while the sandbox's agencies answer on 127.0.0.1."""
    generate(sandbox, families, seed=seed)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    ensure_database(pg_server_url, name)
    url = with_database(pg_server_url, name)
    with connect(url) as conn:
        migrate.upgrade(conn)
    handle = serve(sandbox, faults=0.0, rate_limit=10_000.0)
    saved = dict(os.environ)
    os.environ.update(hub_connections(sandbox, handle.ports))
    try:
        yield url
    finally:
        handle.stop()
        os.environ.clear()
        os.environ.update(saved)
        drop_database(pg_server_url, name)


def pull_all(url: str) -> None:
    """One pull of every configured source into the registry at ``url``."""
    for source in load_sources().values():
        Puller(source, url).run()

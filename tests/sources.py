"""Sources of their own for tests: a fresh source code and connection per test, through the real pipeline."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from connectors.config import SourceConfig
from connectors.pipeline import Puller, PullStats
from tests.security.servers import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-agency-credential-7f1d"


@pytest.fixture
def recorder() -> Iterator[ScriptedServer]:
    """A foreign origin on a second loopback port: nothing of an agency may ever reach it."""
    server = ScriptedServer()
    yield server
    server.stop()


@pytest.fixture
def agency() -> Iterator[ScriptedServer]:
    """The agency's own server; tests script its routes."""
    server = ScriptedServer()
    yield server
    server.stop()


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


class Source:
    """A configured source of its own (code, connection in the environment) and what its pulls left."""

    def __init__(self, config: SourceConfig, url: str) -> None:
        self.config, self.url = config, url

    @property
    def code(self) -> str:
        return self.config.code

    def pull(self) -> PullStats:
        return Puller(self.config, url=self.url).run()

    def quarantine(self) -> list[tuple[str, str]]:
        return [(str(c), str(r)) for c, r in query(
            self.url, "SELECT reason_code, reason FROM quarantine WHERE source_code = %s ORDER BY 1, 2",
            (self.code,))]

    def staged(self, kind: str = "person") -> set[str]:
        return {str(r[0]) for r in query(
            self.url, "SELECT source_record_id FROM staged_record WHERE source_code = %s "
            "AND record_kind = %s AND superseded_by IS NULL", (self.code, kind))}

    def raw_payloads(self) -> list[bytes]:
        from registry import staging

        conn = psycopg2.connect(self.url)
        try:
            ids = [r[0] for r in query(self.url, "SELECT payload_id FROM raw_payload WHERE source_code = %s",
                                       (self.code,))]
            return [b"".join(staging.payload_bytes(conn, i)) for i in ids]
        finally:
            conn.close()


MakeSource = Callable[..., Source]


@pytest.fixture
def make_source(monkeypatch: pytest.MonkeyPatch, database_url: str) -> MakeSource:
    """``make_source(connector, mapping, connection={...}, **config)``: a fresh source code and connection."""

    def make(connector: str, mapping: str, connection: dict[str, Any], **config: Any) -> Source:
        code = f"sec_{uuid.uuid4().hex[:12]}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{code.upper()}", json.dumps(connection))
        entry = {"code": code, "agency": config.pop("agency", "ngo"), "name": "security test",
                 "connector": connector, "connection_id": code, "mapping": mapping,
                 "quarantine_threshold": 1.0, **config}  # the gate is tested elsewhere: here, what is kept
        return Source(SourceConfig.model_validate(entry), database_url)

    return make


def http_connection(server: ScriptedServer, **extra: Any) -> dict[str, Any]:
    return {"conn_type": "http", "host": "127.0.0.1", "port": server.port, "password": SECRET, "extra": extra}

"""Connections in Airflow's format, read from ``AIRFLOW_CONN_<ID>`` (JSON or URI), inside or outside Airflow.

Credentials live only there (in the demo: environment variables; in production: Airflow's secrets backend,
which exports the same variables to tasks). The hub reads the variables itself so that ``hub pull`` and
the DAG tasks use one mechanism without importing Airflow in the CLI.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from connectors.errors import ConnectionConfigError


@dataclass(frozen=True)
class Connection:
    """Host, credentials and extras of one agency system."""

    conn_id: str
    conn_type: str
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def base_url(self) -> str:
        scheme = self.extra.get("scheme", "http")
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{self.host}{port}"


def env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def get_connection(conn_id: str) -> Connection:
    """The connection ``conn_id`` from the environment (ConnectionConfigError names a missing variable)."""
    raw = os.environ.get(env_var(conn_id))
    if not raw:
        raise ConnectionConfigError(f"connection {conn_id!r} is not configured: set {env_var(conn_id)}")
    try:
        return (
            _from_json(conn_id, json.loads(raw)) if raw.lstrip().startswith("{") else _from_uri(conn_id, raw)
        )
    except (ValueError, TypeError) as exc:
        raise ConnectionConfigError(
            f"{env_var(conn_id)} is not a valid connection: {type(exc).__name__}"
        ) from exc


def _from_json(conn_id: str, data: dict[str, Any]) -> Connection:
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    return Connection(
        conn_id,
        data.get("conn_type", "http"),
        data.get("host"),
        int(data["port"]) if data.get("port") else None,
        data.get("schema"),
        data.get("login"),
        data.get("password"),
        extra,
    )


def _from_uri(conn_id: str, uri: str) -> Connection:
    parts = urlsplit(uri)
    extra: dict[str, Any] = dict(parse_qsl(parts.query))
    return Connection(
        conn_id,
        parts.scheme.replace("-", "_"),
        unquote(parts.hostname or "") or None,
        parts.port,
        unquote(parts.path.lstrip("/")) or None,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        extra,
    )


def to_env_json(conn_type: str, **fields: Any) -> str:
    """Serialise a connection for ``AIRFLOW_CONN_…`` (what the demo sets)."""
    return json.dumps({"conn_type": conn_type, **{k: v for k, v in fields.items() if v is not None}})

"""The Airflow Connections (``AIRFLOW_CONN_…``) that point the hub at a running sandbox.

The sandbox knows its agencies' secrets (``sandbox.json``) and the servers know their ports; the demo and
the tests export these variables so the hub finds the agencies the way it would in production.
"""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.generate import SandboxConfig


def hub_connections(data_dir: Path, ports: dict[str, int], host: str = "127.0.0.1") -> dict[str, str]:
    """Environment variable → connection JSON for the four sandbox agencies."""
    creds = SandboxConfig.load(data_dir).credentials
    conns = {
        "health_fhir": {  # OAuth2 client credentials: the hub gets its bearer token from the agency
            "conn_type": "http",
            "host": host,
            "port": ports["health"],
            "schema": "fhir",
            "login": creds.get("health_client_id"),
            "password": creds.get("health_client_secret"),
            "extra": {"auth": "oauth2", "token_url": "/oauth/token"},
        },
        "ngo_api": {
            "conn_type": "http",
            "host": host,
            "port": ports["ngo"],
            "password": creds["ngo_api_key"],
            "extra": {"auth": "api_key", "api_key_header": "X-API-Key"},
        },
        "education_smev": {
            "conn_type": "http",
            "host": host,
            "port": ports["education"],
            "extra": {"node_id": creds["education_node"]},
        },
        "szn_drop": {
            "conn_type": "fs",
            "extra": {
                "path": str(data_dir.resolve() / "social_protection" / "drop"),
                "outbox": str(data_dir.resolve() / "social_protection" / "inbox"),
            },
        },
    }
    return {f"AIRFLOW_CONN_{cid.upper()}": json.dumps(c) for cid, c in conns.items()}

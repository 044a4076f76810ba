"""``python -m hub.secrets_check``: the compose init step refuses to start on placeholder secrets.

Each secret must be set, must not be a placeholder of ``docker/.env.example`` (``change-me``…) or a
well-known default (``admin:admin``), and the Fernet key must be a real one. Names what is wrong, never a
value; exit 1 if anything is.
"""

from __future__ import annotations

import os
import sys

from cryptography.fernet import Fernet

SECRETS = ("AIRFLOW_DB_PASSWORD", "HUB_REGISTRY_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET",
           "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS")
PLACEHOLDERS = ("change-me", "changeme", "admin:admin", "password", "secret")
MIN_LENGTH = 16


def problems(env: dict[str, str]) -> list[str]:
    """What is wrong with the deployment's secrets (names only)."""
    found = []
    for name in SECRETS:
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is not set")
        elif any(p in value.lower() for p in PLACEHOLDERS):
            found.append(f"{name} is a placeholder or a well-known default")
        elif name.endswith(("PASSWORD", "JWT_SECRET")) and len(value) < MIN_LENGTH:
            found.append(f"{name} is shorter than {MIN_LENGTH} characters")
    key = env.get("AIRFLOW__CORE__FERNET_KEY", "")
    if key and not any("FERNET_KEY" in p for p in found):
        try:
            Fernet(key.encode())
        except ValueError:
            found.append("AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)")
    return found


def main() -> int:
    found = problems(dict(os.environ))
    for problem in found:
        print(f"error: {problem}; set it in docker/.env", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

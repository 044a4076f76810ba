"""``hub db``: the registry database (URL, migrations, status)."""

from __future__ import annotations

from typing import Any

import click

from hub.output import emit, json_option


@click.group()
def db() -> None:
    """The registry database: where it is, its schema version, migrations."""


@db.command()
@json_option
def upgrade(as_json: bool) -> None:
    """Apply pending migrations (idempotent)."""
    from registry.maintenance import upgrade_registry

    emit(upgrade_registry(), as_json, _upgrade_text)


def _upgrade_text(result: dict[str, Any]) -> str:
    applied = result["applied"]
    if not applied:
        return f"registry is up to date at version {result['current_version']} ({result['database']})"
    names = ", ".join(f"{m['version']:04d}_{m['name']}" for m in applied)
    return f"applied {len(applied)} migration(s): {names}; now at version {result['current_version']}"


@db.command()
def url() -> None:
    """Print the registry URL in use (HUB_DATABASE_URL, else the embedded server in .hub/)."""
    from registry.db import database_url

    click.echo(database_url())


@db.command()
@json_option
def status(as_json: bool) -> None:
    """Schema version, pending migrations and row counts."""
    from registry.maintenance import registry_status

    emit(registry_status(), as_json, _status_text)


def _status_text(result: dict[str, Any]) -> str:
    lines = [
        f"database        {result['database']}",
        f"schema version  {result['schema_version']} (latest {result['latest_version']})",
    ]
    if result["pending"]:
        lines.append(f"pending         {', '.join(result['pending'])}  → run: hub db upgrade")
    lines += [f"  {table:<20} {count:>10,}" for table, count in result["rows"].items()]
    return "\n".join(lines)

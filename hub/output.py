"""Printing results: ``--json`` for machines, short text for people; errors to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or through ``human`` for a person at a terminal."""
    if as_json or human is None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human(data))


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")

"""Printing results: ``--json`` for machines, short text for people; errors to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or through ``human`` for a person at a terminal."""
    if as_json or human is None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human(data))


def one_line(text: str) -> str:
    """The first line of ``text``, for ``error: …`` (multi-line details belong to the report on stdout)."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return "failed"
    return lines[0] + (f" (+{len(lines) - 1} more line(s))" if len(lines) > 1 else "")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")

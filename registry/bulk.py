"""Bulk writes through ``COPY … FROM STDIN`` (CSV): a first night inserts hundreds of thousands of rows.

``execute_values`` renders every row into SQL text on the client (``mogrify``) and the server parses it
again; COPY streams the rows. Measured on the 100k-record first night: the lineage of 29k golden persons
(320k rows) … see ``bench/night.py``. CSV quoting keeps ``None`` apart from ``''``: every non-numeric value
is quoted, and an unquoted empty field is NULL (``_csv_field``; the csv module quotes None too).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg2.extensions


def copy_rows(
    cur: psycopg2.extensions.cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY ``rows`` into ``table`` (``columns`` in order); return how many were sent."""
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write(",".join(map(_csv_field, row)))
        buffer.write("\n")
        count += 1
    if count:
        buffer.seek(0)
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
    return count


def _csv_field(value: Any) -> str:
    # Python's csv module writes None as a quoted "" under QUOTE_NONNUMERIC (before 3.12's QUOTE_NOTNULL),
    # which COPY reads as '' — so the fields are written here: None unquoted (NULL), text always quoted.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))  # an IntEnum too
    if isinstance(value, float):
        return float.__repr__(value)
    text = str(value)
    return '"' + text.replace('"', '""') + '"'


def temp_table(cur: psycopg2.extensions.cursor, name: str, like: str) -> None:
    """An empty session-local table ``name`` with the columns ``like`` (e.g. ``"id text, g jsonb"``).

    Kept for the session and emptied on each use: a night's batches share one transaction.
    """
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({like})")
    cur.execute(f"TRUNCATE {name}")

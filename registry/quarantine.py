"""Reading the quarantine (``hub quarantine``)."""

from __future__ import annotations

from typing import Any

import zstandard

from registry.db import connect

_COLUMNS = (
    "quarantine_id",
    "source_code",
    "run_id",
    "payload_id",
    "reason_code",
    "reason",
    "record_pointer",
    "position",
    "raw_sha256",
    "created_at",
)


def list_quarantine(source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first; positions and reasons only."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM quarantine WHERE (%s::text IS NULL OR source_code = %s) "
            "ORDER BY quarantine_id DESC LIMIT %s",
            (source, source, limit),
        )
        return [dict(zip(_COLUMNS, row, strict=True)) for row in cur.fetchall()]


def list_warnings(source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Current staged records kept with warnings (a value dropped or kept raw), newest first; no values."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT staged_id, source_code, record_kind, source_record_id, run_id, raw_pointer, warnings
               FROM staged_record
               WHERE superseded_by IS NULL AND warnings <> '[]'::jsonb
                 AND (%s::text IS NULL OR source_code = %s)
               ORDER BY staged_id DESC LIMIT %s""",
            (source, source, limit),
        )
        cols = ("staged_id", "source_code", "record_kind", "source_record_id", "run_id", "raw_pointer",
                "warnings")
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def show_quarantine(quarantine_id: int, with_raw: bool = False) -> dict[str, Any] | None:
    """One row; ``with_raw`` adds the raw bytes decoded as text (lossy for binary)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(_COLUMNS)}, raw_content FROM quarantine WHERE quarantine_id = %s",
            (quarantine_id,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    out = dict(zip(_COLUMNS, row[:-1], strict=True))
    if with_raw:
        out["raw"] = zstandard.ZstdDecompressor().decompress(bytes(row[-1])).decode("utf-8", "replace")
    return out

"""Maintenance: retention deletes only old resolved quarantine rows; VACUUM runs."""

from __future__ import annotations

import hashlib

from registry.db import connect
from registry.maintenance import vacuum_and_retention
from registry.runs import ensure_source_system, start_run


def test_retention_keeps_unresolved_and_recent_rows(empty_database_url: str) -> None:
    from registry import migrate

    with connect(empty_database_url) as conn:
        migrate.upgrade(conn)
    with connect(empty_database_url) as conn, conn.cursor() as cur:
        ensure_source_system(conn, "ngo", "ngo", "NGO", "rest_cursor")
        run_id = start_run(conn, "pull", "ngo")
        for n, resolved in enumerate(["now() - interval '800 days'", "now() - interval '10 days'", "NULL"]):
            raw = f"record {n}".encode()
            cur.execute(
                f"""INSERT INTO quarantine (source_code, run_id, reason_code, reason, raw_sha256,
                                            raw_compression, raw_content, resolved_at)
                    VALUES ('ngo', %s, 'parse_error', 'test', %s, 'none', %s, {resolved})""",
                (run_id, hashlib.sha256(raw).hexdigest(), raw),
            )
    result = vacuum_and_retention(empty_database_url, retention_days=730)
    assert result["quarantine_rows_deleted"] == 1
    with connect(empty_database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(resolved_at) FROM quarantine")
        assert cur.fetchone() == (2, 1)

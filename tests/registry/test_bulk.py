"""COPY writes keep NULL apart from empty text, and carry any text, numbers and arrays as sent."""

from __future__ import annotations

import psycopg2

from registry.bulk import copy_rows, temp_table


def test_copy_keeps_none_apart_from_empty_text(empty_database_url: str) -> None:
    rows = [("a", None, 1, None), ("", "x", None, "{1,2}"), ('quote " and, comma\nnewline', "", 2.5, "{}")]
    with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cur:
        temp_table(cur, "_t", "t text, u text, n double precision, k bigint[]")
        assert copy_rows(cur, "_t", ("t", "u", "n", "k"), rows) == 3
        cur.execute("SELECT t, u, n, k FROM _t ORDER BY n NULLS FIRST")
        assert cur.fetchall() == [("", "x", None, [1, 2]), ("a", None, 1.0, None),
                                  ('quote " and, comma\nnewline', "", 2.5, [])]


def test_copy_carries_hostile_text_as_data(empty_database_url: str) -> None:
    """An agency's id or name travels into COPY (links, lineage, features): COPY's end-of-data marker on a
    line of its own, backslashes, CR, tabs and quotes stay data and end no row early."""
    hostile = ["a\n\\.\nb", "\\.", "\\.\n", "back\\slash\\N", "cr\rlf\r\n", "tab\there", '"', '""\n"', "ё✓"]
    rows = [(text, i) for i, text in enumerate(hostile)]
    with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cur:
        temp_table(cur, "_h", "t text, n bigint")
        assert copy_rows(cur, "_h", ("t", "n"), rows) == len(hostile)
        cur.execute("SELECT t, n FROM _h ORDER BY n")
        assert cur.fetchall() == rows

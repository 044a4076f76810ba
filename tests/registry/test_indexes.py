"""The nightly queries use an index where they should, on a registry of 60,000 persons.

The registry is seeded by SQL (a night of the real pipeline at this size takes minutes); the queries are
the hub's own functions, called as the nightly push and reconcile call them. Their plans are collected with
PostgreSQL's ``auto_explain`` (every statement, nested ones too, sent back to this client as notices) and a
sequential scan of any table of more than ``LARGE`` rows fails the test, naming the query.

Reading a large part of a table is not what is checked: each query here asks about one agency that knows a
few per cent of the persons, or about the handful of records still pending.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest

from matching import store
from registry import disclosures, entitlement, migrate, outbox, waiting
from registry.db import connect, connect_raw

PERSONS = 60_000
LARGE = 10_000
TARGET = "ngo"  # the agency pushed to: it knows every 25th person

_SEED = f"""
INSERT INTO source_system (code, agency, name, format) VALUES
    ('szn', 'social_protection', 'szn', 'egisso'), ('ngo', 'ngo', 'ngo', 'rest_cursor');
INSERT INTO run (kind, status, finished_at) VALUES ('reconcile', 'succeeded', now());
INSERT INTO registry_person (registry_id)
    SELECT 'P' || lpad(i::text, 9, '0') FROM generate_series(1, {PERSONS}) i;
INSERT INTO registry_family (registry_id)
    SELECT 'F' || lpad(i::text, 9, '0') FROM generate_series(1, {PERSONS} / 3) i;
INSERT INTO entity_link (source_code, record_kind, source_record_id, person_id, decision)
    SELECT CASE WHEN i % 25 = 0 THEN 'ngo' ELSE 'szn' END, 'person', 'R' || i,
           'P' || lpad(i::text, 9, '0'), 'auto' FROM generate_series(1, {PERSONS}) i;
INSERT INTO membership (family_id, person_id, role, period_from)
    SELECT 'F' || lpad(((i - 1) / 3 + 1)::text, 9, '0'), 'P' || lpad(i::text, 9, '0'),
           CASE WHEN i % 3 = 1 THEN 'mother' ELSE 'child' END, date '2020-01-01'
    FROM generate_series(1, {PERSONS}) i;
INSERT INTO accompaniment_case (family_id, source_code, source_record_id, level, stage, opened_on)
    SELECT 'F' || lpad(i::text, 9, '0'), 'szn', 'C' || i, 'basic', 'activity', date '2025-01-01' + i % 300
    FROM generate_series(1, {PERSONS} / 3) i;
INSERT INTO health_status (person_id, source_code, source_record_id, kind)
    SELECT 'P' || lpad(i::text, 9, '0'), 'szn', 'H' || i, 'disability'
    FROM generate_series(1, {PERSONS}, 4) i;
INSERT INTO consent (person_id, source_code, source_record_id, receiving_agencies, purpose, valid_from)
    SELECT 'P' || lpad(i::text, 9, '0'), 'szn', 'K' || i, ARRAY['ngo'], 'social_support', date '2024-01-01'
    FROM generate_series(1, {PERSONS}, 4) i;
INSERT INTO outbox (target_source, idempotency_key, message_kind, content_type, body, entries, status,
                    delivered_at)
    SELECT l.source_code, 'k' || l.link_id, 'accompaniment_status', 'application/json', '\\x7b7d',
           jsonb_build_array(jsonb_build_object(
               'source_record_id', l.source_record_id,
               '_sha256', md5(l.source_record_id) || md5(l.source_record_id))),
           'delivered', now()
    FROM entity_link l;
INSERT INTO outbox (target_source, idempotency_key, message_kind, content_type, body, entries)
    SELECT 'ngo', 'pending' || i, 'accompaniment_status', 'application/json', '\\x7b7d',
           jsonb_build_array(jsonb_build_object('source_record_id', 'R' || i * 25,
                                                '_sha256', repeat('0', 64)))
    FROM generate_series(1, 20) i;
INSERT INTO push_state (target_source, source_record_id, entry_sha256, message_id)
    SELECT o.target_source, o.entries -> 0 ->> 'source_record_id', o.entries -> 0 ->> '_sha256', o.message_id
    FROM outbox o WHERE o.status = 'delivered';
INSERT INTO disclosure (target_source, person_id, source_record_id, field, basis, message_id)
    SELECT o.target_source, l.person_id, l.source_record_id, 'accompaniment_status', 'law_442fz', o.message_id
    FROM outbox o JOIN entity_link l ON o.idempotency_key = 'k' || l.link_id;
INSERT INTO staged_record (source_code, record_kind, source_record_id, content_sha256, canonical,
                           mapping_version, run_id)
    SELECT 'szn', 'person', 'R' || i, md5(i::text) || md5(i::text), '{{}}', 'v1', 1
    FROM generate_series(1, {PERSONS}) i;
UPDATE staged_reconcile SET run_id = 1;
INSERT INTO staged_record (source_code, record_kind, source_record_id, content_sha256, canonical,
                           mapping_version, run_id)
    SELECT 'ngo', 'case', 'W' || i, md5(i::text) || md5(i::text), '{{"person_ref": "nobody"}}', 'v1', 1
    FROM generate_series(1, 30) i;
"""


@pytest.fixture(scope="module")
def seeded(pg_server_url: str) -> Iterator[str]:
    from registry.db import drop_database, ensure_database, with_database

    name = f"hub_indexes_{os.getpid()}"
    ensure_database(pg_server_url, name)
    url = with_database(pg_server_url, name)
    with connect(url, owner=True) as conn:
        migrate.upgrade(conn)
    with connect(url, owner=True) as conn, conn.cursor() as cur:
        cur.execute(_SEED)
    raw = connect_raw(url)
    raw.autocommit = True
    with raw.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    raw.close()
    yield url
    drop_database(pg_server_url, name)


class _Plans:
    """Collects auto_explain's notices (psycopg2 keeps only the last 50 in its default list)."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def append(self, notice: str) -> None:
        self.notices.append(notice)

    def plans(self) -> list[dict[str, Any]]:
        found = []
        for notice in self.notices:
            _, _, body = notice.partition("plan:")
            if body.strip().startswith("{"):
                found.append(json.loads(body))
        return found


@pytest.fixture
def explained(seeded: str) -> Iterator[tuple[psycopg2.extensions.connection, _Plans]]:
    conn = connect_raw(seeded)  # the login's own session: loading auto_explain is a superuser's
    plans = _Plans()
    try:
        with conn.cursor() as cur:
            cur.execute("LOAD 'auto_explain'")
            for setting in ("log_min_duration = 0", "log_level = notice", "log_format = json",
                            "log_nested_statements = on"):
                cur.execute(f"SET auto_explain.{setting}")
        conn.commit()
    except psycopg2.Error as exc:
        conn.close()
        pytest.skip(f"auto_explain is not available on this server ({exc.pgcode})")
    conn.notices = plans
    try:
        yield conn, plans
    finally:
        conn.rollback()
        conn.close()


def _row_counts(conn: psycopg2.extensions.connection) -> dict[str, float]:
    with conn.cursor() as cur:
        cur.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        return {name: float(rows) for name, rows in cur.fetchall()}


def _seq_scans(node: dict[str, Any]) -> Iterator[str]:
    if node.get("Node Type") == "Seq Scan":
        yield str(node["Relation Name"])
    for child in node.get("Plans", []):
        yield from _seq_scans(child)


def _some_ids(conn: psycopg2.extensions.connection) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT source_record_id FROM push_state WHERE target_source = %s LIMIT 100", (TARGET,))
        return [r[0] for r in cur.fetchall()]


QUERIES = {
    "entitlement.rows_for": lambda c: entitlement.rows_for(c, TARGET),
    "outbox.outstanding_hashes": lambda c: outbox.outstanding_hashes(c, TARGET),
    "outbox.pending_in_order": lambda c: outbox.pending_in_order(c, TARGET),
    "outbox.delivered_hashes": lambda c: outbox.delivered_hashes(c, TARGET),
    "outbox.acknowledged_entries": lambda c: outbox.acknowledged_entries(c, TARGET, _some_ids(c)),
    "outbox.supersede_unattempted": lambda c: outbox.supersede_unattempted(c, TARGET),
    "disclosures.listing --person": lambda c: disclosures.listing(c, person="P000000025"),
    "waiting.waiting": lambda c: waiting.waiting(c),
    "store.pending": lambda c: store.pending(c),
}


@pytest.mark.parametrize("name", QUERIES)
def test_a_nightly_query_reads_no_large_table_in_full(
    explained: tuple[psycopg2.extensions.connection, _Plans], name: str
) -> None:
    conn, plans = explained
    rows = _row_counts(conn)
    assert rows["registry_person"] >= PERSONS * 0.9  # the statistics see the seeded size
    QUERIES[name](conn)
    seen = plans.plans()
    assert seen, "auto_explain sent no plan"
    full = sorted({t for p in seen for t in _seq_scans(p["Plan"]) if rows.get(t, 0) > LARGE})
    texts = [p.get("Query Text", "")[:200] for p in seen if set(_seq_scans(p["Plan"])) & set(full)]
    assert not full, f"{name}: sequential scan of {full} in {texts}"


def test_the_check_sees_a_sequential_scan(explained: tuple[psycopg2.extensions.connection, _Plans]) -> None:
    """The detector itself: a query that must read every person is reported."""
    conn, plans = explained
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM registry_person WHERE golden ->> 'x' IS NULL")
    assert "registry_person" in {t for p in plans.plans() for t in _seq_scans(p["Plan"])}

"""Cases, services, disability statuses and consents: attached to registry persons and families via links.

A care record names its person or household by the source's own ids; the links made tonight resolve them.
Records are upserted by (source, source record id) and removed when the source deletes them. A record whose
person or household is not (yet) in the registry — its Patient was quarantined tonight, its family comes
with tomorrow's file — *waits*: it is counted as waiting, stays pending in staging and is attached the
night its person arrives. Only what was attached or deleted is marked reconciled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from psycopg2.extras import execute_values

from matching.store import Conn, StagedRow, record_key, staged_rows

_TABLES = {
    "case": "accompaniment_case",
    "service": "service",
    "disability": "health_status",
    "consent": "consent",
}


@dataclass
class CareStats:
    """Counts of the care step."""

    cases: int = 0
    services: int = 0
    statuses: int = 0
    consents: int = 0
    waiting: int = 0
    deleted: int = 0


class _Resolver:
    def __init__(self, conn: Conn) -> None:
        with conn.cursor() as cur:
            cur.execute("""SELECT record_kind, source_code, source_record_id, coalesce(person_id, family_id)
                           FROM entity_link WHERE valid_to IS NULL""")
            self.links = {(k, record_key(s, i)): str(r) for k, s, i, r in cur.fetchall()}
            cur.execute("SELECT source_code, source_record_id, case_id FROM accompaniment_case")
            self.cases = {record_key(s, i): str(c) for s, i, c in cur.fetchall()}

    def person(self, source: str, ref: str | None) -> str | None:
        return self.links.get(("person", record_key(source, ref))) if ref else None

    def family(self, source: str, ref: str | None) -> str | None:
        return self.links.get(("family", record_key(source, ref))) if ref else None


def reconcile_care(
    conn: Conn, pending: list[tuple[int, str, bool]], batch: int = 20_000
) -> tuple[CareStats, list[int], set[str]]:
    """Upsert or delete the pending care records ``(staged id, kind, deleted)`` (cases first, since services
    cite them), reading their JSON ``batch`` records at a time: a first night's care records are never all
    in memory (they were, through the whole person step: 5 GB at a million source records).

    Returns the counts, the staged ids that were attached or deleted (the others wait), and the families
    whose cases changed (their golden records name the current case).
    """
    stats, done, families = CareStats(), [], set()
    resolve = _Resolver(conn)
    for rows in _batches(conn, [i for i, _, deleted in pending if deleted], batch):
        for row in rows:
            families |= _delete(conn, row)
            stats.deleted += 1
            done.append(row.staged_id)
    for kind, builder, field in (
        ("case", _case_row, "cases"),
        ("service", _service_row, "services"),
        ("disability", _status_row, "statuses"),
        ("consent", _consent_row, "consents"),
    ):
        for rows in _batches(conn, [i for i, k, deleted in pending if k == kind and not deleted], batch):
            values = []
            for row in rows:
                built = builder(row, resolve)
                if built is None:
                    stats.waiting += 1
                else:
                    values.append(built)
                    done.append(row.staged_id)
            if kind == "case":
                families |= {str(v[0]) for v in values} | _case_families(conn, values)
            _upsert(conn, kind, values, resolve)
            setattr(stats, field, getattr(stats, field) + len(values))
    return stats, done, families


def _batches(conn: Conn, staged_ids: list[int], size: int) -> Iterator[list[StagedRow]]:
    for start in range(0, len(staged_ids), size):
        yield staged_rows(conn, staged_ids[start : start + size])


def _delete(conn: Conn, row: StagedRow) -> set[str]:
    """Delete the record; the family of a deleted case (its golden record names the current case)."""
    returning = " RETURNING family_id" if row.kind == "case" else ""
    with conn.cursor() as cur:
        cur.execute(
            f"DELETE FROM {_TABLES[row.kind]} WHERE source_code = %s AND source_record_id = %s{returning}",
            (row.source, row.source_record_id),
        )
        return {str(r[0]) for r in cur.fetchall()} if returning else set()


def _case_families(conn: Conn, values: list[tuple[Any, ...]]) -> set[str]:
    """The families the cases about to be upserted belong to now (a case may move to another family)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT c.family_id FROM unnest(%s::text[], %s::text[]) AS k (s, i)
               JOIN accompaniment_case c ON c.source_code = k.s AND c.source_record_id = k.i""",
            ([v[1] for v in values], [v[2] for v in values]),
        )
        return {str(r[0]) for r in cur.fetchall()}


_COLUMNS = {
    "case": (
        "family_id",
        "source_code",
        "source_record_id",
        "level",
        "stage",
        "curator",
        "individual_programme",
        "contract_date",
        "opened_on",
        "closed_on",
        "closure_reason",
        "district_commission",
        "working_group",
    ),
    "service": (
        "source_code",
        "source_record_id",
        "person_id",
        "family_id",
        "case_id",
        "kind",
        "provider_agency",
        "provider_org",
        "started_on",
        "ended_on",
        "status",
        "outcome",
    ),
    "disability": (
        "person_id",
        "source_code",
        "source_record_id",
        "kind",
        "established_on",
        "valid_until",
        "basis",
    ),
    "consent": (
        "person_id",
        "source_code",
        "source_record_id",
        "receiving_agencies",
        "purpose",
        "valid_from",
        "valid_to",
        "withdrawn_on",
    ),
}
_CASTS = {"curator": "::jsonb", "individual_programme": "::jsonb", "receiving_agencies": "::text[]"}


def _upsert(conn: Conn, kind: str, values: list[tuple[Any, ...]], resolve: _Resolver) -> None:
    if not values:
        return
    columns = _COLUMNS[kind]
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in columns if c not in ("source_code", "source_record_id")
    )
    template = "(" + ", ".join(f"%s{_CASTS.get(c, '')}" for c in columns) + ")"
    returning = " RETURNING source_code, source_record_id, case_id" if kind == "case" else ""
    sql = (
        f"INSERT INTO {_TABLES[kind]} ({', '.join(columns)}) VALUES %s "
        f"ON CONFLICT (source_code, source_record_id) DO UPDATE SET {updates}{returning}"
    )
    with conn.cursor() as cur:
        rows = execute_values(cur, sql, values, template=template, page_size=2000, fetch=bool(returning))
    for source, sid, case_id in rows or []:
        resolve.cases[record_key(source, sid)] = str(case_id)


def _case_row(row: StagedRow, resolve: _Resolver) -> tuple[Any, ...] | None:
    c = row.canonical
    family = resolve.family(row.source, c["family_ref"])
    if family is None:
        return None
    return (
        family,
        row.source,
        row.source_record_id,
        c["level"],
        c["stage"],
        _json(c.get("curator")),
        json.dumps(c.get("individual_programme", []), ensure_ascii=False),
        c.get("contract_date"),
        c["opened_on"],
        c.get("closed_on"),
        c.get("closure_reason"),
        c.get("district_commission"),
        c.get("working_group"),
    )


def _service_row(row: StagedRow, resolve: _Resolver) -> tuple[Any, ...] | None:
    s = row.canonical
    person = resolve.person(row.source, s.get("person_ref"))
    family = resolve.family(row.source, s.get("family_ref"))
    if person is None and family is None:
        return None
    case = resolve.cases.get(record_key(row.source, s["case_ref"])) if s.get("case_ref") else None
    return (
        row.source,
        row.source_record_id,
        person,
        family,
        case,
        s["kind"],
        s["provider_agency"],
        s.get("provider_org"),
        s["started_on"],
        s.get("ended_on"),
        s["status"],
        s.get("outcome"),
    )


def _status_row(row: StagedRow, resolve: _Resolver) -> tuple[Any, ...] | None:
    d = row.canonical
    person = resolve.person(row.source, d["person_ref"])
    if person is None:
        return None
    return (
        person,
        row.source,
        row.source_record_id,
        d["kind"],
        d.get("established_on"),
        d.get("valid_until"),
        d.get("basis"),
    )


def _consent_row(row: StagedRow, resolve: _Resolver) -> tuple[Any, ...] | None:
    c = row.canonical
    person = resolve.person(row.source, c["person_ref"])
    if person is None:
        return None
    return (
        person,
        row.source,
        row.source_record_id,
        c["receiving_agencies"],
        c["purpose"],
        c["valid_from"],
        c.get("valid_to"),
        c.get("withdrawn_on"),
    )


def _json(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value is not None else None

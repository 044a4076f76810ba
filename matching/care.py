"""Cases, services, disability statuses and consents: attached to registry persons and families via links.

A care record names its person or household by the source's own ids; the links made tonight resolve them.
Records are upserted by (source, source record id) and removed when the source deletes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from matching.store import Conn, StagedRow, record_key

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
    unresolved: int = 0
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


def reconcile_care(conn: Conn, rows: list[StagedRow]) -> CareStats:
    """Upsert or delete the pending care records."""
    stats = CareStats()
    resolve = _Resolver(conn)
    for row in sorted(rows, key=lambda r: (r.kind != "case", r.staged_id)):  # cases first: services cite them
        if row.deleted:
            _delete(conn, row)
            stats.deleted += 1
            continue
        done = {"case": _case, "service": _service, "disability": _status, "consent": _consent}[row.kind](
            conn, row, resolve
        )
        if not done:
            stats.unresolved += 1
            continue
        field = {"case": "cases", "service": "services", "disability": "statuses", "consent": "consents"}
        setattr(stats, field[row.kind], getattr(stats, field[row.kind]) + 1)
    return stats


def _delete(conn: Conn, row: StagedRow) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"DELETE FROM {_TABLES[row.kind]} WHERE source_code = %s AND source_record_id = %s",
            (row.source, row.source_record_id),
        )


def _case(conn: Conn, row: StagedRow, resolve: _Resolver) -> bool:
    c = row.canonical
    family = resolve.family(row.source, c["family_ref"])
    if family is None:
        return False
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO accompaniment_case (family_id, source_code, source_record_id, level, stage,
                   curator,
                   individual_programme, contract_date, opened_on, closed_on, closure_reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source_code, source_record_id) DO UPDATE SET family_id = EXCLUDED.family_id,
                   level = EXCLUDED.level, stage = EXCLUDED.stage, curator = EXCLUDED.curator,
                   individual_programme = EXCLUDED.individual_programme,
                   contract_date = EXCLUDED.contract_date,
                   opened_on = EXCLUDED.opened_on, closed_on = EXCLUDED.closed_on,
                   closure_reason = EXCLUDED.closure_reason, updated_at = now()
               RETURNING case_id""",
            (
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
            ),
        )
        result = cur.fetchone()
    if result is not None:
        resolve.cases[row.key] = str(result[0])
    return True


def _service(conn: Conn, row: StagedRow, resolve: _Resolver) -> bool:
    s = row.canonical
    person, family = (
        resolve.person(row.source, s.get("person_ref")),
        resolve.family(row.source, s.get("family_ref")),
    )
    if person is None and family is None:
        return False
    case = resolve.cases.get(record_key(row.source, s["case_ref"])) if s.get("case_ref") else None
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO service (source_code, source_record_id, person_id, family_id, case_id, kind,
                   provider_agency, provider_org, started_on, ended_on, status, outcome)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source_code, source_record_id) DO UPDATE SET person_id = EXCLUDED.person_id,
                   family_id = EXCLUDED.family_id, case_id = EXCLUDED.case_id, kind = EXCLUDED.kind,
                   provider_agency = EXCLUDED.provider_agency, provider_org = EXCLUDED.provider_org,
                   started_on = EXCLUDED.started_on, ended_on = EXCLUDED.ended_on, status = EXCLUDED.status,
                   outcome = EXCLUDED.outcome""",
            (
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
            ),
        )
    return True


def _status(conn: Conn, row: StagedRow, resolve: _Resolver) -> bool:
    d = row.canonical
    person = resolve.person(row.source, d["person_ref"])
    if person is None:
        return False
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO health_status (person_id, source_code, source_record_id, kind, established_on,
                   valid_until, basis) VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source_code, source_record_id) DO UPDATE SET person_id = EXCLUDED.person_id,
                   kind = EXCLUDED.kind, established_on = EXCLUDED.established_on,
                   valid_until = EXCLUDED.valid_until, basis = EXCLUDED.basis""",
            (
                person,
                row.source,
                row.source_record_id,
                d["kind"],
                d.get("established_on"),
                d.get("valid_until"),
                d.get("basis"),
            ),
        )
    return True


def _consent(conn: Conn, row: StagedRow, resolve: _Resolver) -> bool:
    c = row.canonical
    person = resolve.person(row.source, c["person_ref"])
    if person is None:
        return False
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO consent (person_id, source_code, source_record_id, receiving_agencies, purpose,
                   valid_from, valid_to, withdrawn_on) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (source_code, source_record_id) DO UPDATE SET person_id = EXCLUDED.person_id,
                   receiving_agencies = EXCLUDED.receiving_agencies, purpose = EXCLUDED.purpose,
                   valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,
                   withdrawn_on = EXCLUDED.withdrawn_on""",
            (
                person,
                row.source,
                row.source_record_id,
                c["receiving_agencies"],
                c["purpose"],
                c["valid_from"],
                c.get("valid_to"),
                c.get("withdrawn_on"),
            ),
        )
    return True


def _json(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value is not None else None

"""The disclosure register: every field the hub sent about a registry person, to whom, on which basis.

Written in the transaction that records a delivery; read by ``hub disclosures list`` (each query audited).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions
from psycopg2.extras import execute_values

Conn = psycopg2.extensions.connection


@dataclass(frozen=True)
class Disclosure:
    """One field disclosed (or retracted) in one message."""

    target_source: str
    person_id: str | None
    source_record_id: str
    field: str
    basis: str
    consent_id: int | None
    message_id: int


@dataclass(frozen=True)
class DisclosureRow(Disclosure):
    """A disclosure as the register holds it: with its id and time."""

    disclosure_id: int = 0
    disclosed_at: str = ""


def record(conn: Conn, rows: list[Disclosure]) -> None:
    if not rows:
        return
    with conn.cursor() as cur:
        execute_values(
            cur,
            """INSERT INTO disclosure (target_source, person_id, source_record_id, field, basis, consent_id,
                                       message_id) VALUES %s""",
            [(d.target_source, d.person_id, d.source_record_id, d.field, d.basis, d.consent_id, d.message_id)
             for d in rows],
        )


def listing(conn: Conn, person: str | None = None, agency: str | None = None,
            limit: int = 200) -> list[DisclosureRow]:
    """Disclosures about ``person`` and/or to ``agency`` (a source code), newest first."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT target_source, person_id, source_record_id, field, basis, consent_id, message_id,
                      disclosure_id, disclosed_at::text
               FROM disclosure WHERE (%(p)s::text IS NULL OR person_id = %(p)s)
                 AND (%(a)s::text IS NULL OR target_source = %(a)s)
               ORDER BY disclosure_id DESC LIMIT %(n)s""",
            {"p": person, "a": agency, "n": limit},
        )
        return [DisclosureRow(*r) for r in cur.fetchall()]


def counts(conn: Conn) -> dict[str, dict[str, int]]:
    """agency → basis → fields disclosed (the demo's summary)."""
    with conn.cursor() as cur:
        cur.execute("SELECT target_source, basis, count(*) FROM disclosure GROUP BY 1, 2 ORDER BY 1, 2")
        out: dict[str, dict[str, int]] = {}
        for target, basis, n in cur.fetchall():
            out.setdefault(str(target), {})[str(basis)] = int(n)
        return out

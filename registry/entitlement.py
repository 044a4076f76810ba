"""What the registry holds now about the persons an agency knows: the rows a push is built from.

One row per current link of the agency's person records: the registry person, the person's current family,
the status of that family's latest accompaniment case, the person's current health statuses (kinds only)
and the person's active consents (id, receiving agencies, purpose). Which of it the agency may receive is
``connectors.push.entitlement``'s decision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg2.extensions

Conn = psycopg2.extensions.connection

_SQL = """
SELECT l.source_record_id, l.person_id, fam.family_id,
       CASE WHEN c.case_id IS NULL THEN 'none'
            WHEN c.stage = 'post_accompaniment' THEN 'post_accompaniment'
            WHEN c.closed_on IS NOT NULL THEN 'closed' ELSE 'active' END,
       (SELECT string_agg(DISTINCT h.kind, ',' ORDER BY h.kind) FROM health_status h
         WHERE h.person_id = l.person_id AND (h.valid_until IS NULL OR h.valid_until >= %(today)s)),
       (SELECT coalesce(jsonb_agg(jsonb_build_array(k.consent_id, k.receiving_agencies, k.purpose)
                                  ORDER BY k.consent_id), '[]'::jsonb)
          FROM consent k WHERE k.person_id = l.person_id AND k.valid_from <= %(today)s
           AND (k.valid_to IS NULL OR k.valid_to >= %(today)s)
           AND (k.withdrawn_on IS NULL OR k.withdrawn_on > %(today)s))
FROM entity_link l
LEFT JOIN LATERAL (SELECT m.family_id FROM membership m
                   WHERE m.person_id = l.person_id AND m.period_to IS NULL
                   ORDER BY m.period_from DESC NULLS LAST LIMIT 1) fam ON true
LEFT JOIN LATERAL (SELECT ac.case_id, ac.stage, ac.closed_on FROM accompaniment_case ac
                   WHERE ac.family_id = fam.family_id ORDER BY ac.opened_on DESC LIMIT 1) c ON true
WHERE l.source_code = %(source)s AND l.record_kind = 'person' AND l.valid_to IS NULL
ORDER BY l.source_record_id
"""


@dataclass(frozen=True)
class ActiveConsent:
    consent_id: int
    receiving_agencies: tuple[str, ...]
    purpose: str


@dataclass(frozen=True)
class EntitledRow:
    """What the registry says now about one of the agency's person records."""

    source_record_id: str
    person_id: str
    family_id: str | None
    accompaniment_status: str
    disability_status: str | None
    consents: tuple[ActiveConsent, ...]


def rows_for(conn: Conn, source_code: str, today: dt.date | None = None) -> list[EntitledRow]:
    """The rows of every current person link of ``source_code`` (consents active on ``today``)."""
    with conn.cursor() as cur:
        cur.execute(_SQL, {"source": source_code, "today": today or dt.date.today()})
        return [EntitledRow(str(s), str(p), f, str(st), h,
                            tuple(ActiveConsent(int(k[0]), tuple(k[1]), str(k[2])) for k in consents))
                for s, p, f, st, h, consents in cur.fetchall()]


SQL = _SQL  # for the index check (tests/registry/test_indexes.py)

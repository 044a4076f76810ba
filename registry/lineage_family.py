"""A family's lineage: its source households, members and roles, categories, cases and services — each
with the source records that say so — now or as of an instant.

Now, members, categories, cases and services are the registry's rows (``membership`` and
``family_category`` name the source that won; cases and services their source record). Memberships and
categories are rebuilt every night, so the registry keeps no history of them; as of an earlier instant
they are rebuilt here the way reconcile builds them — from the staged records current then, attached
through the links valid then, the winner chosen by the same trust order (``config/survivorship.yaml``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg2.extensions

from registry import history
from registry.history import NOW, staged_at, valid_at

Conn = psycopg2.extensions.connection

_SAID_BY_SQL = f"""
SELECT s.source_code, s.source_record_id, s.staged_id, s.canonical ->> 'role', s.canonical ->> 'period_from',
       s.canonical ->> 'period_to', s.canonical ->> 'family_ref', pl.person_id, p.sha256, s.raw_pointer
FROM entity_link fl
JOIN staged_record s ON s.record_kind = 'membership' AND s.source_code = fl.source_code
     AND s.canonical ->> 'family_ref' = fl.source_record_id AND {staged_at("s")}
JOIN entity_link pl ON pl.record_kind = 'person' AND pl.source_code = s.source_code
     AND pl.source_record_id = s.canonical ->> 'person_ref' AND {valid_at("pl")}
LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
WHERE fl.record_kind = 'family' AND fl.family_id = %(id)s AND {valid_at("fl")}
ORDER BY pl.person_id, s.source_code, s.source_record_id
"""

_HOUSEHOLD_RECORDS_SQL = f"""
SELECT s.source_code, s.source_record_id, s.staged_id, s.record_kind, s.canonical, p.sha256, s.raw_pointer
FROM entity_link fl
JOIN staged_record s ON s.source_code = fl.source_code AND {staged_at("s")}
     AND ((s.record_kind = 'family' AND s.source_record_id = fl.source_record_id)
          OR (s.record_kind IN ('case', 'service') AND s.canonical ->> 'family_ref' = fl.source_record_id))
LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
WHERE fl.record_kind = 'family' AND fl.family_id = %(id)s AND {valid_at("fl")}
ORDER BY s.record_kind, s.source_code, s.source_record_id
"""


def family_view(conn: Conn, family_id: str, as_of: str | None = None) -> dict[str, Any]:
    """The family (following tombstones) at ``as_of``: households, members, categories, cases, services."""
    at = history.parse_as_of(as_of)
    who = history.resolve(conn, "family", family_id, at)
    fid = who["id"]
    view: dict[str, Any] = {
        "kind": "family",
        "as_of": None if at == NOW else at,
        "requested_id": family_id,
        "family_id": fid,
        "status": who["status"],
        "created_at": who["created_at"],
        "replaced": who["replaced"],
        "existed": who["existed"],
        "note": f"{family_id} was replaced by {fid}" if who["replaced"] else None,
    }
    if not who["existed"]:
        return {
            **view,
            "households": [],
            "members": [],
            "categories": [],
            "cases": [],
            "services": [],
            "history": [],
        }
    said = _said_by(conn, fid, at)
    records = _household_records(conn, fid, at)
    view["households"] = history.links(conn, "family", fid, at)
    view["members"] = _members_now(conn, fid, said) if at == NOW else _members_then(said)
    view["categories"] = _categories(conn, fid, records["family"], at)
    if at == NOW:
        view["cases"], view["services"] = _cases_now(conn, fid), _services_now(conn, fid, view["members"])
    else:
        view["cases"], view["services"] = records["case"], records["service"]
    view["history"] = history.history(conn, "family", fid, at)
    return view


def _said_by(conn: Conn, fid: str, at: str) -> dict[str, list[dict[str, Any]]]:
    """person id → the source memberships (valid at ``at``) that put them in this family, with roles."""
    with conn.cursor() as cur:
        cur.execute(_SAID_BY_SQL, {"id": fid, "t": at})
        rows = cur.fetchall()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for src, sid, staged, role, since, until, household, person, sha, pointer in rows:
        out[str(person)].append(
            {
                "source": src,
                "source_record_id": sid,
                "staged_id": staged,
                "role": role,
                "period_from": since,
                "period_to": until,
                "household": household,
                "payload_sha256": sha,
                "pointer": pointer,
            }
        )
    return out


def _household_records(conn: Conn, fid: str, at: str) -> dict[str, list[dict[str, Any]]]:
    """The family, case and service records (valid at ``at``) of the family's source households."""
    out: dict[str, list[dict[str, Any]]] = {"family": [], "case": [], "service": []}
    with conn.cursor() as cur:
        cur.execute(_HOUSEHOLD_RECORDS_SQL, {"id": fid, "t": at})
        for src, sid, staged, kind, canonical, sha, pointer in cur.fetchall():
            base = {
                "source": src,
                "source_record_id": sid,
                "staged_id": staged,
                "payload_sha256": sha,
                "pointer": pointer,
            }
            out[kind].append({**base, **_care_fields(kind, canonical)})
    return out


def _care_fields(kind: str, c: dict[str, Any]) -> dict[str, Any]:
    if kind == "case":
        return {k: c.get(k) for k in ("level", "stage", "opened_on", "closed_on")}
    if kind == "service":
        return {k: c.get(k) for k in ("kind", "provider_agency", "started_on", "ended_on", "status")}
    return {"categories": c.get("categories") or []}


def _trust(attribute: str) -> list[str]:
    from matching.survivorship import load_policy

    return list(load_policy()["family"][attribute]["trust"])


def _rank(trust: list[str], item: dict[str, Any]) -> tuple[int, str, str]:
    source = item["source"]
    return (trust.index(source) if source in trust else len(trust), source, item["source_record_id"])


def _members_now(conn: Conn, fid: str, said: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT person_id, role, period_from::text, period_to::text, source_code, source_record_id
               FROM membership WHERE family_id = %s ORDER BY role, person_id""",
            (fid,),
        )
        rows = cur.fetchall()
    return [
        {
            "person_id": pid,
            "role": role,
            "period_from": since,
            "period_to": until,
            "chosen_from": {"source": src, "source_record_id": sid},
            "said_by": said.get(str(pid), []),
        }
        for pid, role, since, until, src, sid in rows
    ]


def _members_then(said: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    trust = _trust("role")
    out = []
    for pid, items in sorted(said.items()):
        best = min(items, key=lambda i: _rank(trust, i))
        out.append(
            {
                "person_id": pid,
                "role": best["role"],
                "period_from": best["period_from"],
                "period_to": best["period_to"],
                "chosen_from": {"source": best["source"], "source_record_id": best["source_record_id"]},
                "said_by": items,
            }
        )
    return sorted(out, key=lambda m: (m["role"], m["person_id"]))


def _categories(conn: Conn, fid: str, families: list[dict[str, Any]], at: str) -> list[dict[str, Any]]:
    said: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fam in families:
        for cat in fam["categories"]:
            said[cat["category"]].append(
                {
                    "source": fam["source"],
                    "source_record_id": fam["source_record_id"],
                    "since": cat.get("since"),
                    "until": cat.get("until"),
                }
            )
    if at != NOW:
        trust = _trust("categories")
        return [
            {
                "category": cat,
                **{k: min(items, key=lambda i: _rank(trust, i))[k] for k in ("since", "until", "source")},
                "said_by": items,
            }
            for cat, items in sorted(said.items())
        ]
    with conn.cursor() as cur:
        cur.execute(
            """SELECT category, since::text, until::text, source_code FROM family_category
               WHERE family_id = %s ORDER BY category""",
            (fid,),
        )
        rows = cur.fetchall()
    return [
        {"category": c, "since": s, "until": u, "source": src, "said_by": said.get(c, [])}
        for c, s, u, src in rows
    ]


def _cases_now(conn: Conn, fid: str) -> list[dict[str, Any]]:
    return _rows(
        conn,
        """SELECT c.case_id, c.source_code, c.source_record_id, c.level, c.stage, c.opened_on::text,
                  c.closed_on::text, s.staged_id, p.sha256, s.raw_pointer
           FROM accompaniment_case c
           LEFT JOIN staged_record s ON s.source_code = c.source_code AND s.record_kind = 'case'
                AND s.source_record_id = c.source_record_id AND s.superseded_by IS NULL
           LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
           WHERE c.family_id = %s ORDER BY c.opened_on, c.case_id""",
        (fid,),
        (
            "case_id",
            "source",
            "source_record_id",
            "level",
            "stage",
            "opened_on",
            "closed_on",
            "staged_id",
            "payload_sha256",
            "pointer",
        ),
    )


def _services_now(conn: Conn, fid: str, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _rows(
        conn,
        """SELECT v.service_id, v.source_code, v.source_record_id, v.person_id, v.case_id, v.kind,
                  v.provider_agency, v.started_on::text, v.ended_on::text, v.status, s.staged_id, p.sha256,
                  s.raw_pointer
           FROM service v
           LEFT JOIN staged_record s ON s.source_code = v.source_code AND s.record_kind = 'service'
                AND s.source_record_id = v.source_record_id AND s.superseded_by IS NULL
           LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
           WHERE v.family_id = %s OR v.person_id = ANY(%s) ORDER BY v.started_on, v.service_id""",
        (fid, [m["person_id"] for m in members]),
        (
            "service_id",
            "source",
            "source_record_id",
            "person_id",
            "case_id",
            "kind",
            "provider_agency",
            "started_on",
            "ended_on",
            "status",
            "staged_id",
            "payload_sha256",
            "pointer",
        ),
    )


def _rows(conn: Conn, sql: str, args: tuple[Any, ...], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]

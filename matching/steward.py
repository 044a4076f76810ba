"""Data stewards' decisions: review uncertain matches, unmerge wrongly merged records.

Every decision is written to ``steward_decision`` (so every later reconcile honours it), applied to the
registry at once, recorded as entity events (history) and appended to the audit log.
"""

from __future__ import annotations

from typing import Any

from matching import store
from matching.errors import StewardError
from matching.golden import refresh_golden
from matching.store import Conn
from registry import audit
from registry.households import queue_dirty
from registry.runs import finish_run, start_run


def list_reviews(conn: Conn, status: str = "open", limit: int = 50) -> list[dict[str, Any]]:
    """Review items (ids, scores, candidates — no personal values)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT r.review_id, r.source_code, r.source_record_id, l.person_id, r.candidate_id,
                      round(r.score::numeric, 2), r.status, r.created_at
               FROM review_item r
               LEFT JOIN entity_link l ON l.source_code = r.source_code
                    AND l.source_record_id = r.source_record_id AND l.record_kind = 'person'
                    AND l.valid_to IS NULL
               WHERE r.status = %s ORDER BY r.score DESC, r.review_id LIMIT %s""",
            (status, limit),
        )
        keys = (
            "review_id",
            "source",
            "source_record_id",
            "current_id",
            "candidate_id",
            "score",
            "status",
            "created_at",
        )
        return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]


def show_review(conn: Conn, review_id: int, who: str | None = None) -> dict[str, Any]:
    """The record and the candidate's golden person side by side, with the per-comparison weights."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT r.source_code, r.source_record_id, r.candidate_id, r.score, r.explanation, r.status,
                              s.canonical, p.golden
                       FROM review_item r
                       JOIN staged_record s ON s.source_code = r.source_code
                            AND s.source_record_id = r.source_record_id AND s.record_kind = 'person'
                            AND s.superseded_by IS NULL
                       JOIN registry_person p ON p.registry_id = r.candidate_id
                       WHERE r.review_id = %s""",
            (review_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise StewardError(f"no review item {review_id}")
    source, sid, candidate, score, explanation, status, record, golden = row
    audit.append(conn, "review.show", "review_item", str(review_id), {"candidate": candidate}, who=who)
    return {
        "review_id": review_id,
        "status": status,
        "score": score,
        "source": source,
        "source_record_id": sid,
        "candidate_id": candidate,
        "record": _side(record),
        "candidate": golden,
        "comparisons": (explanation or {}).get("comparisons", {}),
        "levels": (explanation or {}).get("levels", {}),
        "prior_weight": (explanation or {}).get("prior_weight"),
        "match_probability": (explanation or {}).get("match_probability"),
        "model_version": (explanation or {}).get("model_version"),
    }


def _side(canonical: dict[str, Any]) -> dict[str, Any]:
    keep = ("family_name", "given_name", "patronymic", "birth_date", "sex", "identifiers", "addresses")
    return {k: canonical.get(k) for k in keep if canonical.get(k) is not None}


def decide_review(
    conn: Conn, review_id: int, accept: bool, who: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """Accept (link the record to the candidate) or reject (never link them), with the steward's reason."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_code, source_record_id, candidate_id, status FROM review_item "
            "WHERE review_id = %s FOR UPDATE",
            (review_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise StewardError(f"no review item {review_id}")
    source, sid, candidate, status = row
    if status != "open":
        raise StewardError(f"review item {review_id} is already {status}")
    who = who or audit.actor()
    run_id = start_run(conn, "reconcile", None, {"dag_id": "steward"})
    _decision(conn, "link" if accept else "never_link", source, sid, candidate, who, review_id, reason)
    moved = _move(conn, source, sid, candidate, run_id, "steward: review accepted") if accept else None
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE review_item SET status = %s, decided_by = %s, decided_at = now() WHERE review_id = %s",
            ("accepted" if accept else "rejected", who, review_id),
        )
    audit.append(
        conn,
        "review.accept" if accept else "review.reject",
        "review_item",
        str(review_id),
        {"candidate": candidate, "from": moved, "reason_given": bool(reason)},
        who=who,
    )
    finish_run(conn, run_id, "succeeded", {"review_id": review_id, "accepted": accept})
    return {
        "review_id": review_id,
        "decision": "accepted" if accept else "rejected",
        "candidate_id": candidate,
        "previous_id": moved,
    }


def unmerge(
    conn: Conn, registry_id: str, source: str, source_record_id: str, who: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Take a source record out of ``registry_id`` into a new registry person; never link them again."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT count(*) FILTER (WHERE source_code = %s AND source_record_id = %s), count(*)
                       FROM entity_link
                       WHERE person_id = %s AND record_kind = 'person' AND valid_to IS NULL""",
            (source, source_record_id, registry_id),
        )
        row = cur.fetchone()
    if row is None or row[0] == 0:
        raise StewardError(f"{source}:{source_record_id} is not linked to {registry_id}")
    if row[1] == 1:
        raise StewardError(f"{registry_id} has no other record: nothing to unmerge")
    run_id = start_run(conn, "reconcile", None, {"dag_id": "steward"})
    (new_id,) = store.allocate_ids(conn, "registry_person", 1, run_id)
    who = who or audit.actor()
    _decision(conn, "unmerge", source, source_record_id, registry_id, who, None, reason)
    _decision(conn, "never_link", source, source_record_id, registry_id, who, None, reason)
    _move(conn, source, source_record_id, new_id, run_id, "steward: unmerged")
    store.events(
        conn,
        [
            ("person", registry_id, "unmerged", new_id, source, source_record_id, "steward"),
            ("person", new_id, "created", registry_id, source, source_record_id, "steward: unmerge"),
        ],
        run_id,
    )
    audit.append(
        conn,
        "registry.unmerge",
        "person",
        registry_id,
        {"source": source, "source_record_id": source_record_id, "new_id": new_id,
         "reason_given": bool(reason)},
        who=who,
    )
    finish_run(conn, run_id, "succeeded", {"unmerged_into": new_id})
    return {
        "registry_id": registry_id,
        "new_id": new_id,
        "source": source,
        "source_record_id": source_record_id,
    }


def _decision(
    conn: Conn, kind: str, source: str, sid: str, registry_id: str, who: str, review_id: int | None,
    reason: str | None,
) -> None:
    # The reason is the steward's own words: kept with the decision, never copied into the audit log.
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO steward_decision (kind, entity_kind, source_code, source_record_id, registry_id,
                           actor, review_id, reason) VALUES (%s, 'person', %s, %s, %s, %s, %s, %s)""",
            (kind, source, sid, registry_id, who, review_id, reason),
        )


def _move(conn: Conn, source: str, sid: str, target: str, run_id: int, cause: str) -> str | None:
    """Point a record at ``target``; tombstone its previous person if nothing else is linked to it."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT person_id FROM entity_link WHERE source_code = %s AND source_record_id = %s
                       AND record_kind = 'person' AND valid_to IS NULL""",
            (source, sid),
        )
        row = cur.fetchone()
    previous = str(row[0]) if row else None
    store.set_links(
        conn,
        "person",
        [
            {
                "source": source,
                "source_record_id": sid,
                "registry_id": target,
                "decision": "steward_link",
                "explanation": {"cause": cause},
            }
        ],
        run_id,
    )
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE match_person SET registry_id = %s WHERE source_code = %s AND source_record_id = %s",
            (target, source, sid),
        )
        if previous:
            cur.execute(
                "SELECT count(*) FROM entity_link WHERE person_id = %s AND valid_to IS NULL", (previous,)
            )
            left = cur.fetchone()
            if left is not None and left[0] == 0:
                store.tombstone(conn, "registry_person", previous, target)
                store.events(conn, [("person", previous, "merged_into", target, source, sid, cause)], run_id)
    store.events(conn, [("person", target, "linked", previous, source, sid, cause)], run_id)
    refresh_golden(conn, sorted({target, *([previous] if previous else [])}), run_id)
    queue_dirty(conn, [target, previous or ""])  # the next reconcile re-derives their families
    return previous


def review_counts(conn: Conn) -> dict[str, int]:
    """Review items by status (the queue's tabs)."""
    with conn.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM review_item GROUP BY status")
        return {str(s): int(n) for s, n in cur.fetchall()}


def current_person(conn: Conn, source: str, source_record_id: str) -> str | None:
    """The registry person a source record is linked to now."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT person_id FROM entity_link WHERE source_code = %s AND source_record_id = %s
               AND record_kind = 'person' AND valid_to IS NULL""",
            (source, source_record_id),
        )
        row = cur.fetchone()
    return str(row[0]) if row else None


def family_context(conn: Conn, person_id: str) -> list[dict[str, Any]]:
    """The households ``person_id`` belongs to now, each with its members (id, role, name, birth date)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT m.family_id, m.role, o.person_id, o.role, p.golden->>'family_name',
                      p.golden->>'given_name', p.golden->>'birth_date'
               FROM membership m
               JOIN membership o ON o.family_id = m.family_id AND o.period_to IS NULL
               JOIN registry_person p ON p.registry_id = o.person_id
               WHERE m.person_id = %s AND m.period_to IS NULL
               ORDER BY m.family_id, o.role, o.person_id""",
            (person_id,),
        )
        families: dict[str, dict[str, Any]] = {}
        for fid, role, other, other_role, family, given, born in cur.fetchall():
            f = families.setdefault(fid, {"family_id": fid, "role": role, "members": []})
            f["members"].append({"person_id": other, "role": other_role, "family_name": family,
                                 "given_name": given, "birth_date": born})
    return list(families.values())

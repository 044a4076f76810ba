"""Golden persons: survivorship over a registry person's records, with lineage and conflicts."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

from matching.store import Conn
from matching.survivorship import golden_person, load_policy
from registry.bulk import copy_rows, temp_table

GOLDEN_SQL = """
SELECT m.registry_id, m.source_code, m.staged_id, s.staged_at::text, s.canonical
FROM match_person m JOIN staged_record s ON s.staged_id = m.staged_id
WHERE m.registry_id = ANY(%s)
"""


def person_values(canonical: dict[str, Any]) -> dict[str, Any]:
    """The attributes survivorship chooses among, from one canonical person."""
    idents = {i["kind"]: i["value"] for i in canonical.get("identifiers", []) if i["kind"] != "local"}
    address = next(iter(canonical.get("addresses") or []), None)
    phone = next((c["value"] for c in canonical.get("contacts") or [] if c["kind"] == "phone"), None)
    return {
        "family_name": canonical.get("family_name"),
        "given_name": canonical.get("given_name"),
        "patronymic": canonical.get("patronymic"),
        "birth_date": canonical.get("birth_date"),
        "sex": canonical.get("sex"),
        "snils": idents.get("snils"),
        "oms_policy": idents.get("oms_policy"),
        "birth_certificate": idents.get("birth_certificate"),
        "passport_rf": idents.get("passport_rf"),
        "address": address,
        "phone": phone,
    }


def refresh_golden(conn: Conn, registry_ids: list[str], run_id: int) -> tuple[int, int]:
    """Recompute the golden record, its lineage and conflicts for ``registry_ids``; (updated, conflicts)."""
    if not registry_ids:
        return 0, 0
    policy = load_policy()
    with conn.cursor() as cur:
        cur.execute(GOLDEN_SQL, (registry_ids,))
        by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rid, source, staged_id, staged_at, canonical in cur.fetchall():
            by_id[rid].append(
                {
                    "source": source,
                    "staged_id": staged_id,
                    "staged_at": staged_at,
                    "values": person_values(canonical),
                }
            )
    golden_rows, lineage_rows, conflict_rows = [], [], []
    for rid, records in by_id.items():
        choices = golden_person(records, policy)
        golden = {attr: c.value for attr, c in choices.items()}
        golden["sources"] = sorted({r["source"] for r in records})
        golden_rows.append((rid, json.dumps(golden, ensure_ascii=False, default=str)))
        for attr, choice in choices.items():
            text = json.dumps(choice.value, sort_keys=True, ensure_ascii=False, default=str)
            lineage_rows.append(
                (
                    "person",
                    rid,
                    attr,
                    hashlib.sha256(text.encode()).hexdigest(),
                    choice.staged_id,
                    choice.rule,
                    run_id,
                )
            )
            if choice.conflict:
                conflict_rows.append(
                    (
                        "person",
                        rid,
                        attr,
                        text,
                        json.dumps(choice.conflict, ensure_ascii=False, default=str),
                        run_id,
                    )
                )
    _save_golden(conn, list(by_id), golden_rows, lineage_rows, conflict_rows)
    return len(by_id), len(conflict_rows)


def _save_golden(
    conn: Conn,
    ids: list[str],
    golden: list[tuple[Any, ...]],
    lineage: list[tuple[Any, ...]],
    conflicts: list[tuple[Any, ...]],
) -> None:
    """Write golden records, close old lineage, add new lineage and conflicts — a few statements in all."""
    with conn.cursor() as cur:
        temp_table(cur, "_golden_person", "registry_id text, golden jsonb")
        copy_rows(cur, "_golden_person", ("registry_id", "golden"), golden)
        cur.execute(
            """UPDATE registry_person p SET golden = v.golden, updated_at = now()
               FROM _golden_person v WHERE p.registry_id = v.registry_id"""
        )
        cur.execute(
            """UPDATE attribute_lineage SET valid_to = now()
                       WHERE entity_kind = 'person' AND entity_id = ANY(%s) AND valid_to IS NULL""",
            (ids,),
        )
        copy_rows(
            cur,
            "attribute_lineage",
            ("entity_kind", "entity_id", "attribute", "value_sha256", "staged_id", "rule", "run_id"),
            lineage,
        )
        cur.execute(
            "DELETE FROM survivorship_conflict WHERE entity_kind = 'person' AND entity_id = ANY(%s)", (ids,)
        )
        copy_rows(
            cur,
            "survivorship_conflict",
            ("entity_kind", "entity_id", "attribute", "chosen", "candidates", "run_id"),
            conflicts,
        )

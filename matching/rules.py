"""Deterministic rules: equal valid identifiers link records — with guards against shared numbers.

Rules run before the probabilistic model. A SNILS, OMS policy, birth certificate or a trusted shared
identifier a deployment declares (``shared_identifiers:`` in sources.yaml) links two records when
it is equal, is not a placeholder (all one digit, well-known test numbers), is not shared by more records
than ``max_records_per_identifier`` with different birth dates (a family or an office reusing a number),
and the two birth dates agree (equal, a day/month swap, or one missing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from matching.cluster import Edge
from matching.standardize import is_placeholder_identifier

IDENTIFIERS = {"snils": "snils", "oms": "oms_policy", "birth_cert": "birth_certificate", "shared_id": "local"}
"""Feature column → identifier kind (for the placeholder check); ``shared_id`` is a number the deployment
declares shared across sources (``shared_identifiers:`` in sources.yaml), as ``system:value``."""


def dates_agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    da, db = a.get("birth_date"), b.get("birth_date")
    return da is None or db is None or da == db or da == b.get("birth_date_swap")


def _suspicious(records: list[dict[str, Any]], limit: int) -> bool:
    dates = {r.get("birth_date") for r in records if r.get("birth_date")}
    return len(records) > limit and len(dates) > 1


def rule_edges(new: Iterable[dict[str, Any]], existing: Iterable[dict[str, Any]], limit: int) -> list[Edge]:
    """Rule edges between new records and any record (new or existing) sharing an identifier."""
    new = list(new)
    everyone = [*new, *existing]
    edges: dict[tuple[str, str], Edge] = {}
    for column, kind in IDENTIFIERS.items():
        index: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in everyone:
            value = record.get(column)
            if value and not is_placeholder_identifier(kind, value):
                index[value].append(record)
        for record in new:
            holders = index.get(record.get(column) or "", [])
            if len(holders) < 2 or _suspicious(holders, limit):
                continue
            for other in holders:
                if other["unique_id"] == record["unique_id"] or not dates_agree(record, other):
                    continue
                pair = tuple(sorted((record["unique_id"], other["unique_id"])))
                edges.setdefault(
                    pair,
                    Edge(
                        pair[0],
                        pair[1],
                        "rule",
                        None,
                        {"rule": f"equal {kind if column != 'shared_id' else 'shared identifier'}"},
                    ),
                )
    return list(edges.values())

"""Reconcile person records: rules, scores, family support, clusters, persistent ids, links, golden persons.

Only new and changed records are compared — against each other and against the features of every record
already in the registry (``match_person``): Splink's ``predict_within`` and ``predict_between``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matching import candidates, store
from matching.cluster import Edge, UnionFind, cluster
from matching.config import MatchingConfig
from matching.drift import present_counts
from matching.feature_pool import Pending
from matching.golden import refresh_golden
from matching.household_index import HouseholdIndex
from matching.model import score
from matching.role_support import role_edges, role_pairs
from matching.rules import rule_edges
from matching.store import Conn, StagedRow, split_key


@dataclass
class PersonStats:
    """Counts of the person step (no personal data)."""

    records: int = 0
    deleted: int = 0
    rule_links: int = 0
    auto_links: int = 0
    family_supported: int = 0
    role_supported: int = 0  # of family_supported: same role for one linked child or parent (role_support)
    review_items: int = 0
    new_persons: int = 0
    merges: int = 0
    refused_by_steward: int = 0
    golden_updated: int = 0
    conflicts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def reconcile_persons(
    conn: Conn,
    rows: list[StagedRow],
    households: HouseholdIndex,
    model: dict[str, Any],
    model_version: str,
    cfg: MatchingConfig,
    run_id: int,
    golden_due: set[str] | None = None,
    features_pending: Pending | None = None,
) -> PersonStats:
    """Link pending person ``rows`` into the registry; ``households``: who lives with whom now.

    ``golden_due``: the caller refreshes golden records once after its last batch, so the registry ids
    this batch touched are added to it (a person whose records arrive in several batches of a first night
    is computed once, not once per batch); None: refreshed here. ``features_pending``: the batch's features
    as the caller's feature workers computed them (``matching.feature_pool``); None: computed here."""
    stats = PersonStats(records=len(rows))
    lap = _Laps(stats.extra)
    alive = [r for r in rows if not r.deleted]
    _forget_deleted([r for r in rows if r.deleted], conn, run_id, stats)
    pending = features_pending or Pending(rows, None)
    features = pending.result()
    lap("features")
    never, forced = store.steward_decisions(conn)
    scheme, _ = candidates.key_function(model)
    keys = pending.keys if scheme is not None and pending.scheme == scheme else None
    stored = candidates.load(conn, model, features, {rid for key, rid in forced if key in features}, run_id,
                             keys)
    existing_ids, others = stored.ids, stored.others
    stats.extra.update(
        candidates=len(others), stored_loaded=len(existing_ids), keys_rebuilt=stored.keys_rebuilt,
        **present_counts(features.values()),
    )
    lap("candidates")
    new = list(features.values())
    edges = rule_edges(new, others, cfg.max_records_per_identifier)
    stats.rule_links = len(edges)
    lap("rules")
    labels = _level_labels(model)
    auto, review = _scored_edges(model, new, others, cfg, labels)
    stats.auto_links = len(auto)
    lap("score")
    households.load([*features, *(k for e in review for k in (e.left, e.right))])
    support_ids = {**_member_ids(conn, review, households, existing_ids), **existing_ids}
    supported, review, links_so_far = _family_support(edges + auto, review, support_ids, households, cfg)
    known = {**{r["unique_id"]: r for r in others}, **features}
    roles = role_edges(conn, role_pairs(features, households, links_so_far, known), known, model, cfg,
                       lambda pair: _explanation(pair, labels))
    stats.role_supported = len(roles)
    # A role pair's stored side may be no candidate (no blocking rule pairs it): the clustering must see
    # it and every record of its registry id, as it sees a candidate's (a merge moves them all).
    outside = {k for e in roles for k in (e.left, e.right)} - existing_ids.keys() - features.keys()
    if outside:
        existing_ids.update(store.records_of(conn, set(store.registry_ids_of(conn, outside).values())))
    supported += roles
    stats.family_supported = len(supported)
    lap("family_support")
    forced_edges = [
        Edge(key, _any_record_of(rid, existing_ids), "steward_link")
        for key, rid in forced
        if key in features and _any_record_of(rid, existing_ids)
    ]
    result = cluster(
        existing_ids,
        [k for k in features if k not in existing_ids],
        edges + auto + supported + forced_edges,
        never,
    )
    stats.refused_by_steward = len(result.refused)
    lap("cluster")
    assignment = _allocate(conn, result.assignment, run_id, stats)
    _apply_merges(conn, result.merges, run_id, stats)
    explanations = _explain(edges + auto + supported + forced_edges, model_version)
    _write_links(
        conn,
        rows=alive,
        features=features,
        assignment=assignment,
        existing=existing_ids,
        explanations=explanations,
        households=households,
        run_id=run_id,
        block_keys=stored.keys_to_store,
    )
    stats.review_items = _queue_reviews(conn, review, assignment, model_version, run_id)
    lap("links")
    affected = {assignment[k] for k in features} | {s for _, s in result.merges}
    affected |= {assignment[k] for k, rid in existing_ids.items() if assignment.get(k) != rid}
    affected.discard("")
    if golden_due is not None:
        golden_due |= affected
        return stats
    stats.golden_updated, stats.conflicts = refresh_golden(conn, sorted(affected), run_id)
    lap("golden")
    return stats


class _Laps:
    """Seconds per phase of the person step, summed into ``stats.extra`` as ``seconds_<phase>``."""

    def __init__(self, extra: dict[str, Any]) -> None:
        self.extra, self.last = extra, time.monotonic()

    def __call__(self, phase: str) -> None:
        now = time.monotonic()
        name = f"seconds_{phase}"
        self.extra[name] = round(self.extra.get(name, 0.0) + now - self.last, 2)
        self.last = now


def _member_ids(
    conn: Conn, review: list[Edge], households: HouseholdIndex, known: dict[str, str]
) -> dict[str, str]:
    """Registry ids of the household members of review pairs' records that are not loaded yet."""
    wanted = {e for edge in review for e in (edge.left, edge.right)}
    members = {m for key in wanted for h in households.of(key) for m in households.members(h)}
    return store.registry_ids_of(conn, members - known.keys())


def _forget_deleted(rows: list[StagedRow], conn: Conn, run_id: int, stats: PersonStats) -> None:
    keys = [(r.source, r.source_record_id) for r in rows]
    if not keys:
        return
    store.close_links(conn, "person", keys)
    store.forget_features(conn, keys)
    stats.deleted = len(keys)


def _scored_edges(
    model: dict[str, Any], new: list[dict[str, Any]], others: list[dict[str, Any]], cfg: MatchingConfig,
    labels: dict[str, list[str]],
) -> tuple[list[Edge], list[Edge]]:
    auto: list[Edge] = []
    review: list[Edge] = []
    for pair in score(model, new, others, cfg.review_weight):
        left, right = str(pair["unique_id_l"]), str(pair["unique_id_r"])
        weight = float(pair["match_weight"])
        explanation = _explanation(pair, labels)
        edge = Edge(left, right, "auto" if weight >= cfg.auto_link_weight else "review", weight, explanation)
        (auto if edge.decision == "auto" else review).append(edge)
    return auto, review


def _explanation(pair: dict[str, Any], labels: dict[str, list[str]]) -> dict[str, Any]:
    """What a scored pair's link or review says of itself: weights and levels (no personal values)."""
    weight = float(pair["match_weight"])
    detail = comparison_weights(pair, labels)
    return {
        "match_weight": round(weight, 2),
        "match_probability": round(float(pair.get("match_probability") or 0.0), 6),
        "prior_weight": round(weight - sum(detail.values()), 2),
        "comparisons": detail,
        "levels": {name: _label(labels, name, pair.get(f"gamma_{name}")) for name in detail},
        "birth_date_level": _label(labels, "birth_date", pair.get("gamma_birth_date")),
    }


def comparison_weights(pair: dict[str, Any], labels: dict[str, list[str]] | None = None) -> dict[str, float]:
    """Each comparison's match weight in a scored pair (Splink 5: ``mw_<name>``; Splink 4: ``bf_<name>``);
    ``labels``: the model's comparisons (``_level_labels``), so a pair's ~100 columns are not all scanned."""
    if labels is not None and all(f"mw_{name}" in pair for name in labels):
        return {name: round(float(pair[f"mw_{name}"]), 2) for name in labels}
    weights = {k[3:]: float(v) for k, v in pair.items() if k.startswith("mw_") and isinstance(v, int | float)}
    if not weights:  # an older Splink: Bayes factors, whose log2 is the weight
        weights = {k[3:]: math.log2(v) for k, v in pair.items()
                   if k.startswith("bf_") and isinstance(v, int | float) and v > 0}
    return {k: round(v, 2) for k, v in weights.items()}


def _level_labels(model: dict[str, Any]) -> dict[str, list[str]]:
    """Comparison → the chart labels of its non-null levels, in the model's order."""
    return {
        str(comp.get("output_column_name")): [
            str(lv.get("label_for_charts")) for lv in comp["comparison_levels"] if not lv.get("is_null_level")
        ]
        for comp in model["comparisons"]
    }


def _label(labels: dict[str, list[str]], comparison: str, gamma: Any) -> str | None:
    """The chart label of comparison level ``gamma`` (None for the null level or when unknown)."""
    levels = labels.get(comparison)
    if gamma is None or int(gamma) < 0 or levels is None:
        return None
    index = len(levels) - 1 - int(gamma)  # Splink numbers levels from the else level (0) up
    return levels[index] if 0 <= index < len(levels) else None


def _family_support(
    strong: list[Edge],
    review: list[Edge],
    existing: dict[str, str],
    households: HouseholdIndex,
    cfg: MatchingConfig,
) -> tuple[list[Edge], list[Edge], UnionFind]:
    """Review pairs whose households already share a linked member become links of their own; with the
    persons known after them (for role support)."""
    uf = _union(existing, strong)
    supported, remaining = [], []
    for edge in review:
        # Siblings share a household by definition: support needs the birth dates to agree as well.
        dates_agree = edge.explanation.get("birth_date_level") in ("exact", "day and month swapped", None)
        if (
            (edge.weight or 0) >= cfg.family_support_weight
            and dates_agree
            and _households_agree(edge, households, uf)
        ):
            explanation = {**edge.explanation, "family_support": True}
            supported.append(Edge(edge.left, edge.right, "family_supported", edge.weight, explanation))
            uf.add(edge.left)
            uf.add(edge.right)
            uf.union(edge.left, edge.right)
        else:
            remaining.append(edge)
    return supported, remaining, uf


def _union(existing: dict[str, str], edges: list[Edge]) -> UnionFind:
    """The persons known so far: stored records with their registry ids, joined by tonight's links."""
    uf = UnionFind()
    for key, registry_id in existing.items():
        uf.add(key)
        uf.add(f"id:{registry_id}")
        uf.union(key, f"id:{registry_id}")
    for edge in edges:
        uf.add(edge.left)
        uf.add(edge.right)
        uf.union(edge.left, edge.right)
    return uf


def _households_agree(edge: Edge, households: HouseholdIndex, uf: UnionFind) -> bool:
    left = {m for h in households.of(edge.left) for m in households.members(h)} - {edge.left}
    right = {m for h in households.of(edge.right) for m in households.members(h)} - {edge.right}
    roots = {uf.find(m) for m in left if m in uf.parent}
    return any(uf.find(m) in roots for m in right if m in uf.parent)


def _any_record_of(registry_id: str, existing: dict[str, str]) -> str:
    return next((k for k, rid in existing.items() if rid == registry_id), "")


def _allocate(conn: Conn, assignment: dict[str, str], run_id: int, stats: PersonStats) -> dict[str, str]:
    """Give each ``new:N`` cluster a fresh persistent registry id (in label order: deterministic)."""
    labels = sorted({rid for rid in assignment.values() if rid.startswith("new:")}, key=lambda s: int(s[4:]))
    fresh = dict(zip(labels, store.allocate_ids(conn, "registry_person", len(labels), run_id), strict=True))
    stats.new_persons = len(labels)
    store.events(
        conn,
        [
            ("person", rid, "created", None, None, None, "reconcile: no matching person")
            for rid in fresh.values()
        ],
        run_id,
    )
    return {key: fresh.get(rid, rid) for key, rid in assignment.items()}


def _apply_merges(conn: Conn, merges: list[tuple[str, str]], run_id: int, stats: PersonStats) -> None:
    for replaced, survivor in merges:
        store.tombstone(conn, "registry_person", replaced, survivor)
    store.events(
        conn,
        [("person", r, "merged_into", s, None, None, "reconcile: records linked") for r, s in merges]
        + [("person", s, "absorbed", r, None, None, "reconcile: records linked") for r, s in merges],
        run_id,
    )
    stats.merges = len(merges)


def _explain(edges: list[Edge], model_version: str) -> dict[str, tuple[str, float | None, dict[str, Any]]]:
    """Record key → (decision, score, explanation) of the strongest edge touching it."""
    order = {"steward_link": 0, "rule": 1, "auto": 2, "family_supported": 3}
    best: dict[str, Edge] = {}
    for edge in edges:
        for key in (edge.left, edge.right):
            current = best.get(key)
            if current is None or (order[edge.decision], -(edge.weight or 0)) < (
                order[current.decision],
                -(current.weight or 0),
            ):
                best[key] = edge
    return {
        k: (
            e.decision,
            e.weight,
            {
                **e.explanation,
                "model_version": model_version,
                "linked_with": e.right if e.left == k else e.left,
            },
        )
        for k, e in best.items()
    }


def _write_links(
    conn: Conn,
    *,
    rows: list[StagedRow],
    features: dict[str, dict[str, Any]],
    assignment: dict[str, str],
    existing: dict[str, str],
    explanations: dict[str, tuple[str, float | None, dict[str, Any]]],
    households: HouseholdIndex,
    run_id: int,
    block_keys: Callable[[dict[str, Any]], list[int] | None],
) -> None:
    links = []
    for row in rows:
        decision, weight, explanation = explanations.get(row.key, ("new_entity", None, {}))
        if row.key in existing and existing[row.key] == assignment[row.key] and decision == "new_entity":
            decision = "auto"  # a changed record that stays where it was
        links.append(
            {
                "source": row.source,
                "source_record_id": row.source_record_id,
                "registry_id": assignment[row.key],
                "decision": "auto" if decision == "family_supported" else decision,
                "score": weight,
                "explanation": explanation,
                "model_version": explanation.get("model_version"),
            }
        )
    moved = [k for k, rid in existing.items() if assignment.get(k) not in (None, rid) and k not in features]
    for key in moved:
        source, sid = split_key(key)
        links.append(
            {
                "source": source,
                "source_record_id": sid,
                "registry_id": assignment[key],
                "decision": "auto",
                "explanation": {"moved_by_merge": True},
            }
        )
    store.set_links(conn, "person", links, run_id)
    store.save_features(
        conn,
        [(r, features[r.key], assignment[r.key], _household(households, r.key)) for r in rows],
        run_id,
        block_keys,
    )
    if moved:
        with conn.cursor() as cur:
            cur.execute(
                """UPDATE match_person m SET registry_id = v.rid
                           FROM unnest(%s::text[], %s::text[], %s::text[]) AS v (s, i, rid)
                           WHERE m.source_code = v.s AND m.source_record_id = v.i""",
                (
                    [split_key(k)[0] for k in moved],
                    [split_key(k)[1] for k in moved],
                    [assignment[k] for k in moved],
                ),
            )


def _household(households: HouseholdIndex, key: str) -> str | None:
    hhs = sorted(households.of(key))
    return hhs[0] if hhs else None


def _queue_reviews(
    conn: Conn, review: list[Edge], assignment: dict[str, str], model_version: str, run_id: int
) -> int:
    rows = []
    for edge in review:
        left, right = assignment.get(edge.left), assignment.get(edge.right)
        if left is None or right is None or left == right:
            continue
        source, sid = split_key(edge.left)
        rows.append(
            {
                "source": source,
                "source_record_id": sid,
                "candidate_id": right,
                "score": edge.weight,
                "explanation": edge.explanation,
                "model_version": model_version,
            }
        )
    return store.open_reviews(conn, rows, run_id)

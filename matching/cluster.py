"""Clusters from links: which records are one person, and which registry id each cluster keeps.

Registry ids are persistent. A cluster that contains records already in the registry keeps the oldest of
their ids (ids are zero-padded sequence numbers, so the smallest is the oldest); the other ids become
tombstones (``replaced-by``). A cluster without any gets a new id. A steward's ``never_link`` between a
record and a registry id is honoured by refusing every edge that would join them; ``link`` forces one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edge:
    """Evidence that two records are one person."""

    left: str
    right: str
    decision: str  # rule | auto | family_supported | steward_link
    weight: float | None = None
    explanation: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


class UnionFind:
    """Disjoint sets over record keys, with the registry ids each set already holds."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.ids: dict[str, set[str]] = defaultdict(set)

    def add(self, key: str, registry_id: str | None = None) -> None:
        self.parent.setdefault(key, key)
        if registry_id is not None:
            self.ids[self.find(key)].add(registry_id)

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        self.ids[ra] |= self.ids.pop(rb, set())

    def registry_ids(self, key: str) -> set[str]:
        return self.ids.get(self.find(key), set())

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for key in self.parent:
            out[self.find(key)].append(key)
        return out


@dataclass
class Clustering:
    """The outcome: a registry id for every record key, merges to record, edges refused by stewards."""

    assignment: dict[str, str]  # record key → registry id, or "new:N" for a cluster that needs one
    merges: list[tuple[str, str]]  # (replaced id, surviving id)
    refused: list[Edge]


def cluster(
    existing: dict[str, str],
    new_keys: Iterable[str],
    edges: Iterable[Edge],
    never_link: set[tuple[str, str]],
) -> Clustering:
    """Join records along ``edges`` (strongest first) unless a steward said never.

    ``existing``: record key → its current registry id; ``new_keys``: records without one yet;
    ``never_link``: (record key, registry id) pairs a steward separated. A cluster without a registry id is
    labelled ``new:N`` (the caller allocates the ids).
    """
    uf = UnionFind()
    first_of: dict[str, str] = {}
    for key, registry_id in existing.items():
        uf.add(key, registry_id)
        # The records of one registry id are one person: a merge of that id moves all of them, also those
        # no edge of tonight touches (left behind, they would point at a tombstone).
        if registry_id in first_of:
            uf.union(first_of[registry_id], key)
        else:
            first_of[registry_id] = key
    for key in new_keys:
        uf.add(key)
    refused = []
    for edge in sorted(edges, key=_strength):
        if _forbidden(uf, edge, never_link, existing):
            refused.append(edge)
            continue
        uf.union(edge.left, edge.right)
    assignment: dict[str, str] = {}
    merges: list[tuple[str, str]] = []
    fresh = 0
    for members in sorted(uf.groups().values(), key=min):
        ids = sorted(uf.registry_ids(members[0]))
        if not ids:
            fresh += 1
        survivor = ids[0] if ids else f"new:{fresh}"
        merges += [(other, ids[0]) for other in ids[1:]]
        for key in members:
            assignment[key] = survivor
    return Clustering(assignment, merges, refused)


def _strength(edge: Edge) -> tuple[int, float]:
    order = {"steward_link": 0, "rule": 1, "auto": 2, "family_supported": 3}
    return order.get(edge.decision, 9), -(edge.weight or 0.0)


def _forbidden(uf: UnionFind, edge: Edge, never: set[tuple[str, str]], existing: dict[str, str]) -> bool:
    """Would this edge put a record together with a registry id a steward separated it from?"""
    if edge.decision == "steward_link" or not never:
        return False
    left, right = uf.find(edge.left), uf.find(edge.right)
    left_ids, right_ids = uf.registry_ids(edge.left), uf.registry_ids(edge.right)
    for key, registry_id in never:  # stewards' decisions are few: check each against both sides
        if key not in uf.parent:
            continue
        side = uf.find(key)
        if (side == left and registry_id in right_ids) or (side == right and registry_id in left_ids):
            return True
    return False

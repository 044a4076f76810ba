"""Role-aware family support: the mother of one child in two agencies' households is one woman.

A mother registered under her married name by one agency and her maiden name by another, without a
patronymic, or with day and month swapped, scores too low to link or even to queue: the names disagree and
nothing else is strong. Her family is the evidence the scores cannot see. When two households of different
sources hold the same (already linked) child, the mothers of that child in them are one person unless the
records contradict it; so are the fathers, and the child of one linked mother in both (but not a sibling).

A role pair is two records of tonight's (or a stored) household that hold the same role, found through a
member holding the same role in both households, one side a child and the other a parent — a parent through
the child, a child through a parent. It becomes a link (``family_supported``, explained as ``role``) only
when the model scores it at ``role_support_weight`` or more — each role pair is scored, whatever the
model's blocking rules — the birth dates agree (equal or day and month swapped) and the given names agree
(any name level but "family exact, given differs" and the else level; for a child the same given name),
the sexes do not differ, or, when a birth date is missing, the whole names agree: so twins and siblings, who
share a mother but not a given name, never merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from matching import store
from matching.cluster import Edge, UnionFind
from matching.config import MatchingConfig
from matching.household_index import HouseholdIndex
from matching.model import score_pairs
from matching.rules import dates_agree
from matching.store import Conn

PARENT_ROLES = frozenset({"mother", "father", "guardian", "foster_parent"})
"""Roles a household holds once per child: two holders of one of them for one child are one person."""
CHILD = "child"
DATES_AGREE = frozenset({"exact", "day and month swapped"})
ELSE = "All other comparisons"
GIVEN_DISAGREES = frozenset({"family exact, given differs (a sibling?)", ELSE})
CHILD_NAMES = frozenset({"both exact", "family and given swapped", "given exact, family close",
                         "family exact, given a diminutive of it"})
"""A child's given name must be the same name: twins share the mother, the family name and the birth date,
and a close given name (Александр, Александра) is more likely a twin than a typo."""
NAMES_AGREE = frozenset({"both exact", "family and given swapped", "family exact, given close",
                         "given exact, family close", "both close", "both sound alike (Metaphone)",
                         "family exact, given a diminutive of it"})
"""Name levels that stand for the whole name when a birth date is missing (an agency that never sends
parents' birth dates: the mother of the same child with the same name is the same woman)."""


@dataclass(frozen=True)
class RolePair:
    """Two records holding ``role`` in households that share a member holding ``via_role`` in both."""

    left: str
    right: str
    role: str
    via_role: str


def _kinship(role: str | None, via_role: str | None) -> bool:
    """A parent found through their child, or a child through a parent (never a sibling through one)."""
    if role is None or via_role is None:
        return False
    return (role == CHILD and via_role in PARENT_ROLES) or (role in PARENT_ROLES and via_role == CHILD)


def dates_may_agree(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """False only when both feature rows are known and their birth dates neither match nor are day and
    month swapped (the rules step's test): such a pair can never pass ``role_edges`` (a sibling, mostly),
    so it is not scored at all."""
    return a is None or b is None or dates_agree(a, b) or dates_agree(b, a)


def role_pairs(
    tonight: Iterable[str], households: HouseholdIndex, uf: UnionFind,
    rows: dict[str, dict[str, Any]] | None = None,
) -> list[RolePair]:
    """The role pairs of tonight's records that ``uf`` (the links known so far) does not join yet;
    ``rows``: feature rows known so far, to leave out pairs whose birth dates disagree."""
    rows = rows or {}
    groups = uf.groups()
    ways = []  # (record, household, role, via member, via role)
    for key in tonight:
        for household in households.of(key):
            role = households.role(key, household)
            for via in households.members(household) - {key}:
                via_role = households.role(via, household)
                if _kinship(role, via_role) and via in uf.parent:
                    ways.append((key, household, role, via, via_role))
    households.load(k for *_, via, _ in ways for k in groups[uf.find(via)] if not k.startswith("id:"))
    found: dict[tuple[str, str], RolePair] = {}
    for key, household, role, via, via_role in ways:
        for other in groups[uf.find(via)]:
            if other == via:
                continue
            for there in households.of(other) - {household}:
                if households.role(other, there) != via_role:
                    continue
                for cand in households.members(there) - {other}:
                    if (households.role(cand, there) != role or _joined(uf, key, cand)
                            or not dates_may_agree(rows.get(key), rows.get(cand))):
                        continue
                    found.setdefault((min(key, cand), max(key, cand)),
                                     RolePair(key, cand, str(role), str(via_role)))
    return list(found.values())


def _joined(uf: UnionFind, a: str, b: str) -> bool:
    return a == b or (a in uf.parent and b in uf.parent and uf.find(a) == uf.find(b))


def role_edges(
    conn: Conn,
    pairs: list[RolePair],
    rows: dict[str, dict[str, Any]],
    model: dict[str, Any],
    cfg: MatchingConfig,
    explain: Any,
) -> list[Edge]:
    """The role pairs the model and the records allow (see the module docstring), as links.

    ``rows``: feature rows known tonight by record key (others are read from the store); ``explain``:
    scored pair → the explanation the person step writes for every scored edge."""
    if not pairs:
        return []
    missing = {k for p in pairs for k in (p.left, p.right)} - rows.keys()
    rows = {**rows, **store.features_of(conn, missing)}
    found = [p for p in pairs if p.left in rows and p.right in rows]
    by_key = {(p.left, p.right): p for p in found}
    edges = []
    scored = score_pairs(model, [(rows[p.left], rows[p.right]) for p in found], cfg.role_support_weight)
    for pair in scored:
        left, right = str(pair["unique_id_l"]), str(pair["unique_id_r"])
        explanation = explain(pair)
        role = by_key[(left, right)]
        if _records_allow(explanation, role.role):
            explanation = {**explanation, "family_support": "role", "role": role.role,
                           "via_role": role.via_role}
            edges.append(Edge(left, right, "family_supported", float(pair["match_weight"]), explanation))
    return edges


def _records_allow(explanation: dict[str, Any], role: str) -> bool:
    """Birth dates agree and the given names agree (for a child, as written: Александр and Александра are
    twins), the sexes do not differ; with a birth date missing, the whole names agree."""
    levels = explanation["levels"]
    name, date = levels.get("name"), explanation["birth_date_level"]
    if levels.get("sex_std") == ELSE:
        return False
    if role == CHILD and name not in CHILD_NAMES:
        return False
    if date is None:
        return name in NAMES_AGREE
    return date in DATES_AGREE and name is not None and name not in GIVEN_DISAGREES

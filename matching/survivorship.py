"""Survivorship: the golden person from the records linked to it, by a per-attribute YAML policy.

Each attribute is chosen among the linked records' values by its rule (majority, trusted, recent) and its
source trust order (``config/survivorship.yaml``). The result says, per attribute, which staged record
gave the value and by which rule — that is what lineage shows — and lists the attributes whose sources
disagreed (conflicts, shown to stewards).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)
POLICY_PATH = Path(__file__).resolve().parents[1] / "config" / "survivorship.yaml"


@dataclass(frozen=True)
class Candidate:
    """One record's value for an attribute."""

    value: Any
    source: str
    staged_id: int
    staged_at: str


@dataclass
class Choice:
    """The surviving value of an attribute and why."""

    value: Any
    staged_id: int
    rule: str
    conflict: list[dict[str, Any]] = field(default_factory=list)


def load_policy(path: Path = POLICY_PATH) -> dict[str, Any]:
    """The survivorship policy (validated lightly: every attribute has a known rule and a trust list).

    A configured source that a trust list does not name is placed after the named ones, in the order of
    its ``trust_rank`` in ``config/sources.yaml`` (a source without one last, with a warning): a new
    agency takes part in survivorship without editing this file.
    """
    from connectors.config import sources_path

    return _policy(path, sources_path())


@lru_cache(maxsize=8)
def _policy(path: Path, sources: Path) -> dict[str, Any]:
    from connectors.config import load_sources

    policy = yaml.safe_load(path.read_text("utf-8"))
    configured = load_sources(sources)
    last = 10**6
    rank = {code: (last if s.trust_rank is None else s.trust_rank, code) for code, s in configured.items()}
    named: set[str] = set()
    for section in ("person", "family"):
        for attribute, spec in policy[section].items():
            if spec.get("rule") not in RULES or not spec.get("trust"):
                raise ValueError(
                    f"{path}: {section}.{attribute}: needs rule {sorted(RULES)} and a trust list"
                )
            named |= set(spec["trust"])
            spec["trust"] = [*spec["trust"], *sorted((c for c in configured if c not in spec["trust"]),
                                                     key=rank.__getitem__)]
    for code in sorted(set(configured) - named):
        if configured[code].trust_rank is None:
            logger.warning("source %s is in no survivorship trust list and has no trust_rank: it is trusted "
                           "least (set trust_rank in config/sources.yaml or name it in %s)", code, path.name)
    return dict(policy)


def _rank(spec: dict[str, Any], source: str) -> int:
    trust = spec["trust"]
    return trust.index(source) if source in trust else len(trust)


def _key(value: Any) -> str:
    return repr(value)


def _majority(cands: list[Candidate], spec: dict[str, Any]) -> Candidate:
    counts = Counter(_key(c.value) for c in cands)
    return min(cands, key=lambda c: (-counts[_key(c.value)], _rank(spec, c.source), c.staged_at))


def _trusted(cands: list[Candidate], spec: dict[str, Any]) -> Candidate:
    return min(cands, key=lambda c: (_rank(spec, c.source), _neg(c.staged_at)))


def _recent(cands: list[Candidate], spec: dict[str, Any]) -> Candidate:
    return min(cands, key=lambda c: (_neg(c.staged_at), _rank(spec, c.source)))


def _neg(stamp: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in stamp)  # later timestamps sort first


RULES: dict[str, Callable[[list[Candidate], dict[str, Any]], Candidate]] = {
    "majority": _majority,
    "trusted": _trusted,
    "recent": _recent,
}


def choose(attribute: str, candidates: list[Candidate], spec: dict[str, Any]) -> Choice | None:
    """The surviving value among non-empty candidates, with the conflict list when they disagree."""
    present = [c for c in candidates if c.value not in (None, "", [], {})]
    if not present:
        return None
    winner = RULES[spec["rule"]](present, spec)
    distinct = {_key(c.value) for c in present}
    conflict = []
    if len(distinct) > 1:
        seen: dict[str, dict[str, Any]] = {}
        for c in present:
            entry = seen.setdefault(_key(c.value), {"value": c.value, "sources": []})
            entry["sources"].append(c.source)
        conflict = list(seen.values())
    return Choice(winner.value, winner.staged_id, f"{spec['rule']}:{attribute}", conflict)


def golden_person(records: list[dict[str, Any]], policy: dict[str, Any] | None = None) -> dict[str, Choice]:
    """Attribute → choice for one registry person from its linked person records.

    ``records``: dicts with ``source``, ``staged_id``, ``staged_at`` and ``values`` (attribute → value).
    """
    spec = (policy or load_policy())["person"]
    out = {}
    for attribute, attr_spec in spec.items():
        cands = [
            Candidate(r["values"].get(attribute), r["source"], r["staged_id"], r["staged_at"])
            for r in records
        ]
        choice = choose(attribute, cands, attr_spec)
        if choice is not None:
            out[attribute] = choice
    return out

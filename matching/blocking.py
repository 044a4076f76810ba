"""Blocking keys: which stored person records a night has to compare its new records with.

A night compares tonight's records only with the stored records that share a blocking rule's values with
one of them — the same pairs Splink's ``predict_between`` would block out of the whole registry, fetched
through an indexed key array (``match_person.block_keys``, GIN) instead of loading every stored record.

Each OR-ed blocking rule of the model in use that is a conjunction of equalities ``l.a = r.b`` becomes keys:
a symmetric rule (every ``a`` equals its ``b``) gives one key per record, ``S``; an asymmetric one
(``l.birth_date = r.birth_date_swap``) gives a left key from the ``a`` columns and a right key from the ``b``
columns, and a new record looks its right values up among stored left keys and the other way round. A
missing value gives no key (SQL's ``NULL = NULL`` is not true either). The identifier columns the rules step
reads get keys too, so every holder of a number is fetched and the shared-number guard counts them all.

Keys are 64-bit hashes (BLAKE2b) so that the index holds no names; a collision only adds a candidate,
which the model then scores. The *scheme* — a hash of the rules,
identifier columns and ``matching.features.FEATURES_VERSION`` — is stored with the keys; a model with other
rules, or standardisation with other columns, makes the stored keys stale and the night rebuilds them (and
the stored features) once. A rule that is not a conjunction of equalities cannot be keyed: then the
scheme is ``None`` and the night compares with every stored record, as before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matching.features import FEATURES_VERSION
from matching.standardize import is_placeholder_identifier

KEY_FORMAT = 1  # bump when the digest changes: stored keys are rebuilt
_EQUALITY = re.compile(r"^\s*l\.([a-z_][a-z0-9_]*)\s*=\s*r\.([a-z_][a-z0-9_]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class KeyedRule:
    """One blocking rule as column pairs (left column, right column)."""

    index: int
    pairs: tuple[tuple[str, str], ...]

    @property
    def symmetric(self) -> bool:
        return all(a == b for a, b in self.pairs)


@dataclass(frozen=True)
class Scheme:
    """The keyed rules and identifier columns of one model, with a version hash."""

    rules: tuple[KeyedRule, ...]
    identifiers: tuple[tuple[str, str], ...]  # (feature column, identifier kind)

    @property
    def version(self) -> str:
        text = repr((KEY_FORMAT, FEATURES_VERSION, tuple(r.pairs for r in self.rules), self.identifiers))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def parse_rule(index: int, text: str) -> KeyedRule | None:
    """``l.a = r.b AND l.c = r.d`` → its column pairs; None for any other shape (OR, functions, ranges)."""
    parts = re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE)
    pairs = []
    for part in parts:
        m = _EQUALITY.match(part)
        if m is None:
            return None
        pairs.append((m.group(1), m.group(2)))
    return KeyedRule(index, tuple(pairs))


def scheme_for(model: dict[str, Any], identifiers: dict[str, str]) -> Scheme | None:
    """The key scheme of a Splink model's blocking rules; None when one of them cannot be keyed."""
    rules = []
    for i, entry in enumerate(model.get("blocking_rules_to_generate_predictions") or []):
        text = entry["blocking_rule"] if isinstance(entry, dict) else str(entry)
        rule = parse_rule(i, text)
        if rule is None:
            return None
        rules.append(rule)
    return Scheme(tuple(rules), tuple(sorted(identifiers.items())))


def _digest(tag: str, values: Sequence[Any]) -> int | None:
    if any(v is None for v in values):
        return None
    text = tag + "\x1f" + "\x1f".join(str(v) for v in values)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _identifier_keys(scheme: Scheme, features: dict[str, Any]) -> list[int | None]:
    # A placeholder number (all one digit, a test SNILS) is no evidence: fetching its thousands of holders
    # would only be thrown away by the rules step.
    return [
        _digest(f"id:{column}", [value])
        for column, kind in scheme.identifiers
        if (value := features.get(column)) and not is_placeholder_identifier(kind, value)
    ]


def keys(scheme: Scheme, features: dict[str, Any]) -> tuple[list[int], list[int]]:
    """(stored keys: what the record is found by, query keys: what its candidates carry) — one pass.

    Stored: its left values (L) and right values (R) of each asymmetric rule. Query: its right values
    meet stored left keys (stored l.a = new r.b), its left values stored right keys (new l.a = stored r.b).
    A symmetric rule's key is both.
    """
    stored: list[int | None] = []
    query: list[int | None] = []
    for rule in scheme.rules:
        left = [features.get(a) for a, _ in rule.pairs]
        if rule.symmetric:
            key = _digest(f"{rule.index}:S", left)
            stored.append(key)
            query.append(key)
            continue
        right = [features.get(b) for _, b in rule.pairs]
        left_l, right_l = _digest(f"{rule.index}:L", left), _digest(f"{rule.index}:L", right)
        left_r, right_r = _digest(f"{rule.index}:R", left), _digest(f"{rule.index}:R", right)
        stored += [left_l, right_r]
        query += [right_l, left_r]
    ids = _identifier_keys(scheme, features)
    return _clean(stored + ids), _clean(query + ids)


def _clean(keys: list[int | None]) -> list[int]:
    return sorted({k for k in keys if k is not None})


def stored_keys(scheme: Scheme, features: dict[str, Any]) -> list[int]:
    """The keys a stored record is found by."""
    return keys(scheme, features)[0]


def query_keys(scheme: Scheme, features: dict[str, Any]) -> list[int]:
    """The stored keys a new record's candidates carry."""
    return keys(scheme, features)[1]

"""The stored person records a night needs: blocking candidates of tonight's records and their clusters.

What the person step reads of the registry, and why:
- *candidates* — stored records sharing a blocking key with a record of tonight (``matching.blocking``):
  the only stored records Splink's ``predict_between`` could pair with them, and every holder of an
  identifier a record of tonight carries (the rules step);
- *clusters* — every stored record of a registry id a candidate, a changed record of tonight or a steward's
  forced link belongs to: a merge moves all of them, so the clustering must see them all.
Household members that only family support asks about are looked up separately (``registry_ids_of``).

When the model's blocking rules cannot be keyed, every stored record is read (the scheme is None).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from matching import blocking, store
from matching.features import refeaturer
from matching.rules import IDENTIFIERS
from matching.store import Conn

log = logging.getLogger("hub.matching.candidates")


@dataclass
class Stored:
    """What the person step knows of the registry tonight."""

    others: list[dict[str, Any]]  # candidate feature rows (not tonight's records)
    ids: dict[str, str]  # record key → registry id: candidates, their clusters, tonight's stored records
    keys_rebuilt: int = 0  # stored records whose blocking keys were rebuilt for a new scheme
    full_scan: bool = False
    tonight_keys: dict[str, list[int]] = field(default_factory=dict)  # tonight's records' stored keys

    def keys_to_store(self, features: dict[str, Any]) -> list[int] | None:
        """The blocking keys to save with one of tonight's records (None: the model has no scheme)."""
        return None if self.full_scan else self.tonight_keys[features["unique_id"]]


def key_function(model: dict[str, Any]) -> tuple[blocking.Scheme | None, Any]:
    """(scheme, features → stored keys) for ``model``; (None, None) when its rules cannot be keyed."""
    scheme = blocking.scheme_for(model, IDENTIFIERS)
    if scheme is None:
        return None, None
    return scheme, lambda features: blocking.stored_keys(scheme, features)


def load(
    conn: Conn,
    model: dict[str, Any],
    tonight: dict[str, dict[str, Any]],
    forced_ids: set[str],
    run_id: int,
    tonight_keys: dict[str, tuple[list[int], list[int]]] | None = None,
) -> Stored:
    """The stored records tonight's records (``key → features``) have to meet; ``tonight_keys``: their
    (stored, query) keys under this model's scheme when the feature workers computed them already."""
    scheme, keys_of = key_function(model)
    rebuilt = 0
    if scheme is None or store.block_scheme(conn) != scheme.version:
        rebuilt = store.rebuild_block_keys(conn, scheme.version if scheme else None, keys_of, run_id,
                                           refeaturer())
        if scheme is not None:
            log.info("blocking keys rebuilt for scheme %s (%d stored records)", scheme.version, rebuilt)
    if scheme is None:
        rows, ids = store.existing_features(conn)
        return Stored([f for f in rows if f["unique_id"] not in tonight], ids, rebuilt, True)
    both = tonight_keys if tonight_keys is not None else {
        key: blocking.keys(scheme, features) for key, features in tonight.items()}
    wanted = sorted({k for _, query in both.values() for k in query})
    rows, candidate_ids = store.candidate_features(conn, wanted)
    own = store.registry_ids_of(conn, tonight)
    ids = store.records_of(conn, {*candidate_ids.values(), *own.values(), *forced_ids})
    ids.update(candidate_ids)
    ids.update(own)
    return Stored([f for f in rows if f["unique_id"] not in tonight], ids, rebuilt,
                  tonight_keys={key: stored for key, (stored, _) in both.items()})

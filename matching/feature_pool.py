"""The matcher's features of a night's person batches, computed ahead on the machine's other cores.

Standardising a person (validation, names, transliteration, sound keys) is pure Python on one core: about
6 s for a batch of 50,000 records, and its blocking keys (``matching.blocking``, BLAKE2b) about 5 s more,
while the main process waits. Both depend on the staged record and the model alone, never on the registry,
so the next batch's are computed in worker processes while the main process reconciles the current one
(candidates, scores, links — much of it waiting on PostgreSQL or DuckDB).

Small nights (fewer than ``min_records`` rows in a batch) and ``workers`` < 2 compute in this process:
starting the workers costs about a second. Workers are started with ``spawn`` (no inherited database
connection or DuckDB thread) and live for the night. Should they fail to start (a process that may not have
children), the batch is computed here and the night goes on. Results are the same either way, in the same
order (a test compares them).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any

from matching import blocking
from matching.features import person_features
from matching.standardize import shared_declarations
from matching.store import StagedRow
from schemas.person import staged_person

log = logging.getLogger("hub.matching.features")
Item = tuple[str, str, dict[str, Any]]  # (record key, source, canonical person)
Keys = tuple[list[int], list[int]]  # (stored keys, query keys) of one record (``blocking.keys``)
Computed = tuple[list[dict[str, Any]], list[Keys] | None]
_SHARED: dict[str, Any] | None = None  # a worker's shared-identifier declarations, read once per process


def features_of(
    items: Sequence[Item], shared: dict[str, Any] | None = None, scheme: blocking.Scheme | None = None
) -> Computed:
    """The feature rows of ``items`` in order, with their blocking keys under ``scheme`` (in this process)."""
    global _SHARED
    if shared is None:
        if _SHARED is None:
            _SHARED = shared_declarations()
        shared = _SHARED
    rows = [person_features(key, source, staged_person(canonical), shared)
            for key, source, canonical in items]
    return rows, None if scheme is None else [blocking.keys(scheme, f) for f in rows]


class Pending:
    """A batch whose features are being computed (or will be, in this process, when asked)."""

    def __init__(self, rows: list[StagedRow], futures: list[Future[Computed]] | None,
                 scheme: blocking.Scheme | None = None) -> None:
        self.rows = rows
        self.scheme = scheme
        self._futures = futures
        self.keys: dict[str, Keys] | None = None  # after ``result()``: record key → keys, with a scheme

    def result(self) -> dict[str, dict[str, Any]]:
        """Record key → features of the batch's live rows, in the rows' order."""
        live = [r for r in self.rows if not r.deleted]
        done: list[Computed] | None = None
        if self._futures is not None:
            try:
                done = [future.result() for future in self._futures]
            except BrokenExecutor as exc:  # a worker died (killed, out of memory): compute here
                log.warning("feature workers failed (%s): batch computed in this process", type(exc).__name__)
        if done is None:
            done = [features_of([(r.key, r.source, r.canonical) for r in live], shared_declarations(),
                                self.scheme)]
        rows = [f for part, _ in done for f in part]
        if self.scheme is not None:
            keys = [k for _, part in done for k in part or []]
            self.keys = {r.key: k for r, k in zip(live, keys, strict=True)}
        return {r.key: f for r, f in zip(live, rows, strict=True)}


class FeaturePool:
    """Worker processes for the night's feature batches (a context manager)."""

    def __init__(self, workers: int, min_records: int, chunks_per_worker: int = 4) -> None:
        self.workers = workers
        self.min_records = min_records
        self.chunks = max(1, workers * chunks_per_worker)
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def __enter__(self) -> FeaturePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, rows: list[StagedRow], scheme: blocking.Scheme | None = None) -> Pending:
        """Start computing the features of ``rows``' live records (and their keys under ``scheme``);
        ``result()`` waits for them."""
        live = [(r.key, r.source, r.canonical) for r in rows if not r.deleted]
        pool = self._executor() if len(live) >= self.min_records else None
        if pool is None:
            return Pending(rows, None, scheme)
        size = -(-len(live) // self.chunks)
        try:
            return Pending(rows, [pool.submit(features_of, live[i : i + size], None, scheme)
                                  for i in range(0, len(live), size)], scheme)
        except (OSError, RuntimeError, AssertionError) as exc:  # a broken pool, a daemonic process
            self._give_up(exc)
            return Pending(rows, None, scheme)

    def _executor(self) -> ProcessPoolExecutor | None:
        if self.workers < 2 or self._broken:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _give_up(self, exc: BaseException) -> None:
        log.warning("feature workers unavailable (%s): features computed in this process", type(exc).__name__)
        self._broken = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

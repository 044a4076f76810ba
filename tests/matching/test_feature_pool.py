"""Feature workers give the features the reconcile would compute itself, in the same order."""

from __future__ import annotations

import logging
import random
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pytest

from bench.standardize import noisy_people
from matching import blocking
from matching.candidates import key_function
from matching.feature_pool import Computed, FeaturePool, Pending
from matching.model import latest_model
from matching.store import StagedRow


def _rows(n: int) -> list[StagedRow]:
    people = noisy_people(n, random.Random(11))
    return [StagedRow(i, "ngo" if i % 2 else "health", "person", f"r{i}", p.model_dump(mode="json"),
                      deleted=i % 17 == 0, staged_at="") for i, p in enumerate(people)]


def test_workers_compute_the_same_features_and_keys_in_the_same_order() -> None:
    rows = _rows(400)
    scheme, _ = key_function(latest_model()[1])
    assert scheme is not None
    here = Pending(rows, None).result()
    with FeaturePool(workers=2, min_records=1) as pool:
        first, second = pool.submit(rows[:250], scheme), pool.submit(rows[250:], scheme)
        assert pool._pool is not None  # the workers ran, not this process
        there = {**first.result(), **second.result()}
    assert list(there) == list(here)
    assert there == here
    assert first.keys is not None
    assert second.keys is not None
    assert {**first.keys, **second.keys} == {k: blocking.keys(scheme, f) for k, f in here.items()}
    assert all(not r.deleted for r in rows if r.key in here)
    assert len(here) == sum(not r.deleted for r in rows)


@pytest.mark.parametrize(("workers", "min_records"), [(1, 1), (2, 10_000)])
def test_a_small_batch_or_one_worker_stays_in_this_process(workers: int, min_records: int) -> None:
    rows = _rows(50)
    with FeaturePool(workers=workers, min_records=min_records) as pool:
        pending = pool.submit(rows)
        assert pool._pool is None
        assert pending.result() == Pending(rows, None).result()


def test_a_dead_worker_leaves_the_batch_to_this_process(caplog: pytest.LogCaptureFixture) -> None:
    """A worker killed mid-batch (out of memory): the night computes the batch itself and names no value."""
    rows = _rows(30)
    dead: Future[Computed] = Future()
    dead.set_exception(BrokenProcessPool("a child process terminated abruptly"))
    with caplog.at_level(logging.WARNING, logger="hub.matching.features"):
        assert Pending(rows, [dead]).result() == Pending(rows, None).result()
    assert [r.getMessage() for r in caplog.records] == [
        "feature workers failed (BrokenProcessPool): batch computed in this process"]

"""Every connector against the sandbox servers on 127.0.0.1 with faults switched on.

At a 25% fault rate the agencies answer with 5xx bursts, slow and truncated bodies, malformed records and
(SMEV) redelivered MessageIDs. A pull either completes through its retries or stops with a transport error,
and pulling again completes it; in the end every record the agency sent is staged exactly once, or — for the
records the server deliberately broke — sits in quarantine with a reason. Nothing is lost, nothing doubled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.config import load_sources
from connectors.errors import ConnectorError
from connectors.pipeline import Puller
from matching.evaluate import load_truth
from registry.db import connect
from sandbox.connections import hub_connections
from sandbox.generate import generate
from sandbox.server.app import serve


def _test_options(options: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Small pages (more requests, so every kind of fault is met even with a small sandbox) and a short
    first backoff (the retries are what is tested, not their patience; ``Retry-After`` is still honoured)."""
    small = {"page_size": 25} if "page_size" in fields else {}
    quick = {"backoff_initial": 0.05} if "backoff_initial" in fields else {}
    return {**options, **small, **quick}


SOURCES = {
    code: s.model_copy(update={"options": _test_options(s.options, type(s.typed_options).model_fields)})
    for code, s in load_sources().items()
}


@pytest.fixture(scope="module")
def faulty_agencies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    sandbox = tmp_path_factory.mktemp("faults") / "sbx"
    generate(sandbox, 100, seed=17, workers=1)
    handle = serve(sandbox, faults=0.25, seed=5, slow_max=0.05, rate_limit=10_000.0)
    saved = dict(os.environ)
    os.environ.update(hub_connections(sandbox, handle.ports))
    yield sandbox, handle
    handle.stop()
    os.environ.clear()
    os.environ.update(saved)


def _pull_until_done(code: str, url: str, attempts: int = 6) -> list[str]:
    """Pull like the DAG's retries do; return the errors met on the way."""
    errors = []
    for _ in range(attempts):
        try:
            Puller(SOURCES[code], url).run()
            return errors
        except ConnectorError as exc:
            errors.append(type(exc).__name__)
    raise AssertionError(f"{code}: still failing after {attempts} pulls: {errors}")


def _staged(url: str, code: str) -> dict[str, int]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT source_record_id, count(*) FROM staged_record WHERE source_code = %s
                       AND record_kind = 'person' AND superseded_by IS NULL GROUP BY 1""",
            (code,),
        )
        return {str(s): int(n) for s, n in cur.fetchall()}


def _quarantined_pointers(url: str, code: str) -> list[dict[str, Any]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT reason_code, reason, position FROM quarantine WHERE source_code = %s", (code,))
        return [{"reason_code": r, "reason": t, "position": p} for r, t, p in cur.fetchall()]


@pytest.mark.parametrize("code", sorted(SOURCES))
def test_faulty_agency_everything_arrives_once(
    faulty_agencies: tuple[Path, Any], database_url: str, code: str
) -> None:
    sandbox, _ = faulty_agencies
    _pull_until_done(code, database_url)
    _pull_until_done(code, database_url)  # and once more: a rerun must add nothing new
    truth = {
        sid
        for (source, sid), row in load_truth(sandbox).items()
        if source == code and row["kind"] == "person"
    }
    staged = _staged(database_url, code)
    assert all(n == 1 for n in staged.values()), "a source record has two current versions"
    missing = truth - set(staged)
    quarantined = _quarantined_pointers(database_url, code)
    # A record the server deliberately broke is quarantined (with a reason); nothing else may be missing.
    assert len(missing) <= len(quarantined), (code, sorted(missing)[:5], quarantined[:3])
    assert all(q["reason"] for q in quarantined)
    assert not set(staged) - truth, "staged a record the agency never sent"


def test_faults_really_happened(faulty_agencies: tuple[Path, Any]) -> None:
    _, handle = faulty_agencies
    stats = handle.stats()
    injected = {kind: n for agency in stats.values() for kind, n in agency["faults"].items() if n}
    assert {"burst", "truncated", "malformed"} <= set(injected), json.dumps(stats)

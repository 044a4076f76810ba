"""``hub bench match``: accuracy and speed of reconciliation against the sandbox truth, with a peer.

Generates a sandbox, serves it, pulls the four agencies into a fresh registry, reconciles, and scores person
pairs and family clusters against the truth; then, for ``--nights`` more nights, advances, pulls and
reconciles again (incrementally) and scores again. In the same run, a *plain* Splink dedupe of the same
person records — raw names, no standardisation, no identifier rules, default-style settings — is scored
the same way: ``{"hub": {...}, "splink_plain": {...}}``. Numbers, never assertions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.plain_splink import plain_splink
from connectors.config import load_sources
from connectors.pipeline import Puller
from matching.evaluate import evaluate, load_truth
from matching.model import BLOCKING_RULES
from matching.reconcile import reconcile
from registry import migrate
from registry.db import connect, drop_database, ensure_database, with_database


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"
    ensure_database(server_url, name)
    url = with_database(server_url, name)
    with connect(url) as conn:
        migrate.upgrade(conn)
    try:
        yield url
    finally:
        drop_database(server_url, name)


@contextlib.contextmanager
def agencies(sandbox: Path) -> Iterator[None]:
    from sandbox.connections import hub_connections
    from sandbox.server.app import serve

    handle = serve(sandbox, faults=0.0, rate_limit=10_000.0)
    saved = dict(os.environ)
    os.environ.update(hub_connections(sandbox, handle.ports))
    try:
        yield
    finally:
        handle.stop()
        os.environ.clear()
        os.environ.update(saved)


def _pull_all(url: str) -> dict[str, float]:
    seconds = {}
    for code, source in load_sources().items():
        started = time.monotonic()
        Puller(source, url).run()
        seconds[code] = round(time.monotonic() - started, 2)
    return seconds


def blocking_recall(url: str, sandbox: Path) -> dict[str, Any]:
    """Share of true person pairs that the OR-ed blocking rules put in front of the model."""
    import duckdb

    truth = load_truth(sandbox)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT source_code, source_record_id, features FROM match_person")
        rows = [
            {**f, "unique_id": f"{s}|{i}", "pid": truth[(s, i)]["pid"]}
            for s, i, f in cur.fetchall()
            if (s, i) in truth
        ]
    if not rows:
        return {"true_pairs": 0, "recall": None}
    con = duckdb.connect()
    import pyarrow as pa  # type: ignore[import-untyped]

    con.register("f", pa.Table.from_pylist(rows))
    base = "FROM f l JOIN f r ON l.pid = r.pid AND l.unique_id < r.unique_id"
    true_pairs = _count(con, f"SELECT count(*) {base}")
    per_rule = {rule: _count(con, f"SELECT count(*) {base} WHERE {rule}") for rule in BLOCKING_RULES}
    either = " OR ".join(f"coalesce({r}, false)" for r in BLOCKING_RULES)
    covered = _count(con, f"SELECT count(*) {base} WHERE {either}")
    return {
        "true_pairs": true_pairs,
        "covered": covered,
        "recall": round(covered / true_pairs, 5) if true_pairs else None,
        "per_rule": per_rule,
    }


def _count(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def run(families: int, nights: int, seed: int, server_url: str, keep: Path | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready result."""
    from sandbox.generate import advance, generate

    work = Path(tempfile.mkdtemp(prefix="hub-bench-match-"))
    sandbox = keep or work / "sandbox"
    timings: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        if not (sandbox / "sandbox.json").exists():
            generate(sandbox, families, seed)
        timings["generate"] = round(time.monotonic() - t0, 2)
        with fresh_database(server_url) as url, agencies(sandbox):
            nights_out = [_night(url, sandbox, 1)]
            for _ in range(nights):
                t = time.monotonic()
                advance(sandbox)
                adv = round(time.monotonic() - t, 2)
                nights_out.append({**_night(url, sandbox, len(nights_out) + 1), "advance_seconds": adv})
            recall = blocking_recall(url, sandbox)
            plain = plain_splink(url, sandbox)
        hub = {
            "nights": nights_out,
            "final": nights_out[-1]["accuracy"],
            "blocking": recall,
            "seconds": round(sum(n["pull_seconds_total"] + n["reconcile_seconds"] for n in nights_out), 2),
        }
        first = nights_out[0]
        return {
            "families": families,
            "nights": nights + 1,
            "seed": seed,
            "generate_seconds": timings["generate"],
            "hub": hub,
            "splink_plain": plain,
            "f1_hub_minus_plain": round(first["accuracy"]["persons"]["f1"] - plain["persons"]["f1"], 5),
            "time_ratio_hub_vs_plain": round(first["reconcile_seconds"] / max(plain["seconds"], 1e-9), 2),
        }
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _night(url: str, sandbox: Path, night: int) -> dict[str, Any]:
    pulls = _pull_all(url)
    t = time.monotonic()
    stats = reconcile(url)
    seconds = round(time.monotonic() - t, 2)
    return {
        "night": night,
        "pull_seconds": pulls,
        "pull_seconds_total": round(sum(pulls.values()), 2),
        "reconcile_seconds": seconds,
        "reconcile_stages": stats["stage_seconds"],
        "persons": stats["persons"],
        "drift": stats["drift"],
        "accuracy": evaluate(sandbox, url),
    }

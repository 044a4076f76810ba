"""``hub reconcile``: tonight's staged records into the registry (persons, families, care records).

Order: persons (rules → Splink scores → family support → clusters with persistent ids → links → golden
records), then families (households clustered through shared persons), then cases, services, statuses and
consents attached through the links. Everything in one transaction: a failed reconcile leaves the registry
as it was and the staged records pending for the next attempt.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from matching import drift, family_scope
from matching.candidates import key_function
from matching.care import reconcile_care
from matching.config import MatchingConfig, load_config
from matching.families import reconcile_families, refresh_family_golden
from matching.feature_pool import FeaturePool
from matching.golden import refresh_golden
from matching.household_index import HouseholdIndex
from matching.model import latest_model, model_profile
from matching.persons import PersonStats, reconcile_persons
from matching.store import current_memberships, mark_reconciled, pending_ids, pending_keys, staged_rows
from matching.training import fit_if_unfitted
from registry import households as household_rows
from registry.db import connect, database_url
from registry.runs import exclusive_run, finish_run, start_run

CARE_KINDS = ("case", "service", "disability", "consent")
log = logging.getLogger("hub.matching.reconcile")


def reconcile(
    url: str | None = None, airflow: dict[str, Any] | None = None, config: MatchingConfig | None = None
) -> dict[str, Any]:
    """Reconcile everything pending; return counts (no personal data). ``config``: else matching.yaml."""
    url = url or database_url()
    cfg = config or load_config()
    started = time.monotonic()
    with exclusive_run(url, "reconcile", None):  # one reconcile at a time; a killed one is 'abandoned'
        with connect(url) as conn:
            run_id = start_run(conn, "reconcile", None, airflow)
        try:
            fitted = fit_if_unfitted(url, cfg)  # inside the run: two first reconciles never both fit
            version, model = latest_model()
            with connect(url) as conn:
                stats = _run(conn, model, version, cfg, run_id)
                stats["model_fitted"] = fitted
                stats["drift"] = _drift(stats, version, cfg)
                stats["seconds"] = round(time.monotonic() - started, 2)
                finish_run(conn, run_id, "succeeded", stats)
        except BaseException as exc:
            with connect(url) as conn:
                finish_run(conn, run_id, "failed", {}, f"{type(exc).__name__}")
            raise
    return stats


def _run(conn: Any, model: dict[str, Any], version: str, cfg: Any, run_id: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    # What this run answers for is read up front: rows a pull commits meanwhile stay pending for the next
    # run, and only what was processed is marked reconciled (a care record waiting for its person is not).
    people = pending_ids(conn, ["person"])
    care_rows = pending_keys(conn, CARE_KINDS)  # their JSON is read when the care step comes to them
    others = pending_ids(conn, ["family", "membership"])
    # A big night reads every membership once (the person step and the family step share them); an
    # incremental one looks up the few it needs.
    big = _big_night(conn, cfg, len(people) + len(others))
    memberships = current_memberships(conn) if big else None
    households = HouseholdIndex(memberships) if memberships is not None else HouseholdIndex([], conn)
    persons, tonight = PersonStats(), set()
    golden_due: set[str] = set()
    starts = range(0, len(people), cfg.person_batch)
    scheme, _ = key_function(model)
    with FeaturePool(cfg.feature_workers, cfg.feature_pool_min_records) as pool:
        # The next batch's features and keys are computed by the workers while this one is reconciled.
        ahead = pool.submit(staged_rows(conn, people[: cfg.person_batch]), scheme) if people else None
        for start in starts:
            assert ahead is not None
            batch, now = ahead.rows, ahead
            following = people[start + cfg.person_batch : start + 2 * cfg.person_batch]
            ahead = pool.submit(staged_rows(conn, following), scheme) if following else None
            tonight |= {r.key for r in batch}
            done = reconcile_persons(conn, batch, households, model, version, cfg, run_id, golden_due,
                                     features_pending=now)
            _add(persons, done)
            _log_batch(start + len(batch), len(people), done)
    _refresh_golden(conn, sorted(golden_due), persons, cfg.person_batch, run_id)
    timings["persons"] = round(time.monotonic() - t0, 2)
    t1 = time.monotonic()
    inputs = _family_inputs(conn, run_id, memberships, tonight, others)
    families, touched = reconcile_families(conn, run_id, inputs)
    timings["families"] = round(time.monotonic() - t1, 2)
    t2 = time.monotonic()
    care, attached, case_families = reconcile_care(conn, care_rows)
    families.golden_updated = refresh_family_golden(conn, touched | case_families if inputs.scoped else None)
    timings["care"] = round(time.monotonic() - t2, 2)
    mark_reconciled(conn, [*people, *others, *attached], run_id)
    return {
        "run_id": run_id,
        "model_version": version,
        "persons": asdict(persons),
        "families": {**asdict(families), "scoped": inputs.scoped},
        "care": asdict(care),
        "stage_seconds": timings,
    }


def _refresh_golden(conn: Any, ids: list[str], stats: PersonStats, chunk: int, run_id: int) -> None:
    """Golden persons of every registry id the night's batches touched, ``chunk`` ids at a time."""
    t = time.monotonic()
    for start in range(0, len(ids), chunk):
        updated, conflicts = refresh_golden(conn, ids[start : start + chunk], run_id)
        stats.golden_updated += updated
        stats.conflicts += conflicts
    stats.extra["seconds_golden"] = round(time.monotonic() - t, 2)
    log.info("golden persons: %d refreshed in %.1f s", stats.golden_updated, time.monotonic() - t)


def _log_batch(done: int, total: int, stats: PersonStats) -> None:
    """Progress of a long person step: how far, and where a batch's seconds went (counts only)."""
    laps = {k[8:]: v for k, v in stats.extra.items() if k.startswith("seconds_")}
    log.info("persons %d/%d: %d candidates, seconds %s", done, total, stats.extra.get("candidates", 0),
             " ".join(f"{k}={v}" for k, v in laps.items()))


def _drift(stats: dict[str, Any], version: str, cfg: MatchingConfig) -> list[dict[str, Any]]:
    """Columns of tonight's person records far from the model's training records (logged as a warning)."""
    found = drift.drift(model_profile(version), drift.take_counts(stats["persons"]["extra"]), cfg)
    if found:
        log.warning("%s", drift.describe(found))
    return found


def _add(total: PersonStats, batch: PersonStats) -> None:
    """Sum a batch's counts into the night's (``extra`` numbers too)."""
    for name, value in vars(batch).items():
        if name == "extra":
            for key, number in value.items():
                total.extra[key] = total.extra.get(key, 0) + number
        else:
            setattr(total, name, getattr(total, name) + value)


def _big_night(conn: Any, cfg: MatchingConfig, pending_records: int) -> bool:
    """More pending person, household and membership records than ``family_scope_share`` of the stored
    person records (a first night, a big load): then reading everything once costs less than walking."""
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM match_person")
        stored = int(cur.fetchone()[0])
    return stored == 0 or pending_records > cfg.family_scope_share * stored


def _family_inputs(
    conn: Any, run_id: int, memberships: list[Any] | None, tonight: set[str], others: list[int]
) -> family_scope.FamilyInputs:
    """Every household (a big night: ``memberships`` read), or those tonight's changes can reach."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT entity_id, other_id FROM entity_event WHERE run_id = %s AND entity_kind = 'person'""",
            (run_id,),
        )
        moved = {i for row in cur.fetchall() for i in row if i}
    moved |= household_rows.take_dirty(conn)  # persons a steward moved since the last night
    if memberships is not None:
        return family_scope.everything(conn, memberships)
    return family_scope.reachable(conn, household_rows.pending_households(conn, others), tonight, moved)

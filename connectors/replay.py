"""``hub runs replay RUN_ID``: re-process a past pull from its stored raw payloads, never calling the agency.

Which payloads: those the run stored first (``raw_payload.first_run_id``) and those its staged records or
quarantine rows point at, in payload order (``payload_id``: the order the live pull committed them). Each
goes through the same code as a live pull (``Puller.stage_payload`` with ``replay=True``: the mapper, the
XSD check, staging, quarantine, deletions), one transaction per payload, recorded as a run of kind
``replay`` whose stats name the run replayed (``replay_of``). Nothing else a live pull does happens: no
request to the agency, no watermark moved, no acknowledgement, the payload's processed mark left as it was.

**Mappings.** The replay maps with the mapping file *as it is now*: if the mapping changed between the pull
and the replay, the records are staged with the current mapping version (in their provenance) — that is
the point of replaying after a mapping fix. Content that maps the same is a no-op, as in any pull; content
that maps differently supersedes the current version, and the next reconcile takes it from there.

**Order.** A replay never replaces what a later payload brought: a record (or a deletion) whose current
version came from a payload newer than the one replayed is left alone and counted in ``kept_newer``. To
re-map a whole history, replay the pull runs oldest first. One limitation: a record a *later* payload
deleted, whose last version came from the replayed payload, is staged again until that later run is
replayed too (staging keeps no payload for a deletion).

Do not replay a source while its live pull runs (both write the source's current versions).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2.extensions

from connectors.base import Payload
from connectors.config import SourceConfig, load_sources
from connectors.pipeline import Puller, PullStats
from registry import staging
from registry.db import connect, database_url
from registry.errors import RegistryError, safe_error
from registry.runs import exclusive_run, finish_run, start_run

Conn = psycopg2.extensions.connection


class ReplayError(RegistryError):
    """A run cannot be replayed (unknown, not a pull, no stored payloads, source not configured)."""


@dataclass(frozen=True)
class StoredPayload:
    """A raw payload as the registry keeps it (bytes read on demand)."""

    payload_id: int
    sha256: str
    size: int
    position: dict[str, Any]
    content_type: str
    chunked: bool


def payloads_of_run(conn: Conn, run_id: int) -> list[StoredPayload]:
    """The payloads a pull run stored first or staged from, in the order the run committed them."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT payload_id, sha256, size_bytes, position, content_type, chunk_count > 0
               FROM raw_payload WHERE payload_id IN (
                   SELECT payload_id FROM raw_payload WHERE first_run_id = %(run)s
                   UNION SELECT payload_id FROM staged_record WHERE run_id = %(run)s
                   UNION SELECT payload_id FROM quarantine WHERE run_id = %(run)s)
               ORDER BY payload_id""",
            {"run": run_id},
        )
        return [StoredPayload(int(r[0]), str(r[1]), int(r[2]), r[3], str(r[4]), bool(r[5]))
                for r in cur.fetchall()]


@contextlib.contextmanager
def materialise(conn: Conn, stored: StoredPayload) -> Iterator[Payload]:
    """The stored bytes as a connector's :class:`Payload`.

    Inline payloads in memory, chunked ones in a temporary file (a big payload is never held whole).
    Raises ``ReplayError`` if the bytes do not match their sha256.
    """
    digest = hashlib.sha256()
    meta = {"sha256": stored.sha256, "size": stored.size}
    if not stored.chunked:
        data = b"".join(staging.payload_bytes(conn, stored.payload_id))
        digest.update(data)
        _check(stored, digest.hexdigest())
        yield Payload(stored.position, stored.content_type, data=data, meta=meta)
        return
    with tempfile.TemporaryDirectory(prefix="hub-replay-") as folder:
        path = Path(folder) / f"payload-{stored.payload_id}"
        with path.open("wb") as out:
            for block in staging.payload_bytes(conn, stored.payload_id):
                digest.update(block)
                out.write(block)
        _check(stored, digest.hexdigest())
        yield Payload(stored.position, stored.content_type, path=path, meta=meta)


def _check(stored: StoredPayload, actual: str) -> None:
    if actual != stored.sha256:
        raise ReplayError(f"payload {stored.payload_id}: stored bytes do not match their sha256")


class _NoAgency:
    """The connector of a replay: the agency is never called."""

    retries = 0

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        raise ReplayError("a replay reads stored payloads only; it never calls the agency")


class ReplayPuller(Puller):
    """A :class:`Puller` that spares current versions brought by payloads newer than the one replayed."""

    def __init__(self, source: SourceConfig, url: str) -> None:
        super().__init__(source, url, connector=_NoAgency())
        self.kept_newer = 0

    def _flush(self, conn: Any, batch: list[staging.Staged], stats: PullStats) -> None:
        if batch:
            newer = _newer_versions(conn, self.source.code, [(s.kind, s.source_record_id) for s in batch],
                                    batch[0].payload_id)
            self.kept_newer += sum((s.kind, s.source_record_id) in newer for s in batch)
            batch = [s for s in batch if (s.kind, s.source_record_id) not in newer]
        super()._flush(conn, batch, stats)

    def _delete(self, conn: Any, deletions: list[tuple[str, str]], payload_id: int) -> int:
        newer = _newer_versions(conn, self.source.code, deletions, payload_id) if deletions else set()
        self.kept_newer += len(set(deletions) & newer)
        return super()._delete(conn, [d for d in deletions if d not in newer], payload_id)


def _newer_versions(
    conn: Conn, source: str, keys: list[tuple[str, str]], payload_id: int
) -> set[tuple[str, str]]:
    """Which of ``keys`` have a current version staged from a payload after ``payload_id``."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT k.kind, k.sid FROM unnest(%s::text[], %s::text[]) AS k (kind, sid)
               CROSS JOIN LATERAL (
                   SELECT payload_id FROM staged_record s
                   WHERE s.source_code = %s AND s.record_kind = k.kind AND s.source_record_id = k.sid
                     AND s.superseded_by IS NULL LIMIT 1) s
               WHERE s.payload_id > %s""",  # one index probe per key, as registry.staging does
            ([k for k, _ in keys], [s for _, s in keys], source, payload_id),
        )
        return {(str(r[0]), str(r[1])) for r in cur.fetchall()}


def _pull_run(conn: Conn, run_id: int) -> tuple[str, str]:
    """(source, status) of pull run ``run_id``; ``ReplayError`` unless it is a pull."""
    with conn.cursor() as cur:
        cur.execute("SELECT kind, source_code, status FROM run WHERE run_id = %s", (run_id,))
        row = cur.fetchone()
    if row is None:
        raise ReplayError(f"no run {run_id}")
    if row[0] != "pull":
        raise ReplayError(f"run {run_id} is a {row[0]} run; only pull runs can be replayed")
    return str(row[1]), str(row[2])


def replay(run_id: int, url: str | None = None, source: SourceConfig | None = None) -> dict[str, Any]:
    """Replay pull run ``run_id`` from its stored payloads; return the replay run's counts.

    ``source`` overrides the configured source (a fixed mapping under test); by default the source's
    configuration — and so its mapping — as it is now.
    """
    url = url or database_url()
    with connect(url) as conn:
        code, original_status = _pull_run(conn, run_id)
        stored = payloads_of_run(conn, run_id)
    source = source or _configured(code)
    with exclusive_run(url, "pull", code):  # never beside a live pull of the same source
        return _replay(url, run_id, code, original_status, stored, source)


def _replay(url: str, run_id: int, code: str, original_status: str, stored: list[StoredPayload],
            source: SourceConfig) -> dict[str, Any]:
    puller = ReplayPuller(source, url)
    started = time.monotonic()
    stats = PullStats(code)
    with connect(url) as conn:
        stats.run_id = start_run(conn, "replay", code)
    extra = {"replay_of": run_id, "replayed_status": original_status, "mapping": puller.mapping.name,
             "mapping_version": puller.mapping.version}
    try:
        for item in stored:
            _replay_payload(url, puller, item, stats)
    except ReplayError as exc:
        _finish(url, stats, started, {**extra, "kept_newer": puller.kept_newer}, str(exc))
        raise
    except Exception as exc:
        # as in a live pull: an exception's text (PostgreSQL's DETAIL above all) may quote data
        message = safe_error(exc)
        _finish(url, stats, started, {**extra, "kept_newer": puller.kept_newer}, message)
        raise ReplayError(f"replay of run {run_id} failed: {message}") from None
    except BaseException as exc:
        _finish(url, stats, started, {**extra, "kept_newer": puller.kept_newer},
                f"interrupted: {type(exc).__name__}")
        raise
    return _finish(url, stats, started, {**extra, "kept_newer": puller.kept_newer}, None)


def _configured(code: str) -> SourceConfig:
    sources = load_sources()
    if code not in sources:
        raise ReplayError(f"source {code!r} of the run is no longer configured")
    return sources[code]


def _replay_payload(url: str, puller: ReplayPuller, item: StoredPayload, stats: PullStats) -> None:
    """One payload, one transaction (as in a live pull): all of its records or none."""
    with connect(url) as conn, materialise(conn, item) as payload:
        puller.stage_payload(conn, payload, stats, replay=True)
    stats.payloads += 1


def _finish(url: str, stats: PullStats, started: float, extra: dict[str, Any], error: str | None
            ) -> dict[str, Any]:
    stats.seconds = round(time.monotonic() - started, 3)
    result = {**stats.as_dict(), **extra}
    with connect(url) as conn:
        finish_run(conn, stats.run_id, "failed" if error else "succeeded", result, error)
    return result

"""``hub pull``: a source's new payloads → the mapper → staging, one transaction per payload.

For each payload: its raw bytes are stored (once per sha256), its records mapped, good ones staged, bad
ones quarantined with their reason and bytes, deletions applied, the payload marked processed and the
watermark moved — all in one transaction; then the agency is acknowledged (SMEV ack, file move). A crash at
any point leaves either the whole payload or none of it, and a rerun skips what was processed.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from connectors.base import Connector, Payload
from connectors.config import SourceConfig, load_sources
from connectors.connections import get_connection
from connectors.encoding_gate import EncodingGate
from connectors.errors import (
    ConnectionConfigError,
    ConnectorError,
    HostileBodyError,
    QualityGateError,
    UnknownSourceError,
)
from connectors.http import client_for
from connectors.inflate import GZIP_MAGIC, InflatingReader
from mapper import Mapping, load_mapping
from mapper.readers import PayloadFailure, PayloadNote, SourceRecord, read_json, read_xml
from mapper.sample import schema_lookup
from mapper.tabular import read_csv, read_jsonl
from registry import staging
from registry.db import connect, database_url
from registry.errors import safe_error
from registry.runs import ensure_source_system, exclusive_run, finish_run, start_run
from schemas.base import has_unstorable

log = logging.getLogger("hub.pull")
PROGRESS_EVERY = 10.0  # seconds between progress lines of a long pull
STAGE_BATCH = 1000
QUARANTINE_RAW_LIMIT = 16 << 20
JSON_LIMIT = 256 << 20
"""A JSON page is parsed whole (about ten times its size in memory): bigger ones are refused, not read."""
INFLATE_LIMIT = 16 << 30
"""A compressed XML file is streamed: this caps what it may inflate to (the ratio cap bites far earlier)."""


class PullFailedError(ConnectorError):
    """A pull failed unexpectedly; the message (also the run row's error) names the class, the place in the
    code and, for a database error, its SQLSTATE — never the exception's text, which may quote data."""


@dataclass
class PullStats:
    """Counts of one pull (what ``hub pull --json`` prints and the run row keeps; no personal data)."""

    source: str
    run_id: int = 0
    payloads: int = 0
    payloads_skipped: int = 0
    records: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    payloads_quarantined: int = 0
    payloads_unmatched: int = 0  # no record the mapping reads: an empty export, an unknown format
    ignored: int = 0
    refused: int = 0
    retries: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # about payloads (no values): e.g. an empty export

    @property
    def quarantine_rate(self) -> float:
        """Quarantine rows (records and refused payloads) per record read: the quality gate's measure."""
        return self.quarantined / max(1, self.records)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quarantine_rate": round(self.quarantine_rate, 4)}


def _where(payload: Payload) -> str:
    """A payload named by its position (file, page, URL path), never by content."""
    pos = payload.position
    return str(pos.get("file") or pos.get("url") or pos.get("page") or json.dumps(pos, sort_keys=True)[:120])


def _uri_folder(host: str | None, schema: str | None) -> str | None:
    """The folder of an ``fs://`` connection URI: always absolute (``fs:///srv/drop`` parses to host ``''``
    and schema ``srv/drop``, the leading slash lost as a URI path's would be)."""
    parts = [p.strip("/") for p in (host, schema) if p and p.strip("/")]
    return "/" + "/".join(parts) if parts else None


def build_connector(source: SourceConfig) -> Connector:
    """The connector a source's config names, with its connection's host and credentials."""
    from connectors.fhir import FhirConnector
    from connectors.file_drop import FileDropConnector
    from connectors.rest_cursor import RestCursorConnector
    from connectors.smev import SmevConnector

    conn, opts = get_connection(source.connection_id), source.typed_options
    if source.connector == "file_drop":
        folder = conn.extra.get("path") or _uri_folder(conn.host, conn.schema)
        if not folder:
            raise ConnectionConfigError(f"connection {conn.conn_id!r} names no drop folder (extra.path)")
        return FileDropConnector(Path(folder), opts.patterns, opts.after)
    client = client_for(conn, max_attempts=opts.max_attempts, backoff_initial=opts.backoff_initial)
    if source.connector == "fhir":
        return FhirConnector(client, opts.resources, opts.page_size, "/" + (conn.schema or "fhir"))
    if source.connector == "rest_cursor":
        return RestCursorConnector(client, list(opts.endpoints), opts.page_size, opts.cursor_param,
                                   opts.watermark_field, opts.pagination, opts.limit_param,
                                   opts.records_field)
    namespace = next(iter(source.xsd), None)
    return SmevConnector(client, opts.path, conn.extra.get("node_id"), namespace, opts.max_messages)


class Puller:
    """Pulls one source into staging."""

    def __init__(
        self,
        source: SourceConfig,
        url: str | None = None,
        connector: Connector | None = None,
        airflow: dict[str, Any] | None = None,
        progress: Callable[[PullStats], None] | None = None,
    ) -> None:
        self.source, self.url = source, url or database_url()
        self.progress = progress  # called after every payload (the CLI draws it); the log says it every 10 s
        self.mapping: Mapping = load_mapping(source.mapping_path)
        self.schema_for = schema_lookup(source.xsd_paths()) if source.xsd else None
        self.strict = source.validation == "strict"
        self.connector = connector or build_connector(source)
        self.airflow = airflow or {}

    def run(self) -> PullStats:
        """Pull everything new; raise QualityGateError (after committing) when too much was quarantined.

        One pull per source at a time (``exclusive_run``): a second one is refused with ``RunBusyError``;
        runs left 'running' by a killed pull are marked 'abandoned' by the next one.
        """
        with connect(self.url) as conn:
            ensure_source_system(
                conn, self.source.code, self.source.agency, self.source.name, self.source.connector
            )
        with exclusive_run(self.url, "pull", self.source.code):
            return self._run()

    def _run(self) -> PullStats:
        started = time.monotonic()
        stats = PullStats(self.source.code)
        with connect(self.url) as conn:
            stats.run_id = start_run(conn, "pull", self.source.code, self.airflow)
            cursors = self._cursors(conn)
        said = started
        try:
            for payload in self.connector.payloads(cursors):
                self._payload(payload, stats)
                if self.progress is not None:
                    self.progress(stats)
                if time.monotonic() - said >= PROGRESS_EVERY:  # long pulls say how far they are (counts only)
                    said = time.monotonic()
                    log.info("%s: %d payloads, %d records, %d quarantined, %d retries so far (%.0f s)",
                             self.source.code, stats.payloads, stats.records, stats.quarantined,
                             self.connector.retries, said - started)
        except ConnectorError as exc:  # our own messages are written PII-free
            self._finish(stats, started, "failed", f"{type(exc).__name__}: {exc}")
            raise
        except Exception as exc:
            # PostgreSQL's DETAIL/CONTEXT and many exceptions' text quote the data: neither the run row, nor
            # the log, nor the exception that reaches Airflow (which logs it and records it) may carry them.
            message = safe_error(exc)
            log.error("%s: pull failed: %s", self.source.code, message)
            self._finish(stats, started, "failed", message)
            raise PullFailedError(message) from None
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: no data in them, re-raised as they are
            self._finish(stats, started, "failed", f"interrupted: {type(exc).__name__}")
            raise
        self._finish(stats, started, "succeeded", None)
        if stats.records and stats.quarantine_rate > self.source.quarantine_threshold:
            message = (
                f"{self.source.code}: {stats.quarantined} of {stats.records} records quarantined "
                f"({stats.quarantine_rate:.1%} > {self.source.quarantine_threshold:.1%})"
            )
            with connect(self.url) as conn:
                finish_run(conn, stats.run_id, "failed", stats.as_dict(), message)
            raise QualityGateError(message)
        if self.strict and stats.payloads_unmatched:
            # A strict source promises its format: a file with nothing the mapping reads is a broken
            # delivery, not a quiet night (what it held is kept: the note, or the payload in quarantine).
            message = (f"{self.source.code}: {stats.payloads_unmatched} payload(s) held no record of mapping "
                       f"{self.mapping.name!r} (strict source; the run's warnings and quarantine say what "
                       "was found)")
            with connect(self.url) as conn:
                finish_run(conn, stats.run_id, "failed", stats.as_dict(), message)
            raise QualityGateError(message)
        return stats

    def _cursors(self, conn: Any) -> dict[str, str]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT cursor_name, value FROM source_cursor WHERE source_code = %s", (self.source.code,)
            )
            return {str(n): str(v) for n, v in cur.fetchall()}

    def _finish(self, stats: PullStats, started: float, status: str, error: str | None) -> None:
        stats.seconds = round(time.monotonic() - started, 3)
        stats.retries = self.connector.retries
        stats.refused = len(getattr(self.connector, "refused", []))
        with connect(self.url) as conn:
            finish_run(conn, stats.run_id, status, stats.as_dict(), error)

    def _payload(self, payload: Payload, stats: PullStats) -> None:
        try:
            self._commit_payload(payload, stats)
        except staging.PayloadChangedError:  # the agency rewrote the file in place: next night, whole
            log.warning("%s: %s changed while it was read; left for the next pull", self.source.code,
                        payload.position.get("file", "a payload"))
            getattr(self.connector, "refused", []).append((str(payload.position.get("file")), "changed"))
            return
        stats.payloads += 1
        if payload.after_commit is not None:
            payload.after_commit()

    def _commit_payload(self, payload: Payload, stats: PullStats) -> None:
        with connect(self.url) as conn:
            if payload.failure is not None:
                self._refuse_payload(conn, payload, stats)
            else:
                self.stage_payload(conn, payload, stats)
            if payload.cursor is not None:
                staging.set_cursor(conn, self.source.code, *payload.cursor, stats.run_id)
                stats.cursors[payload.cursor[0]] = payload.cursor[1]

    def stage_payload(self, conn: Any, payload: Payload, stats: PullStats, *, replay: bool = False) -> int:
        """Store ``payload`` (once per sha256) and stage its records in ``conn``'s transaction; its id.

        A live pull skips a payload that was already processed. A replay (``connectors.replay``) stages it
        again through the current mapping and leaves the payload's processed mark as it was; the caller
        moves no watermark and acknowledges nothing.
        """
        payload_id, done = self._store(conn, payload, stats.run_id)
        if done and not replay:
            stats.payloads_skipped += 1
        else:
            self._stage(conn, payload, payload_id, stats, mark=not replay)
        return payload_id

    def _refuse_payload(self, conn: Any, payload: Payload, stats: PullStats) -> None:
        """Keep the bytes of a payload that broke the protocol and quarantine it as a whole."""
        assert payload.failure is not None
        code, reason = payload.failure
        data = payload.data or b""
        payload_id, _ = staging.store_payload(
            conn, self.source.code, data, payload.position, payload.content_type, stats.run_id
        )
        self._quarantine(conn, payload_id, code, reason, data[:QUARANTINE_RAW_LIMIT], payload.position, None,
                         stats)
        stats.payloads_quarantined += 1

    def _store(self, conn: Any, payload: Payload, run_id: int) -> tuple[int, bool]:
        if payload.data is None:
            with _raw_stream(payload) as stream:
                return staging.store_payload_stream(
                    conn,
                    self.source.code,
                    stream,
                    payload.meta["sha256"],
                    payload.meta["size"],
                    payload.position,
                    payload.content_type,
                    run_id,
                )
        assert payload.data is not None
        return staging.store_payload(
            conn, self.source.code, payload.data, payload.position, payload.content_type, run_id
        )

    def _stage(
        self, conn: Any, payload: Payload, payload_id: int, stats: PullStats, mark: bool = True
    ) -> None:
        batch: list[staging.Staged] = []
        deletions: list[tuple[str, str]] = []
        seen, gate, before = 0, EncodingGate(), copy.deepcopy(stats)
        with conn.cursor() as cur:
            cur.execute("SAVEPOINT payload_records")
        for item in self._records(payload):
            if isinstance(item, PayloadFailure):
                stats.payloads_unmatched += item.reason_code == "mapping_error"
                self._quarantine_payload(conn, payload, payload_id, item, stats)
                continue
            if isinstance(item, PayloadNote):
                stats.payloads_unmatched += 1
                stats.warnings.append(f"{_where(payload)}: {item.message}")
                continue
            seen += 1
            batch += self._accept(conn, item, payload, payload_id, stats, deletions, gate)
            if len(batch) >= STAGE_BATCH:
                self._flush(conn, batch, stats)
                batch = []
        if (reason := gate.payload_reason()) is not None:  # undo the payload's records, refuse it whole
            with conn.cursor() as cur:
                cur.execute("ROLLBACK TO SAVEPOINT payload_records")
            vars(stats).update(vars(before))
            self._quarantine_payload(conn, payload, payload_id, PayloadFailure("encoding_mismatch", reason),
                                     stats)
            batch, deletions = [], []
        self._flush(conn, batch, stats)
        stats.deleted += self._delete(conn, deletions, payload_id)
        stats.records += seen
        if mark:
            staging.mark_processed(conn, payload_id, seen)

    def _delete(self, conn: Any, deletions: list[tuple[str, str]], payload_id: int) -> int:
        """Apply a payload's deletions (a replay overrides this to spare versions from later payloads)."""
        return staging.delete_records(conn, self.source.code, deletions)

    def _records(self, payload: Payload) -> Iterator[SourceRecord | PayloadFailure | PayloadNote]:
        try:
            stream = _content_stream(payload)
        except HostileBodyError as exc:
            return iter([PayloadFailure("hostile_input", str(exc))])
        if self.mapping.format == "json":
            try:
                with stream:
                    data = stream.read(JSON_LIMIT + 1)
            except HostileBodyError as exc:
                return iter([PayloadFailure("hostile_input", str(exc))])
            if len(data) > JSON_LIMIT:
                return iter([PayloadFailure(
                    "hostile_input", f"JSON payload over the {JSON_LIMIT >> 20} MiB limit (refused unread)")])
            return read_json(data, self.mapping)
        if self.mapping.format == "jsonl":
            return _closing(read_jsonl(stream, self.mapping), stream)
        if self.mapping.format == "csv":
            return _closing(read_csv(stream, self.mapping), stream)
        return _closing(read_xml(stream, self.mapping, self.schema_for, self.strict), stream)

    def _accept(
        self,
        conn: Any,
        item: SourceRecord,
        payload: Payload,
        payload_id: int,
        stats: PullStats,
        deletions: list[tuple[str, str]],
        gate: EncodingGate | None = None,
    ) -> list[staging.Staged]:
        position = {**payload.position, **item.position, "pointer": item.pointer}
        if gate is not None and (mismatch := gate.check(item)) is not None:
            self._quarantine(conn, payload_id, "encoding_mismatch", mismatch, item.raw, position,
                             item.pointer, stats)
            return []
        if item.xsd_errors and self.strict:
            reason = "; ".join(item.xsd_errors)
            self._quarantine(
                conn, payload_id, "xsd_violation", reason, item.raw, position, item.pointer, stats
            )
            return []
        result = item.result
        if result.error is not None:
            self._quarantine(
                conn,
                payload_id,
                result.error.reason_code,
                str(result.error),
                item.raw,
                position,
                item.pointer,
                stats,
            )
            return []
        unstorable = next((d for d in result.deletions if has_unstorable(d.source_record_id)), None)
        if unstorable is not None:  # records are checked by the canonical model; deletion ids are not
            reason = f"{unstorable.kind}.id: {staging.UNSTORABLE}"
            self._quarantine(
                conn, payload_id, "validation_error", reason, item.raw, position, item.pointer, stats
            )
            return []
        if not result.records and not result.deletions:
            stats.ignored += 1
        deletions += [(d.kind, d.source_record_id) for d in result.deletions]
        return [
            staging.Staged(r.kind, r.source_record_id, r.record, r.raw_pointer, payload_id,
                           item.warnings + r.warnings)
            for r in result.records
        ]

    def _flush(self, conn: Any, batch: list[staging.Staged], stats: PullStats) -> None:
        counts = staging.stage_records(conn, self.source.code, stats.run_id, batch)
        stats.new, stats.updated = stats.new + counts.new, stats.updated + counts.updated
        stats.unchanged += counts.unchanged
        for kind, n in counts.by_kind.items():
            stats.by_kind[kind] = stats.by_kind.get(kind, 0) + n

    def _quarantine(
        self,
        conn: Any,
        payload_id: int | None,
        code: str,
        reason: str,
        raw: bytes,
        position: dict[str, Any],
        pointer: str | None,
        stats: PullStats,
    ) -> None:
        staging.quarantine(
            conn, self.source.code, stats.run_id, payload_id, code, reason, raw, position, pointer
        )
        stats.quarantined += 1
        log.warning(
            "%s: quarantined %s at %s: %s", self.source.code, code, pointer or "(payload)", reason[:200]
        )

    def _quarantine_payload(
        self, conn: Any, payload: Payload, payload_id: int, failure: PayloadFailure, stats: PullStats
    ) -> None:
        raw = payload.data if payload.data is not None else _head(payload)
        position = {**payload.position, **failure.position}
        self._quarantine(
            conn,
            payload_id,
            failure.reason_code,
            failure.reason,
            raw[:QUARANTINE_RAW_LIMIT],
            position,
            None,
            stats,
        )
        stats.payloads_quarantined += 1


def _raw_stream(payload: Payload) -> IO[bytes]:
    """The payload's bytes as sent (compressed if it was), from the start."""
    if payload.open is not None:
        return payload.open()
    if payload.path is not None:
        return payload.path.open("rb")
    return io.BytesIO(payload.data or b"")


def _content_stream(payload: Payload) -> IO[bytes]:
    """The payload's content: inflated within the caps when it was sent compressed (``.gz``)."""
    stream = _raw_stream(payload)
    head = payload.data[:2] if payload.data is not None else getattr(stream, "peek", lambda n: b"")(2)[:2]
    if payload.meta.get("compression") == "gzip" or head == GZIP_MAGIC:
        limit = JSON_LIMIT if payload.content_type.endswith("json") else INFLATE_LIMIT
        return InflatingReader(stream, limit, "compressed file")  # type: ignore[return-value]
    return stream


def _head(payload: Payload, limit: int = QUARANTINE_RAW_LIMIT) -> bytes:
    with _raw_stream(payload) as fh:
        return fh.read(limit)


def _closing(
    items: Iterator[SourceRecord | PayloadFailure | PayloadNote], stream: Any
) -> Iterator[SourceRecord | PayloadFailure | PayloadNote]:
    try:
        yield from items
    except HostileBodyError as exc:  # a compressed file over its caps: the records before it are kept
        yield PayloadFailure("hostile_input", str(exc))
    finally:
        stream.close()


def pull(code: str, url: str | None = None, airflow: dict[str, Any] | None = None,
         progress: Callable[[PullStats], None] | None = None) -> PullStats:
    """Pull the configured source ``code``."""
    sources = load_sources()
    if code not in sources:
        raise UnknownSourceError(f"unknown source {code!r}; configured: {', '.join(sources)}")
    return Puller(sources[code], url, airflow=airflow, progress=progress).run()

"""What the agency servers read and write on disk.

* :class:`SandboxStore` — ``sandbox.json`` and the agencies' night files. Nights are read lazily (at the first
  request that needs them) and only up to ``night`` of ``sandbox.json``, which ``advance`` writes last: a
  night being written is never half-read. ``sandbox.json`` is re-checked at every request, so a server
  started before ``hub sandbox advance`` serves the new night as soon as it is complete.
* :class:`LatestTable` — the latest version of every record id over nights ``1..N``, sorted by
  (timestamp, id) for keyset paging; extended night by night rather than rebuilt.
* :class:`JsonlLog` / :class:`IdempotentPushes` — append-only JSON lines (acks, pushes) that survive a
  restart; a push is recorded once per ``Idempotency-Key``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.emit import REGION_TZ
from sandbox.generate import SandboxConfig
from sandbox.server import Reply, Request, json_reply

Record = dict[str, Any]
Position = tuple[dt.datetime, Any]
"""Where a record sorts: (its timestamp, its id)."""


def parse_instant(text: str) -> dt.datetime:
    """An ISO date or date-time as an aware datetime; raise ``ValueError`` if it is not one.

    A ``+`` in a query string arrives as a space when the client did not percent-encode it, so a space is
    read back as ``+``. Without an offset the time is regional (the agencies' systems run on Moscow time).
    """
    value = dt.datetime.fromisoformat(text.strip().replace(" ", "+"))
    return value if value.tzinfo is not None else value.replace(tzinfo=REGION_TZ)


def encode_position(position: Position) -> str:
    """An opaque page token for "after this record" (base64url, no padding)."""
    raw = json.dumps([position[0].isoformat(), position[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(token: str, id_type: type) -> Position:
    """The position in a token from :func:`encode_position`; ``ValueError`` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, record_id = json.loads(raw)
        position = (parse_instant(when), record_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("not a valid page token") from exc
    if type(record_id) is not id_type:
        raise ValueError("not a valid page token")
    return position


class SandboxStore:
    """The sandbox folder: its configuration (re-read when it changes) and its agencies' night files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._config = SandboxConfig.load(root)  # fail at start, not at the first request
        self._stamp = self._file_stamp()
        self._tables: dict[str, LatestTable] = {}

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = (self.root / "sandbox.json").stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def config(self) -> SandboxConfig:
        """The current ``sandbox.json``: re-read when its modification time or size changed."""
        stamp = self._file_stamp()
        with self._lock:
            if stamp is not None and stamp != self._stamp:
                # Caught mid-write: keep the previous night and look again at the next request.
                with contextlib.suppress(ValueError, TypeError):
                    self._config, self._stamp = SandboxConfig.load(self.root), stamp
            return self._config

    def night_dir(self, agency: str, night: int) -> Path:
        """``DIR/<agency>/night-NNNN``."""
        return self.root / agency / f"night-{night:04d}"

    def files(self, agency: str, night: int, pattern: str) -> list[Path]:
        """The night's files matching ``pattern``, in name order (chunk numbers are zero-padded)."""
        folder = self.night_dir(agency, night)
        return sorted(folder.glob(pattern)) if folder.is_dir() else []

    def table(self, name: str, make: Callable[[], LatestTable]) -> LatestTable:
        """The table ``name`` caught up to the current night (created by ``make`` on first use)."""
        night = self.config().night
        with self._lock:
            table = self._tables.get(name)
            if table is None:
                table = self._tables[name] = make()
            table.catch_up(self, night)
            return table


@dataclass(frozen=True)
class Sorted:
    """One group of a :class:`LatestTable` sorted by position (parallel lists, for ``bisect``)."""

    positions: list[Position]
    times: list[dt.datetime]
    records: list[Record]

    def window(self, lower: tuple[dt.datetime, bool] | None,
               upper: tuple[dt.datetime, bool] | None) -> tuple[int, int]:
        """Index range of records with a time above ``lower`` and below ``upper`` ((time, inclusive))."""
        lo, hi = 0, len(self.times)
        if lower is not None:
            lo = (bisect.bisect_left if lower[1] else bisect.bisect_right)(self.times, lower[0])
        if upper is not None:
            hi = (bisect.bisect_right if upper[1] else bisect.bisect_left)(self.times, upper[0])
        return lo, max(lo, hi)

    def after(self, position: Position) -> int:
        """Index of the first record sorting after ``position``."""
        return bisect.bisect_right(self.positions, position)


@dataclass
class LatestTable:
    """The latest version of each record over nights ``1..N`` of one kind of agency file.

    ``key`` identifies a record (a later line with the same key replaces it), ``group`` splits the table
    (FHIR resource types), ``position`` sorts it.
    """

    agency: str
    pattern: str
    key: Callable[[Record], Hashable]
    position: Callable[[Record], Position]
    group: Callable[[Record], str] = lambda _record: ""
    night: int = 0
    latest: dict[Hashable, Record] = field(default_factory=dict)
    groups: dict[str, Sorted] = field(default_factory=dict)

    def catch_up(self, store: SandboxStore, night: int) -> None:
        """Read nights after the last one read up to ``night``; start over if the sandbox went back."""
        if night == self.night:
            return
        if night < self.night:
            self.night, self.latest = 0, {}
        for number in range(self.night + 1, night + 1):
            for path in store.files(self.agency, number, self.pattern):
                self._read(path)
        self.night = night
        self.groups = self._sort()  # swapped in whole: a request already paging keeps its own view

    def _read(self, path: Path) -> None:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    self.latest[self.key(record)] = record

    def _sort(self) -> dict[str, Sorted]:
        grouped: dict[str, list[tuple[Position, Record]]] = {}
        for record in self.latest.values():
            grouped.setdefault(self.group(record), []).append((self.position(record), record))
        result = {}
        for name, rows in grouped.items():
            rows.sort(key=lambda row: row[0])
            result[name] = Sorted([p for p, _ in rows], [p[0] for p, _ in rows], [r for _, r in rows])
        return result

    def sorted(self, group: str = "") -> Sorted:
        """The records of ``group`` sorted by position (empty if there are none)."""
        return self.groups.get(group) or Sorted([], [], [])


class JsonlLog:
    """An append-only JSON-lines file, read whole at start (a torn last line is ignored)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.entries: list[Record] = list(self._load())

    def _load(self) -> list[Record]:
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text("utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short when a previous server was killed mid-write
        return entries

    def append(self, entry: Record) -> None:
        """Write ``entry`` as one line and flush it (call with :attr:`lock` held to keep order)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        self.entries.append(entry)


def utc_now() -> str:
    """The current time as an ISO instant (UTC, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class IdempotentPushes:
    """Pushes from the hub, recorded once per ``Idempotency-Key`` in ``DIR/pushes/<agency>.jsonl``.

    The first push of a key is recorded and answered 201; the same key again gets the recorded answer with
    200; the same key with a different body gets 422 (as the IETF Idempotency-Key draft recommends).
    """

    def __init__(self, path: Path) -> None:
        self.log = JsonlLog(path)
        self._seen = {e["idempotency_key"]: e for e in self.log.entries if "idempotency_key" in e}

    def submit(self, key: str, body: Any, count: int) -> tuple[int, Record]:
        """Record ``body`` under ``key`` unless already seen; return (status, answer)."""
        digest = _digest(body)
        with self.log.lock:
            seen = self._seen.get(key)
            if seen is not None:
                if seen["body_sha256"] != digest:
                    return 422, {"error": "idempotency_key_reused",
                                 "message": "this Idempotency-Key was used with a different body"}
                return 200, seen["answer"]
            answer = {"status": "accepted", "idempotency_key": key, "links": count, "received_at": utc_now()}
            entry = {"idempotency_key": key, "received_at": answer["received_at"], "body_sha256": digest,
                     "answer": answer, "body": body}
            self.log.append(entry)
            self._seen[key] = entry
            return 201, answer

    def reply(self, request: Request) -> Reply:
        """Answer a push: ``Idempotency-Key`` header and a JSON body required (400 otherwise)."""
        key = (request.header("idempotency-key") or "").strip()
        if not key:
            return json_reply(400, {"error": "idempotency_key_required",
                                    "message": "send an Idempotency-Key header with every push"})
        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return json_reply(400, {"error": "invalid_json", "message": "the body is not JSON"})
        status, answer = self.submit(key, body, _count_links(body))
        return json_reply(status, answer)


def _count_links(body: Any) -> int:
    """How many links a push carries: ``{"links": [...]}``, a bare list, or one object."""
    if isinstance(body, dict) and isinstance(body.get("links"), list):
        return len(body["links"])
    return len(body) if isinstance(body, list) else 1

"""The NGO's JSON REST API: participants and participations with cursor paging, an API key, a rate limit.

``GET /api/v1/participants`` and ``GET /api/v1/participations`` with ``X-API-Key: <ngo_api_key>``:

* ``updated_since`` — ISO date or date-time (regional time without an offset): only records whose latest
  version has ``updated_at`` strictly after it (deleted ones included: they carry ``deleted: true``);
* ``limit`` — page size, default 100, at most 1000 (larger values are cut);
* ``cursor`` — the opaque ``next_cursor`` of the previous page (enough on its own to continue).

Answers ``{"data": [...], "next_cursor": "…" | null}`` sorted by (``updated_at``, ``id``). Errors are
``{"error": code, "message": text}``: 400 bad parameter, 401 no or wrong key, 404 unknown path, 429 rate
limit (more than ``rate_limit`` requests in the last second from one client address, ``Retry-After: 1``;
the limit holds whatever the fault rate, ``0`` turns it off).

``POST /api/v1/registry-links`` (API key, ``Idempotency-Key``, JSON body) records the hub's registry ids in
``DIR/pushes/ngo.jsonl`` once per key (see :class:`sandbox.server.store.IdempotentPushes`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import random
import threading
import time
from collections import deque

from sandbox.server import Reply, Request, json_reply
from sandbox.server.faults import TRANSPORT, Fault, FaultInjector, FaultKind
from sandbox.server.store import (
    IdempotentPushes,
    LatestTable,
    Position,
    Record,
    SandboxStore,
    decode_position,
    encode_position,
    parse_instant,
)
from schemas.identifiers import format_snils, snils_check_digits

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
DEFAULT_RATE_LIMIT = 20.0
COLLECTIONS = {"/api/v1/participants": "participants", "/api/v1/participations": "participations"}
PUSH_PATH = "/api/v1/registry-links"


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """The NGO's error body."""
    return json_reply(status, {"error": code, "message": message}, headers=headers)


def _table(collection: str) -> LatestTable:
    return LatestTable("ngo", f"{collection}-*.jsonl", key=lambda r: r["id"],
                       position=lambda r: (parse_instant(r["updated_at"]), r["id"]))


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or int(value) == 0:
        raise ValueError("limit: expected a positive integer")
    return min(int(value), MAX_LIMIT)


def _since(value: str | None) -> tuple[dt.datetime, bool] | None:
    if not value:
        return None
    try:
        return parse_instant(value), False
    except ValueError:
        raise ValueError("updated_since: expected an ISO date or date-time") from None


def _cursor(value: str | None) -> Position | None:
    if not value:
        return None
    try:
        return decode_position(value, int)
    except ValueError:
        raise ValueError("cursor: not a cursor of this API") from None


def _bad_snils(rng: random.Random) -> str:
    """A well-shaped SNILS whose check digits are wrong."""
    body = str(rng.randint(100_000_000, 999_999_999))
    right = int(snils_check_digits(body))
    return format_snils(f"{body}{(right + rng.randint(1, 99)) % 100:02d}")


def _break_one(page: list[Record], collection: str, rng: random.Random) -> list[Record]:
    index = rng.randrange(len(page))
    record = dict(page[index])  # a copy: the stored version stays good for the next request
    if collection == "participations":
        record["started_on"] = "not a date"
    elif rng.random() < 0.5:
        record["birth_date"] = "not a date"
    else:
        record["snils"] = _bad_snils(rng)
    return [*page[:index], record, *page[index + 1:]]


class RateLimiter:
    """At most ``per_second`` admitted requests per client in any sliding second (refusals not counted)."""

    def __init__(self, per_second: float) -> None:
        self.limit = int(per_second)
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        """Admit one request of ``client`` now, or refuse it."""
        if self.limit <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True


class NgoAgency:
    """The NGO's REST server over the sandbox's ``ngo/night-NNNN`` files."""

    name = "ngo"

    def __init__(self, store: SandboxStore, injector: FaultInjector,
                 rate_limit: float = DEFAULT_RATE_LIMIT) -> None:
        self.store = store
        self.injector = injector
        self.limiter = RateLimiter(rate_limit)
        self.pushes = IdempotentPushes(store.root / "pushes" / "ngo.jsonl")

    def fault_kinds(self, request: Request) -> tuple[FaultKind, ...]:
        """Faults this request may meet: a list page can also carry a malformed record."""
        if request.method == "GET" and request.path in COLLECTIONS:
            return (*TRANSPORT, FaultKind.MALFORMED)
        return TRANSPORT

    def admit(self, request: Request) -> Reply | None:
        """The rate limit: a 429 with ``Retry-After: 1`` when the client is over it."""
        if self.limiter.allow(request.client):
            return None
        self.injector.count("rate_limited")
        return error(429, "rate_limited", f"more than {self.limiter.limit} requests per second",
                     {"Retry-After": "1"})

    def unavailable(self, fault: Fault) -> Reply:
        """The 503 of a fault burst (``Retry-After`` when the burst says so)."""
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        return error(503, "unavailable", "the service is temporarily unavailable", headers)

    def handle(self, request: Request, fault: Fault | None) -> Reply:
        """Answer one request (``fault`` is the drawn fault, if any, for the agency-level kinds)."""
        if not self._authorised(request):
            return error(401, "unauthorized", "a valid X-API-Key header is required")
        collection = COLLECTIONS.get(request.path.rstrip("/"))
        if collection is not None:
            if request.method != "GET":
                return error(405, "method_not_allowed", "use GET", {"Allow": "GET"})
            return self._list(request, collection, fault)
        if request.path.rstrip("/") == PUSH_PATH:
            if request.method != "POST":
                return error(405, "method_not_allowed", "use POST", {"Allow": "POST"})
            return self.pushes.reply(request)
        return error(404, "not_found", "unknown path")

    def _authorised(self, request: Request) -> bool:
        expected = self.store.config().credentials.get("ngo_api_key", "")
        given = (request.header("x-api-key") or "").strip()
        return bool(expected) and hmac.compare_digest(given, expected)

    def _list(self, request: Request, collection: str, fault: Fault | None) -> Reply:
        try:
            lower = _since(request.param("updated_since"))
            limit = _limit(request.param("limit"))
            after = _cursor(request.param("cursor"))
        except ValueError as exc:
            return error(400, "invalid_parameter", str(exc))
        rows = self.store.table(collection, lambda: _table(collection)).sorted()
        lo, hi = rows.window(lower, None)
        start = max(lo, rows.after(after)) if after else lo
        end = min(start + limit, hi)
        page = rows.records[start:end]
        if fault is not None and fault.kind is FaultKind.MALFORMED and page:
            page = _break_one(page, collection, fault.rng)
            self.injector.count(FaultKind.MALFORMED)
        next_cursor = encode_position(rows.positions[end - 1]) if end < hi else None
        return json_reply(200, {"data": page, "next_cursor": next_cursor})

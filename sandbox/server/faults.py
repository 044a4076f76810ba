"""Injected faults: what goes wrong at an agency, decided per request from a seeded random stream.

At each request (``/_sandbox/stats`` excepted) the injector of that agency's server draws, with probability
``rate``, one of the kinds the endpoint allows (:data:`TRANSPORT` for every endpoint, plus
:attr:`FaultKind.MALFORMED` on a health / NGO search page and :attr:`FaultKind.DUPLICATE_MESSAGE_ID` on an
education ``GetResponseRequest``):

* ``burst`` — this request and the next 1–3 to the same server get 503 (counted as ``unavailable``); for
  health and NGO half of the bursts send ``Retry-After: 1``;
* ``slow`` — the answer waits ``slow_max / 2 … slow_max`` seconds;
* ``truncated`` — the full ``Content-Length`` is announced, part of the body is sent, the connection closed;
* ``malformed`` — one record of an otherwise good page is broken (the agency decides how);
* ``duplicate_message_id`` — an already acknowledged SMEV message is delivered again with its old MessageID.

The stream is seeded per agency (``f"{seed}:{agency}"``), so a client that sends the same requests in the same
order meets the same faults. A push is never recorded twice because of a fault: a 503 comes before the push is
processed, a truncated answer after it was recorded, and a retry with the same ``Idempotency-Key`` is answered
from the record. ``rate=0`` injects nothing.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """The kinds of injected faults, as counted in ``/_sandbox/stats``."""

    BURST = "burst"
    UNAVAILABLE = "unavailable"
    SLOW = "slow"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    DUPLICATE_MESSAGE_ID = "duplicate_message_id"


TRANSPORT: tuple[FaultKind, ...] = (FaultKind.BURST, FaultKind.SLOW, FaultKind.TRUNCATED)
"""Faults any endpoint can meet (pushes included)."""

DEFAULT_SLOW_MAX = 0.5


@dataclass
class Fault:
    """One fault drawn for one request; ``rng`` is for the agency's own choices (which record to break)."""

    kind: FaultKind
    rng: random.Random
    delay: float = 0.0
    keep: float = 0.5
    retry_after: int | None = None


class FaultInjector:
    """Draws faults for one agency's server and counts them (thread-safe)."""

    def __init__(self, rate: float, seed: str, *, slow_max: float = DEFAULT_SLOW_MAX,
                 retry_after: bool = True) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        self.rate = rate
        self.slow_max = slow_max
        self.retry_after = retry_after
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._burst_left = 0
        self._burst_retry_after: int | None = None
        self.requests = 0
        self.counts: Counter[str] = Counter()

    def draw(self, kinds: Sequence[FaultKind]) -> Fault | None:
        """The fault for this request, if any, among ``kinds`` (an ongoing burst wins over everything)."""
        with self._lock:
            self.requests += 1
            if self._burst_left > 0:
                self._burst_left -= 1
                return self._unavailable()
            if self.rate <= 0.0 or not kinds or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(list(kinds))
            if kind is FaultKind.BURST:
                return self._start_burst()
            return self._fault(kind)

    def _start_burst(self) -> Fault:
        self.counts[FaultKind.BURST] += 1
        self._burst_left = self._rng.randint(1, 3)
        self._burst_retry_after = 1 if self.retry_after and self._rng.random() < 0.5 else None
        return self._unavailable()

    def _unavailable(self) -> Fault:
        self.counts[FaultKind.UNAVAILABLE] += 1
        return Fault(FaultKind.UNAVAILABLE, random.Random(self._rng.getrandbits(64)),
                     retry_after=self._burst_retry_after)

    def _fault(self, kind: FaultKind) -> Fault:
        fault = Fault(kind, random.Random(self._rng.getrandbits(64)))
        if kind is FaultKind.SLOW:
            fault.delay = self._rng.uniform(self.slow_max / 2, self.slow_max)
        elif kind is FaultKind.TRUNCATED:
            fault.keep = self._rng.uniform(0.1, 0.9)
        if kind in (FaultKind.SLOW, FaultKind.TRUNCATED):
            self.counts[kind] += 1  # always takes effect; the others are counted by the agency if they do
        return fault

    def count(self, kind: str) -> None:
        """Count an event: a fault the agency applied, or one of its own (``rate_limited``)."""
        with self._lock:
            self.counts[kind] += 1

    def stats(self) -> dict[str, object]:
        """Requests seen, the fault rate, and counts per fault kind (zeros included) and other event."""
        with self._lock:
            faults = {str(kind): self.counts[kind] for kind in FaultKind}
            other = {k: v for k, v in sorted(self.counts.items()) if k not in faults}
            return {"requests": self.requests, "fault_rate": self.rate, "faults": faults, **other}

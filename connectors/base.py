"""What every connector yields: payloads with their position, and a watermark safe to commit after them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from connectors.errors import HostileBodyError, OriginViolationError, ProtocolViolationError


@dataclass
class Payload:
    """One unit an agency delivered: a file (``path``), a page or a message (``data``).

    A payload with a ``failure`` (reason code, PII-free reason) is what an agency sent that breaks its
    protocol — a page that is not JSON, a redirect or link to another origin, a decompression bomb: the
    pipeline keeps its bytes and quarantines it as a whole, and the connector goes on where it can.
    ``open`` (file drops) re-opens the file safely each time it is read.
    """

    position: dict[str, Any]
    content_type: str
    data: bytes | None = None
    path: Path | None = None
    cursor: tuple[str, str] | None = None
    after_commit: Callable[[], None] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    failure: tuple[str, str] | None = None
    open: Callable[[], IO[bytes]] | None = None


def failed_payload(position: dict[str, Any], exc: ProtocolViolationError) -> Payload:
    """The payload standing for a protocol violation ``exc`` (its message is PII-free by construction)."""
    code = ("origin_violation" if isinstance(exc, OriginViolationError)
            else "hostile_input" if isinstance(exc, HostileBodyError) else "protocol_violation")
    return Payload(position, exc.content_type, data=exc.body, failure=(code, str(exc)))


class Connector(Protocol):
    """A source of payloads; ``cursors`` are the watermarks committed by earlier pulls (name → value)."""

    @property
    def retries(self) -> int:
        """How many requests were retried so far (for the run's counts)."""

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        """Yield the source's new payloads in order."""


def _instant(value: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


def _is_instant(value: str) -> bool:
    try:
        _instant(value)
    except (ValueError, TypeError):
        return False
    return True


def page_watermark(values: list[str], last_page: bool, current: str | None) -> str | None:
    """The watermark that is safe to commit after a page sorted by ``values`` (ISO instants, ascending).

    The API's filter is "newer than the watermark", and records sharing the page's last instant may go on
    to the next page; so, unless this was the last page, only the greatest instant *before* the last one is
    fully fetched. Committing it can re-fetch a few records after a crash (staging makes that a no-op) but
    never skips one. Values that are not instants (an agency's junk) are ignored: they move nothing.
    """
    values = [v for v in values if isinstance(v, str) and _is_instant(v)]
    if not values:
        return current
    if last_page:
        return max(values, key=_instant)
    last = _instant(values[-1])
    before = [v for v in values if _instant(v) < last]
    if not before:
        return current
    best = max(before, key=_instant)
    if current is None or not _is_instant(current) or _instant(best) > _instant(current):
        return best
    return current

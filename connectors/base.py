"""What every connector yields: payloads with their position, and a watermark safe to commit after them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Payload:
    """One unit an agency delivered: a file (``path``), a page or a message (``data``)."""

    position: dict[str, Any]
    content_type: str
    data: bytes | None = None
    path: Path | None = None
    cursor: tuple[str, str] | None = None
    after_commit: Callable[[], None] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    """A source of payloads; ``cursors`` are the watermarks committed by earlier pulls (name → value)."""

    @property
    def retries(self) -> int:
        """How many requests were retried so far (for the run's counts)."""

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        """Yield the source's new payloads in order."""


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def page_watermark(values: list[str], last_page: bool, current: str | None) -> str | None:
    """The watermark that is safe to commit after a page sorted by ``values`` (ISO instants, ascending).

    The API's filter is "newer than the watermark", and records sharing the page's last instant may go on
    to the next page; so, unless this was the last page, only the greatest instant *before* the last one is
    fully fetched. Committing it can re-fetch a few records after a crash (staging makes that a no-op) but
    never skips one.
    """
    if not values:
        return current
    if last_page:
        return max(values, key=_instant)
    last = _instant(values[-1])
    before = [v for v in values if _instant(v) < last]
    if not before:
        return current
    best = max(before, key=_instant)
    return best if current is None or _instant(best) > _instant(current) else current

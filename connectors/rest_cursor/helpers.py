"""Helpers of the JSON REST cursor connector."""

from __future__ import annotations

from typing import Any

from connectors.errors import ProtocolViolationError
from mapper import strict_json


def parse_page(body: bytes, url: str, records_field: str = "data") -> dict[str, Any]:
    """A page ``{"data": [...], "next_cursor": ...}`` (records under ``records_field``); anything else — or
    a flawed envelope (a duplicate ``next_cursor``) — breaks the protocol. Flaws inside the records are the
    mapper's to quarantine."""
    try:
        decoded = strict_json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolViolationError(f"page from {url} is not JSON ({type(exc).__name__})") from None
    page = decoded.doc
    if not isinstance(page, dict) or not isinstance(page.get(records_field), list):
        raise ProtocolViolationError(f"page from {url} has no {records_field} list")
    if decoded.flawed:
        flaws = strict_json.flaws_in(page, skip={id(r) for r in page[records_field]}, max_depth=None)
        if flaws:
            raise ProtocolViolationError(f"page from {url} is flawed: {'; '.join(flaws[:3])}")
    return page

"""Helpers of the JSON REST cursor connector."""

from __future__ import annotations

import json
from typing import Any

from connectors.errors import ProtocolViolationError


def parse_page(body: bytes, url: str) -> dict[str, Any]:
    """A page ``{"data": [...], "next_cursor": ...}``; anything else breaks the protocol."""
    try:
        page = json.loads(body)
    except ValueError as exc:
        raise ProtocolViolationError(f"page from {url} is not JSON") from exc
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise ProtocolViolationError(f"page from {url} has no data list")
    return page

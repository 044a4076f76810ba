"""Helpers of the FHIR connector."""

from __future__ import annotations

import json
from typing import Any

from connectors.errors import ProtocolViolationError


def parse_bundle(body: bytes, url: str) -> dict[str, Any]:
    """A searchset Bundle; anything else breaks the protocol."""
    try:
        bundle = json.loads(body)
    except ValueError as exc:
        raise ProtocolViolationError(f"answer from {url} is not JSON") from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ProtocolViolationError(f"answer from {url} is not a FHIR Bundle")
    return bundle


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((link.get("url") for link in bundle.get("link", []) if link.get("relation") == "next"), None)


def last_updated(bundle: dict[str, Any]) -> list[str]:
    """``meta.lastUpdated`` of the entries, in page order."""
    stamps = []
    for entry in bundle.get("entry", []):
        stamp = ((entry.get("resource") or {}).get("meta") or {}).get("lastUpdated")
        if stamp:
            stamps.append(str(stamp))
    return stamps

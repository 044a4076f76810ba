"""Helpers of the FHIR connector."""

from __future__ import annotations

from typing import Any

from connectors.errors import ProtocolViolationError
from mapper import strict_json


def parse_bundle(body: bytes, url: str) -> dict[str, Any]:
    """A searchset Bundle; anything else, or a flawed envelope (a duplicate ``link``), breaks the protocol."""
    try:
        decoded = strict_json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolViolationError(f"answer from {url} is not JSON ({type(exc).__name__})") from None
    bundle = decoded.doc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ProtocolViolationError(f"answer from {url} is not a FHIR Bundle")
    if decoded.flawed:
        entries = bundle.get("entry")
        skip = {id(e) for e in entries} if isinstance(entries, list) else set()
        flaws = strict_json.flaws_in(bundle, skip=skip, max_depth=None)
        if flaws:
            raise ProtocolViolationError(f"Bundle from {url} is flawed: {'; '.join(flaws[:3])}")
    return bundle


def next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    found = next((link.get("url") for link in links
                  if isinstance(link, dict) and link.get("relation") == "next"), None)
    return found if isinstance(found, str) and found else None


def last_updated(bundle: dict[str, Any]) -> list[str]:
    """``meta.lastUpdated`` of the entries, in page order."""
    stamps = []
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        meta = resource.get("meta") if isinstance(resource, dict) else None
        stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
        if isinstance(stamp, str) and stamp:
            stamps.append(stamp)
    return stamps

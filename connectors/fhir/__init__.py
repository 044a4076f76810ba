"""FHIR R4 search: ``GET <base>/<Type>?_lastUpdated=gt<watermark>&_count=N``, following ``next`` links.

One watermark per resource type (``<Type>._lastUpdated``), committed with the page that covers it. A page
that breaks the protocol (not a Bundle after retries, a ``next`` link to another origin, a body refused by
the HTTP base) is handed on as a failed payload — kept and quarantined — and the pull goes on with the next
resource type: the watermark stays before it, so the next night asks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import Payload, failed_payload, page_watermark
from connectors.errors import ProtocolViolationError
from connectors.fhir.helpers import last_updated, next_link, parse_bundle
from connectors.fhir.settings import BASE_PATH, PAGE_SIZE, RESOURCES
from connectors.http import HttpClient

FHIR_JSON = "application/fhir+json"


class FhirConnector:
    """Bundles of every resource type newer than its watermark."""

    def __init__(
        self,
        client: HttpClient,
        resources: list[str] | None = None,
        page_size: int = PAGE_SIZE,
        base_path: str = BASE_PATH,
    ) -> None:
        self.client, self.resources = client, list(resources or RESOURCES)
        self.page_size, self.base_path = page_size, base_path.rstrip("/")

    @property
    def retries(self) -> int:
        return self.client.retries

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        for resource in self.resources:
            yield from self._resource(resource, cursors)

    def _resource(self, resource: str, cursors: dict[str, str]) -> Iterator[Payload]:
        name = f"{resource}._lastUpdated"
        watermark = cursors.get(name)
        params = {"_count": str(self.page_size), "_sort": "_lastUpdated"}
        if watermark:
            params["_lastUpdated"] = f"gt{watermark}"
        url: str | None = f"{self.base_path}/{resource}"
        page_no, seen = 0, set()
        while url:
            position: dict[str, Any] = {
                "url": self.client.url(f"{self.base_path}/{resource}"), "page": page_no + 1,
                "resource": resource,
            }
            try:
                body, bundle = self._page(url, params if page_no == 0 else None)
            except ProtocolViolationError as exc:
                yield failed_payload(position, exc)
                return
            page_no += 1
            url = next_link(bundle)
            refused: ProtocolViolationError | None = None
            if url is not None:
                try:
                    self.client.check_origin(self.client.resolve(url), "next link")
                    if url in seen:  # a server that links back would keep the pull going for ever
                        raise ProtocolViolationError(f"{resource}: next link repeats an earlier page")
                except ProtocolViolationError as exc:
                    refused = exc
                seen.add(url)
            watermark = page_watermark(last_updated(bundle), url is None, watermark)
            yield Payload(position, FHIR_JSON, data=body, cursor=(name, watermark) if watermark else None)
            if refused is not None:
                refused.body, refused.content_type = (url or "").encode()[:2048], "text/uri-list"
                yield failed_payload({**position, "link": "next"}, refused)
                return

    def _page(self, url: str, params: dict[str, str] | None) -> tuple[bytes, dict[str, Any]]:
        for attempt in range(3):
            response = self.client.get(url, params=params)
            try:
                return response.body, parse_bundle(response.body, url)
            except ProtocolViolationError as exc:
                if attempt == 2:
                    exc.body, exc.content_type = response.body, FHIR_JSON
                    raise
                self.client.retries += 1
        raise AssertionError("unreachable")

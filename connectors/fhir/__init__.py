"""FHIR R4 search: ``GET <base>/<Type>?_lastUpdated=gt<watermark>&_count=N``, following ``next`` links.

One watermark per resource type (``<Type>._lastUpdated``), committed with the page that covers it.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import Payload, page_watermark
from connectors.errors import ProtocolViolationError
from connectors.fhir.helpers import last_updated, next_link, parse_bundle
from connectors.fhir.settings import BASE_PATH, PAGE_SIZE, RESOURCES
from connectors.http import HttpClient


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
        page_no = 0
        while url:
            body, bundle = self._page(url, params if page_no == 0 else None)
            page_no += 1
            url = next_link(bundle)
            watermark = page_watermark(last_updated(bundle), url is None, watermark)
            position = {
                "url": self.client.url(f"{self.base_path}/{resource}"),
                "page": page_no,
                "resource": resource,
            }
            yield Payload(
                position, "application/fhir+json", data=body, cursor=(name, watermark) if watermark else None
            )

    def _page(self, url: str, params: dict[str, str] | None) -> tuple[bytes, dict]:  # type: ignore[type-arg]
        for attempt in range(3):
            response = self.client.get(url, params=params)
            try:
                return response.body, parse_bundle(response.body, url)
            except ProtocolViolationError:
                if attempt == 2:
                    raise
                self.client.retries += 1
        raise AssertionError("unreachable")

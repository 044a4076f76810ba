"""JSON REST with cursor pagination and an ``updated_since`` watermark (the NGO's API).

Each endpoint is pulled from its own watermark (``<endpoint>.updated_since``); pages are followed by their
opaque ``next_cursor``. A page that is not valid JSON is retried like a transport failure (it is usually a
truncated answer); if it stays broken — or the HTTP base refuses it (a redirect to another origin, a
decompression bomb) — its bytes are handed on as a failed payload (kept and quarantined) and the pull goes
on with the next endpoint: without the page there is no cursor to the next one, and the endpoint's
watermark stays before it, so the next night asks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import Payload, failed_payload, page_watermark
from connectors.errors import ProtocolViolationError
from connectors.http import HttpClient
from connectors.rest_cursor.helpers import parse_page
from connectors.rest_cursor.settings import CURSOR_PARAM, PAGE_SIZE, WATERMARK_FIELD


class RestCursorConnector:
    """Pages of every endpoint newer than its watermark."""

    def __init__(
        self,
        client: HttpClient,
        endpoints: list[str],
        page_size: int = PAGE_SIZE,
        cursor_param: str = CURSOR_PARAM,
        watermark_field: str = WATERMARK_FIELD,
    ) -> None:
        self.client, self.endpoints, self.page_size = client, endpoints, page_size
        self.cursor_param, self.watermark_field = cursor_param, watermark_field

    @property
    def retries(self) -> int:
        return self.client.retries

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        for endpoint in self.endpoints:
            yield from self._endpoint(endpoint, f"{endpoint}.{self.cursor_param}", cursors)

    def _endpoint(self, endpoint: str, cursor_name: str, cursors: dict[str, str]) -> Iterator[Payload]:
        since = cursors.get(cursor_name)
        watermark, next_cursor, page_no = since, None, 0
        seen: set[str] = set()
        while True:
            params = {"limit": str(self.page_size)}
            if since:
                params[self.cursor_param] = since
            if next_cursor:
                params["cursor"] = next_cursor
            position: dict[str, Any] = {
                "url": self.client.url(endpoint), "page": page_no + 1, "params": params,
            }
            try:
                body, page = self._page(endpoint, params)
            except ProtocolViolationError as exc:
                yield failed_payload(position, exc)
                return
            page_no += 1
            cursor = page.get("next_cursor")
            next_cursor = str(cursor) if isinstance(cursor, str | int) and cursor != "" else None
            looped = next_cursor is not None and next_cursor in seen
            if next_cursor is not None:
                seen.add(next_cursor)
            stamps = [
                str(r[self.watermark_field])
                for r in page["data"]
                if isinstance(r, dict) and r.get(self.watermark_field)
            ]
            watermark = page_watermark(stamps, next_cursor is None, watermark)
            yield Payload(
                position,
                "application/json",
                data=body,
                cursor=(cursor_name, watermark) if watermark else None,
            )
            if looped:  # a server that hands out a cursor twice would keep the pull going for ever
                yield failed_payload({**position, "cursor": "next"}, ProtocolViolationError(
                    f"{endpoint}: next_cursor repeats an earlier cursor (pagination loops)",
                    str(next_cursor).encode()[:2048], "text/plain"))
                return
            if not next_cursor:
                return

    def _page(self, endpoint: str, params: dict[str, str]) -> tuple[bytes, dict[str, Any]]:
        for attempt in range(3):
            response = self.client.get(endpoint, params=params)
            try:
                return response.body, parse_page(response.body, endpoint)
            except ProtocolViolationError as exc:
                if attempt == 2:
                    exc.body, exc.content_type = response.body, "application/json"
                    raise
                self.client.retries += 1
        raise AssertionError("unreachable")

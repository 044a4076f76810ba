"""JSON REST with an ``updated_since`` watermark and a pluggable paginator (the NGO's API: cursors).

Each endpoint is pulled from its own watermark (``<endpoint>.updated_since``); pages are followed as the
source's ``options.pagination`` says (``connectors.rest_cursor.paginators``: an opaque cursor by default,
or next links, a Link header, page numbers, offsets). A page that is not valid JSON is retried like a
transport failure (it is usually a truncated answer); if it stays broken — or the HTTP base refuses it (a
redirect to another origin, a decompression bomb) — its bytes are handed on as a failed payload (kept and
quarantined) and the pull goes on with the next endpoint: without the page there is no way to the next
one, and the endpoint's watermark stays before it, so the next night asks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import Payload, failed_payload, page_watermark
from connectors.errors import ProtocolViolationError
from connectors.http import HttpClient
from connectors.rest_cursor.helpers import parse_page
from connectors.rest_cursor.paginators import CursorPaginator, first_request
from connectors.rest_cursor.settings import CURSOR_PARAM, PAGE_SIZE, WATERMARK_FIELD


class RestCursorConnector:
    """Pages of every endpoint newer than its watermark, paged by the configured paginator."""

    def __init__(
        self,
        client: HttpClient,
        endpoints: list[str],
        page_size: int = PAGE_SIZE,
        cursor_param: str = CURSOR_PARAM,
        watermark_field: str = WATERMARK_FIELD,
        paginator: Any = None,
        limit_param: str = "limit",
        records_field: str = "data",
    ) -> None:
        self.client, self.endpoints, self.page_size = client, endpoints, page_size
        self.cursor_param, self.watermark_field = cursor_param, watermark_field
        self.paginator = paginator or CursorPaginator()
        self.limit_param, self.records_field = limit_param, records_field

    @property
    def retries(self) -> int:
        return self.client.retries

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        for endpoint in self.endpoints:
            yield from self._endpoint(endpoint, f"{endpoint}.{self.cursor_param}", cursors)

    def _endpoint(self, endpoint: str, cursor_name: str, cursors: dict[str, str]) -> Iterator[Payload]:
        since = cursors.get(cursor_name)
        watermark, page_no = since, 0
        params = {self.limit_param: str(self.page_size), **({self.cursor_param: since} if since else {})}
        target: str = endpoint
        params = first_request(self.paginator, params)
        seen: set[str] = set()
        while True:
            position: dict[str, Any] = {"url": self.client.url(target), "page": page_no + 1, "params": params}
            try:
                body, page, headers = self._page(target, params)
            except ProtocolViolationError as exc:
                yield failed_payload(position, exc)
                return
            page_no += 1
            records = page[self.records_field]
            following = self.paginator.next(page, headers, len(records), self.page_size, params)
            key = repr(following)
            looped = following is not None and key in seen
            seen.add(key)
            stamps = [str(r[self.watermark_field]) for r in records
                      if isinstance(r, dict) and r.get(self.watermark_field)]
            watermark = page_watermark(stamps, following is None, watermark)
            yield Payload(position, "application/json", data=body,
                          cursor=(cursor_name, watermark) if watermark else None)
            if looped:  # a server that hands out the same next page twice would keep the pull going for ever
                yield failed_payload({**position, "next": "repeated"}, ProtocolViolationError(
                    f"{endpoint}: the next page repeats an earlier one (pagination loops)",
                    key.encode()[:2048], "text/plain"))
                return
            if following is None:
                return
            url, params = following
            if url is not None:  # a next link: its own query; pinned to the connection's origin
                try:
                    self.client.check_origin(self.client.resolve(url), "next link")
                except ProtocolViolationError as exc:
                    yield failed_payload({**position, "link": "next"}, exc)
                    return
                target, params = url, {}

    def _page(self, endpoint: str, params: dict[str, str]) -> tuple[bytes, dict[str, Any], dict[str, str]]:
        for attempt in range(3):
            response = self.client.get(endpoint, params=params)
            try:
                page = parse_page(response.body, endpoint, self.records_field)
                return response.body, page, response.headers
            except ProtocolViolationError as exc:
                if attempt == 2:
                    exc.body, exc.content_type = response.body, "application/json"
                    raise
                self.client.retries += 1
        raise AssertionError("unreachable")

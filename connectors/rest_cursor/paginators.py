"""Pluggable REST paginators (like dlt's ``BasePaginator``): how the next page of an endpoint is asked for.

Each reads the page it was given (JSON and headers) and says what the next request is — or that there is
none. All of them go through the HTTP base, so a ``next`` URL is pinned to the connection's origin; a
paginator that would ask for the same page twice stops the endpoint as a protocol violation.

* ``cursor``: an opaque token in the page (``next_cursor``) sent back as a query parameter (``cursor``);
* ``next_link``: a URL in the page (``links.next``; absolute or relative);
* ``link_header``: RFC 8288 ``Link: <…>; rel="next"``;
* ``page_number``: ``page=1, 2, …`` until a page has fewer records than asked for (or ``total_pages``);
* ``offset``: ``offset=0, N, 2N, …`` until a page has fewer records than asked for.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Paginator(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _dig(page: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        page = page.get(key) if isinstance(page, dict) else None
    return page


class CursorPaginator(_Paginator):
    type: Literal["cursor"] = "cursor"
    cursor_field: str = Field(default="next_cursor", description="where the page holds the next cursor")
    cursor_param: str = Field(default="cursor", description="the query parameter that sends it back")

    def next(self, page: dict[str, Any], headers: dict[str, str], count: int, limit: int,
             request: dict[str, str]) -> tuple[str | None, dict[str, str]] | None:
        cursor = _dig(page, self.cursor_field)
        if not isinstance(cursor, str | int) or isinstance(cursor, bool) or cursor == "":
            return None
        return None, {**request, self.cursor_param: str(cursor)}


class NextLinkPaginator(_Paginator):
    type: Literal["next_link"] = "next_link"
    next_field: str = Field(default="links.next", description="where the page holds the next URL")

    def next(self, page: dict[str, Any], headers: dict[str, str], count: int, limit: int,
             request: dict[str, str]) -> tuple[str | None, dict[str, str]] | None:
        url = _dig(page, self.next_field)
        return (url, {}) if isinstance(url, str) and url else None


_LINK = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


class LinkHeaderPaginator(_Paginator):
    type: Literal["link_header"] = "link_header"

    def next(self, page: dict[str, Any], headers: dict[str, str], count: int, limit: int,
             request: dict[str, str]) -> tuple[str | None, dict[str, str]] | None:
        value = next((v for k, v in headers.items() if k.lower() == "link"), "")
        match = _LINK.search(value)
        return (match.group(1), {}) if match else None


class PageNumberPaginator(_Paginator):
    type: Literal["page_number"] = "page_number"
    page_param: str = "page"
    start: int = Field(default=1, ge=0)
    total_pages_field: str | None = Field(default=None, description="e.g. meta.total_pages, if the API says")

    def first(self, request: dict[str, str]) -> dict[str, str]:
        return {**request, self.page_param: str(self.start)}

    def next(self, page: dict[str, Any], headers: dict[str, str], count: int, limit: int,
             request: dict[str, str]) -> tuple[str | None, dict[str, str]] | None:
        current = int(request.get(self.page_param, self.start))
        total = _dig(page, self.total_pages_field) if self.total_pages_field else None
        last = isinstance(total, int) and current - self.start + 1 >= total
        if count == 0 or last or (total is None and count < limit):
            return None
        return None, {**request, self.page_param: str(current + 1)}


class OffsetPaginator(_Paginator):
    type: Literal["offset"] = "offset"
    offset_param: str = "offset"

    def first(self, request: dict[str, str]) -> dict[str, str]:
        return {**request, self.offset_param: "0"}

    def next(self, page: dict[str, Any], headers: dict[str, str], count: int, limit: int,
             request: dict[str, str]) -> tuple[str | None, dict[str, str]] | None:
        if count < limit or count == 0:
            return None
        return None, {**request, self.offset_param: str(int(request.get(self.offset_param, "0")) + count)}


Paginator = Annotated[CursorPaginator | NextLinkPaginator | LinkHeaderPaginator | PageNumberPaginator
                      | OffsetPaginator, Field(discriminator="type")]


def first_request(paginator: Any, request: dict[str, str]) -> dict[str, str]:
    start = getattr(paginator, "first", None)
    return dict(start(request)) if start else dict(request)

"""Defaults and options of the JSON REST cursor connector."""

from pydantic import Field

from connectors.options import HttpOptions
from connectors.rest_cursor.paginators import CursorPaginator, Paginator

PAGE_SIZE = 200
CURSOR_PARAM = "updated_since"
WATERMARK_FIELD = "updated_at"


class RestCursorOptions(HttpOptions):
    """``endpoints`` to page through; the watermark's query parameter and the record field it comes from."""

    endpoints: list[str] = Field(min_length=1)
    page_size: int = Field(default=PAGE_SIZE, ge=1, le=10_000)
    cursor_param: str = Field(default=CURSOR_PARAM, description="the watermark's query parameter")
    watermark_field: str = WATERMARK_FIELD
    limit_param: str = Field(default="limit", description="the page size's query parameter")
    records_field: str = Field(default="data", description="where a page holds its list of records")
    pagination: Paginator = Field(default_factory=CursorPaginator,
                                  description="cursor | next_link | link_header | page_number | offset")

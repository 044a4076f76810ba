"""Defaults and options of the JSON REST cursor connector."""

from pydantic import Field

from connectors.options import HttpOptions

PAGE_SIZE = 200
CURSOR_PARAM = "updated_since"
WATERMARK_FIELD = "updated_at"


class RestCursorOptions(HttpOptions):
    """``endpoints`` to page through; the watermark's query parameter and the record field it comes from."""

    endpoints: list[str] = Field(min_length=1)
    page_size: int = Field(default=PAGE_SIZE, ge=1, le=10_000)
    cursor_param: str = CURSOR_PARAM
    watermark_field: str = WATERMARK_FIELD

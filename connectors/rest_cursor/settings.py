"""Defaults of the JSON REST cursor connector."""

PAGE_SIZE = 200
CURSOR_PARAM = "updated_since"
WATERMARK_FIELD = "updated_at"

"""Defaults and options of the file-drop connector."""

from typing import Literal

from pydantic import Field

from connectors.options import ConnectorOptions

PATTERNS = ("*.xml",)
HASH_BLOCK = 1 << 20


class FileDropOptions(ConnectorOptions):
    """``patterns``: file names to read (fnmatch, no path separators); ``after: move`` moves a file to
    ``processed/`` once committed."""

    patterns: list[str] = Field(default_factory=lambda: list(PATTERNS), min_length=1)
    after: Literal["keep", "move"] = "keep"

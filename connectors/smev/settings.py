"""Defaults and options of the SMEV-3-style connector."""

from pydantic import Field

from connectors.options import HttpOptions

PATH = "/smev"
MAX_MESSAGES = 10_000


class SmevOptions(HttpOptions):
    """``path`` of the SOAP endpoint; ``max_messages`` taken from the queue per pull."""

    path: str = PATH
    max_messages: int = Field(default=MAX_MESSAGES, ge=1)

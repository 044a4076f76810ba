"""Exceptions of the connectors package.

Hierarchy::

    ConnectorError
    ├── ConnectionConfigError      a connection (AIRFLOW_CONN_…) is missing or malformed
    ├── TransportError             retriable: 429, 5xx, timeouts, resets, truncated bodies
    │   └── RateLimitedError       429; ``retry_after`` seconds from the server
    ├── FatalResponseError         4xx other than 429: fails at once with the URL and status (no body)
    │   └── AuthenticationError    401 / 403
    ├── ProtocolViolationError     the agency answered something that breaks its protocol
    └── QualityGateError           too many quarantined records in a pull (what arrived stays staged)
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error raised by the connectors package."""


class ConnectionConfigError(ConnectorError):
    """A connection is missing or cannot be parsed."""


class TransportError(ConnectorError):
    """A failure worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransportError):
    """The agency asked us to slow down (HTTP 429)."""


class FatalResponseError(ConnectorError):
    """A failure that retrying will not fix."""

    def __init__(self, url: str, status: int, message: str = "") -> None:
        super().__init__(f"{status} from {url}{': ' + message if message else ''}")
        self.url, self.status = url, status


class AuthenticationError(FatalResponseError):
    """Credentials were refused."""


class ProtocolViolationError(ConnectorError):
    """The answer breaks the agency's protocol (a page without its envelope, a SOAP fault, …)."""


class QualityGateError(ConnectorError):
    """The share of quarantined records is above the source's threshold."""

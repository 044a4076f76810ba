"""Exceptions of the connectors package.

Hierarchy::

    ConnectorError
    ├── ConnectionConfigError      a connection (AIRFLOW_CONN_…) is missing or malformed
    ├── TransportError             retriable: 429, 5xx, timeouts, resets, truncated bodies
    │   └── RateLimitedError       429; ``retry_after`` seconds from the server
    ├── FatalResponseError         4xx other than 429: fails at once with the URL and status (no body)
    │   └── AuthenticationError    401 / 403
    ├── ProtocolViolationError     the agency answered something that breaks its protocol
    │   ├── OriginViolationError   a link or redirect to an origin the connection is not pinned to
    │   ├── SoapFaultError         a SOAP Fault (its code and string)
    │   └── HostileBodyError       a body refused unread or half-read (decompression bomb, oversize)
    ├── UnknownSourceError         a source code that is not configured
    ├── QualityGateError           too many quarantined records in a pull (what arrived stays staged)
    └── DeliveryIncompleteError    a push left messages undelivered (they stay pending or dead-lettered)
"""

from __future__ import annotations

from schemas.errors import HubError


class ConnectorError(HubError):
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
    """The answer breaks the agency's protocol (a page without its envelope, two SOAP Bodies, …).

    ``body`` holds the offending bytes as sent (bounded) when there are any, for the quarantine row.
    """

    def __init__(
        self, message: str, body: bytes = b"", content_type: str = "application/octet-stream"
    ) -> None:
        super().__init__(message)
        self.body, self.content_type = body, content_type


class OriginViolationError(ProtocolViolationError):
    """A link, cursor or redirect points to an origin the connection is not pinned to (never followed)."""


class SoapFaultError(ProtocolViolationError):
    """The agency answered a SOAP Fault; ``code`` is its faultcode (local name), ``text`` its faultstring."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"SOAP fault {code}: {text[:200]}")
        self.code, self.text = code, text


class HostileBodyError(ProtocolViolationError):
    """A body refused before it was fully read: it inflates past the ratio or size cap, or is too big.

    ``body`` holds what was read of it as sent (compressed), bounded.
    """


class UnknownSourceError(ConnectorError):
    """A source code that ``config/sources.yaml`` does not configure."""


class QualityGateError(ConnectorError):
    """The share of quarantined records is above the source's threshold."""


class DeliveryIncompleteError(ConnectorError):
    """A push ended with messages not delivered: its run is ``failed`` and so is the Airflow task."""

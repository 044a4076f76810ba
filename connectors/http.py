"""The one HTTP base every REST/SOAP connector uses: auth, timeouts, and failures sorted in two.

Retriable (``TransportError``): 429, 5xx, timeouts, connection errors, truncated bodies — retried with
exponential backoff and jitter (tenacity), waiting at least what ``Retry-After`` asks. Fatal
(``FatalResponseError``): any other 4xx — raised at once with the URL and status, never the body (it may
hold personal data). Modelled on Meltano tap-github's ``validate_response``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from connectors.connections import Connection
from connectors.errors import (
    AuthenticationError,
    ConnectionConfigError,
    FatalResponseError,
    RateLimitedError,
    TransportError,
)

log = logging.getLogger("hub.connectors.http")


@dataclass
class Response:
    """What a successful request returned (the body fully read)."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


class Auth:
    """Adds credentials to a request."""

    def headers(self, client: HttpClient) -> dict[str, str]:
        return {}


@dataclass
class BearerAuth(Auth):
    token: str = field(repr=False)

    def headers(self, client: HttpClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class ApiKeyAuth(Auth):
    key: str = field(repr=False)
    header: str = "X-API-Key"

    def headers(self, client: HttpClient) -> dict[str, str]:
        return {self.header: self.key}


@dataclass
class OAuth2ClientCredentials(Auth):
    """OAuth2 client-credentials grant; the token is cached until shortly before it expires."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    _token: str | None = field(default=None, repr=False)
    _expires: float = 0.0

    def headers(self, client: HttpClient) -> dict[str, str]:
        if self._token is None or time.monotonic() > self._expires:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                **({"scope": self.scope} if self.scope else {}),
            }
            answer = client.request("POST", self.token_url, data=form, authenticate=False)
            data = _json(answer)
            self._token = str(data["access_token"])
            self._expires = time.monotonic() + float(data.get("expires_in", 300)) - 30
        return {"Authorization": f"Bearer {self._token}"}


def _json(response: Response) -> dict[str, Any]:
    import json

    try:
        data = json.loads(response.body)
    except ValueError as exc:
        raise TransportError(f"token endpoint {response.url} answered non-JSON") from exc
    if not isinstance(data, dict) or "access_token" not in data:
        raise AuthenticationError(response.url, response.status, "no access_token in the answer")
    return data


def auth_from_connection(conn: Connection) -> Auth | None:
    """Build the auth named by the connection's ``extra.auth`` (bearer | api_key | oauth2 | none)."""
    kind = conn.extra.get("auth", "none")
    if kind == "none":
        return None
    if not conn.password:
        raise ConnectionConfigError(
            f"connection {conn.conn_id!r} uses {kind} auth but has no password/secret"
        )
    if kind == "bearer":
        return BearerAuth(conn.password)
    if kind == "api_key":
        return ApiKeyAuth(conn.password, conn.extra.get("api_key_header", "X-API-Key"))
    if kind == "oauth2":
        return OAuth2ClientCredentials(
            conn.extra["token_url"], conn.login or "", conn.password, conn.extra.get("scope")
        )
    raise ConnectionConfigError(f"connection {conn.conn_id!r}: unknown auth {kind!r}")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def validate_response(resp: requests.Response, url: str) -> None:
    """Sort a response: return for 2xx/3xx, raise TransportError or FatalResponseError otherwise."""
    status = resp.status_code
    if status < 400:
        return
    if status == 429:
        raise RateLimitedError(f"429 from {url}", retry_after_seconds(resp.headers.get("Retry-After")))
    if status >= 500:
        raise TransportError(f"{status} from {url}", retry_after_seconds(resp.headers.get("Retry-After")))
    if status in (401, 403):
        raise AuthenticationError(url, status)
    raise FatalResponseError(url, status)


class HttpClient:
    """A requests session with auth, timeouts and the retry policy; counts the retries it made."""

    def __init__(
        self,
        base_url: str,
        auth: Auth | None = None,
        *,
        timeout: tuple[float, float] = (5, 30),
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url, self.auth, self.timeout = base_url.rstrip("/") + "/", auth, timeout
        self.max_attempts = max_attempts
        self.backoff = wait_exponential_jitter(multiplier=backoff_initial, max=backoff_max)
        self.sleep, self.retries = sleep, 0
        self.session = requests.Session()

    def url(self, path_or_url: str) -> str:
        return urljoin(self.base_url, path_or_url)

    def request(self, method: str, path_or_url: str, *, authenticate: bool = True, **kwargs: Any) -> Response:
        """Send with retries; return the fully read response or raise a ConnectorError."""
        url = self.url(path_or_url)
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            retry=retry_if_exception_type(TransportError),
            reraise=True,
            before_sleep=self._count,
        )
        return retrying(self._once, method, url, authenticate, kwargs)

    def get(self, path_or_url: str, **kwargs: Any) -> Response:
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> Response:
        return self.request("POST", path_or_url, **kwargs)

    def _once(self, method: str, url: str, authenticate: bool, kwargs: dict[str, Any]) -> Response:
        headers = dict(kwargs.get("headers") or {})
        if authenticate and self.auth is not None:
            headers.update(self.auth.headers(self))
        rest = {k: v for k, v in kwargs.items() if k != "headers"}
        shown = _shown(url, kwargs.get("params"))
        try:
            resp = self.session.request(method, url, headers=headers, timeout=self.timeout, **rest)
            validate_response(resp, shown)
            body = resp.content  # a truncated body raises here (ChunkedEncodingError)
        except requests.Timeout as exc:
            raise TransportError(f"timeout from {shown}") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransportError(f"connection broken talking to {shown}: {type(exc).__name__}") from exc
        log.debug("%s %s → %s", method, shown, resp.status_code)
        return Response(resp.url, resp.status_code, dict(resp.headers), body)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None) or 0.0
        return max(float(asked), float(self.backoff(state)))

    def _count(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.info("retrying after: %s", exc)


def _shown(url: str, params: Any) -> str:
    """URL for messages: path and query, without credentials in the netloc."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    if params:
        query += ("&" if query else "?") + "&".join(f"{k}={v}" for k, v in dict(params).items())
    return f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path}{query}"

"""The one HTTP base every REST/SOAP connector uses: a pinned origin, auth, timeouts, failures sorted in two.

**Origin pinning.** A client talks to one origin — the connection's scheme, host and port — plus the
extra origins its connection allows (``extra.allowed_origins``, for agencies that really page across
hosts). Every URL it is asked for (pages, ``next`` links, cursors, the OAuth2 token endpoint) is checked
before anything is sent; redirects are never followed by ``requests``: a same-origin redirect is checked
and followed here (credentials re-added, at most ``MAX_REDIRECTS``), a cross-origin one fails the request
with ``OriginViolationError`` naming both origins and nothing — least of all a credential — is sent there.
Proxies and ``.netrc`` from the environment are ignored (``trust_env`` off): credentials go to their
origin only.

**Bodies** are read in a stream and inflated by ``connectors.inflate`` with a size and ratio cap checked
before memory grows (``HostileBodyError``).

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
import urllib3.exceptions
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from connectors.connections import Connection
from connectors.errors import (
    AuthenticationError,
    ConnectionConfigError,
    FatalResponseError,
    HostileBodyError,
    OriginViolationError,
    RateLimitedError,
    TransportError,
)
from connectors.inflate import inflate_all

log = logging.getLogger("hub.connectors.http")
MAX_REDIRECTS = 5
BODY_LIMIT = 256 << 20
"""No answer is read past this many (inflated) bytes: a JSON page is parsed whole."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def client_for(conn: Connection, **options: Any) -> HttpClient:
    """The HTTP client of a connection: its base URL and auth, pinned to its origin and allowed_origins."""
    auth = auth_from_connection(conn)
    return HttpClient(conn.base_url, auth, extra_origins=allowed_origins(conn), **options)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-cased, with the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def allowed_origins(conn: Connection) -> list[str]:
    """Extra origins a connection allows (``extra.allowed_origins``: a list or a comma-separated string)."""
    extra = conn.extra.get("allowed_origins") or []
    items = [x.strip() for x in extra.split(",")] if isinstance(extra, str) else list(extra)
    return [origin(str(x)) for x in items if str(x).strip()]


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
    """A requests session pinned to one origin, with auth, timeouts and the retry policy.

    ``retries`` counts the retries it made; ``on_retry`` (if given) hears of each as it happens.
    """

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
        extra_origins: list[str] | tuple[str, ...] = (),
        body_limit: int = BODY_LIMIT,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url, self.auth, self.timeout = base_url.rstrip("/") + "/", auth, timeout
        self.origin = origin(self.base_url)
        self.origins = {self.origin, *(origin(o) for o in extra_origins)}
        self.max_attempts, self.body_limit, self.on_retry = max_attempts, body_limit, on_retry
        self.backoff = wait_exponential_jitter(multiplier=backoff_initial, max=backoff_max)
        self.sleep, self.retries = sleep, 0
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or .netrc credentials from the environment

    def resolve(self, path_or_url: str) -> str:
        """``path_or_url`` resolved against the base URL (not checked: see ``url``)."""
        return urljoin(self.base_url, path_or_url)

    def url(self, path_or_url: str) -> str:
        """``path_or_url`` resolved against the base; ``OriginViolationError`` off the pinned origins."""
        url = self.resolve(path_or_url)
        self.check_origin(url)
        return url

    def check_origin(self, url: str, why: str = "request") -> None:
        """Refuse ``url`` unless it is on one of the origins this client is pinned to."""
        if urlsplit(url).scheme.lower() not in _DEFAULT_PORTS:
            raise OriginViolationError(f"{why} to a non-HTTP URL refused (pinned to {self.origin})")
        target = origin(url)
        if target not in self.origins:
            others = sorted(self.origins - {self.origin})
            also = f" (and {', '.join(others)})" if others else ""
            raise OriginViolationError(
                f"{why} to {target} refused: the connection is pinned to {self.origin}{also}"
            )

    def request(
        self, method: str, path_or_url: str, *, authenticate: bool = True,
        accept_status: frozenset[int] = frozenset(), check: Callable[[Response], None] | None = None,
        **kwargs: Any,
    ) -> Response:
        """Send with retries; return the fully read response or raise a ConnectorError.

        ``accept_status``: statuses read and returned instead of raised (SOAP faults come as HTTP 500);
        ``check``: run on each attempt's answer inside the retry loop — a ``TransportError`` it raises
        (a retriable SOAP fault) is retried like any other.
        """
        url = self.url(path_or_url)
        kwargs = {**kwargs, "_accept": accept_status, "_check": check}
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
        """One attempt: the request, then same-origin redirects checked hop by hop."""
        rest = {k: v for k, v in kwargs.items() if k not in ("headers", "_accept", "_check")}
        accept, check = kwargs.get("_accept") or frozenset(), kwargs.get("_check")
        for _hop in range(MAX_REDIRECTS + 1):
            resp = self._send(method, url, authenticate, kwargs.get("headers"), rest, accept)
            location = resp.headers.get("Location") if resp.is_redirect else None
            if location is None:
                answer = self._read(resp, _shown(url, rest.get("params")))
                if check is not None:
                    check(answer)
                return answer
            resp.close()
            target = urljoin(resp.url or url, location)
            try:
                self.check_origin(target, f"redirect from {_shown(url, None)}")
            except OriginViolationError as exc:  # the hostile input is the answer's head: keep it
                exc.body = f"HTTP {resp.status_code}\r\nLocation: {location[:2048]}\r\n".encode()
                exc.content_type = "message/http"
                raise
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, rest = "GET", {k: v for k, v in rest.items() if k not in ("data", "json", "files")}
            rest.pop("params", None)  # the Location carries its own query
            url = target
        raise TransportError(f"more than {MAX_REDIRECTS} redirects from {_shown(url, None)}")

    def _send(self, method: str, url: str, authenticate: bool, extra_headers: Any,
              rest: dict[str, Any], accept: frozenset[int] = frozenset()) -> requests.Response:
        self.check_origin(url)
        headers = {"Accept-Encoding": "gzip, deflate", **dict(extra_headers or {})}
        if authenticate and self.auth is not None:
            headers.update(self.auth.headers(self))
        shown = _shown(url, rest.get("params"))
        try:
            resp = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                        allow_redirects=False, stream=True, **rest)
        except requests.Timeout as exc:
            raise TransportError(f"timeout from {shown}") from exc
        except requests.ConnectionError as exc:
            raise TransportError(f"connection broken talking to {shown}: {type(exc).__name__}") from exc
        log.debug("%s %s → %s", method, shown, resp.status_code)
        try:
            if resp.status_code not in accept:
                validate_response(resp, shown)
        except Exception:
            resp.close()
            raise
        return resp

    def _read(self, resp: requests.Response, shown: str) -> Response:
        """The body as sent, inflated within the caps; a truncated body is a retriable failure."""
        try:
            chunks = resp.raw.stream(64 << 10, decode_content=False)
            body = inflate_all(chunks, resp.headers.get("Content-Encoding", ""), self.body_limit,
                               f"answer from {shown}")
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise TransportError(f"connection broken reading {shown}: {type(exc).__name__}") from exc
        except HostileBodyError as exc:
            exc.content_type = _content_type(resp)
            raise
        finally:
            resp.close()
        return Response(resp.url, resp.status_code, dict(resp.headers), body)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None) or 0.0
        return max(float(asked), float(self.backoff(state)))

    def _count(self, state: RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        message = f"attempt {state.attempt_number} of {self.max_attempts} failed ({exc}); retrying"
        log.warning("%s", message)
        if self.on_retry is not None:
            self.on_retry(message)


def _content_type(resp: requests.Response) -> str:
    """The answer's media type, with its content encoding when the bytes kept are compressed."""
    media = (resp.headers.get("Content-Type") or "application/octet-stream").split(";")[0].strip()[:100]
    encoding = (resp.headers.get("Content-Encoding") or "").strip().lower()[:20]
    return f"{media}; content-encoding={encoding}" if encoding and encoding != "identity" else media


def _shown(url: str, params: Any) -> str:
    """URL for messages: path and query, without credentials in the netloc."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    if params:
        query += ("&" if query else "?") + "&".join(f"{k}={v}" for k, v in dict(params).items())
    return f"{parts.scheme}://{parts.hostname}:{parts.port}{parts.path}{query}"

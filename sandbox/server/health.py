"""The health agency's FHIR R4 API: resource search with ``_lastUpdated`` and paging, and the hub's push.

``GET /fhir/{Patient|RelatedPerson|Condition|Procedure}`` with ``Authorization: Bearer <health_token>``:

* ``_lastUpdated`` — ``gt``/``ge``/``lt``/``le`` + an ISO date or instant (repeatable for a range; a date or
  a time without offset is regional time);
* ``_count`` — page size, default 100, at most 500 (larger values are cut to 500; 0 gives only ``total``);
* ``_page`` — the opaque position token of a ``next`` link (the hub follows ``next`` as given).

Answers a ``searchset`` Bundle (``application/fhir+json``) of the latest version of each resource, sorted by
(``meta.lastUpdated``, id), with ``total`` (matches of the whole search) and ``self`` / ``next`` links.
Paging is by position, not offset, so resources updated while the hub pages are not skipped (they move to
the end). Errors are OperationOutcomes: 400 bad parameter, 401 no or wrong token, 404 unknown path.

``POST /hub/registry-links`` (bearer token, ``Idempotency-Key``, JSON body) records the hub's registry ids in
``DIR/pushes/health.jsonl`` once per key (see :class:`sandbox.server.store.IdempotentPushes`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import random
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sandbox.formats import fhir
from sandbox.server import Reply, Request, json_reply
from sandbox.server.faults import TRANSPORT, Fault, FaultInjector, FaultKind
from sandbox.server.store import (
    IdempotentPushes,
    LatestTable,
    Record,
    SandboxStore,
    decode_position,
    encode_position,
    parse_instant,
)

RESOURCE_TYPES = ("Patient", "RelatedPerson", "Condition", "Procedure")
DEFAULT_COUNT, MAX_COUNT = 100, 500
FHIR_JSON = "application/fhir+json"
PUSH_PATH = "/hub/registry-links"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path: the OAuth2 client-credentials grant
Bound = tuple[dt.datetime, bool]

# How a malformed-record fault breaks a resource: (element, bad value), None meaning "left out".
_BREAKS: dict[str, tuple[tuple[str, Any], ...]] = {
    "Patient": (("birthDate", "31.02.2015"), ("name", None)),
    "RelatedPerson": (("birthDate", "31.02.2015"), ("name", None)),
    "Condition": (("onsetDateTime", "31.02.2015"), ("subject", None)),
    "Procedure": (("performedPeriod", {"start": "31.02.2015"}), ("subject", None)),
}


def _table() -> LatestTable:
    return LatestTable(
        "health", "resources-*.ndjson",
        key=lambda r: (r["resourceType"], r["id"]),
        position=lambda r: (parse_instant(r["meta"]["lastUpdated"]), r["id"]),
        group=lambda r: str(r["resourceType"]),
    )


def outcome(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> Reply:
    """An ``OperationOutcome`` reply with one issue (FHIR issue-type ``code``)."""
    issue = {"severity": "error" if status < 500 else "fatal", "code": code, "diagnostics": text}
    return json_reply(status, {"resourceType": "OperationOutcome", "issue": [issue]},
                      content_type=FHIR_JSON, headers=headers)


def _search_type(path: str) -> str | None:
    kind = path.removeprefix("/fhir/").rstrip("/")
    return kind if path.startswith("/fhir/") and kind in RESOURCE_TYPES else None


def _bounds(values: list[str]) -> tuple[Bound | None, Bound | None]:
    lower: Bound | None = None
    upper: Bound | None = None
    for value in values:
        prefix, when = value[:2], value[2:]
        if prefix not in ("gt", "ge", "lt", "le"):
            raise ValueError("_lastUpdated: use the prefix gt, ge, lt or le")
        try:
            instant = parse_instant(when)
        except ValueError:
            raise ValueError("_lastUpdated: expected an ISO date or instant after the prefix") from None
        if prefix in ("gt", "ge"):
            lower = (instant, prefix == "ge")
        else:
            upper = (instant, prefix == "le")
    return lower, upper


def _count(value: str | None) -> int:
    if value is None:
        return DEFAULT_COUNT
    if not value.isdigit():
        raise ValueError("_count: expected a non-negative integer")
    return min(int(value), MAX_COUNT)


def _break_one(page: list[Record], rng: random.Random) -> list[Record]:
    index = rng.randrange(len(page))
    resource = dict(page[index])  # a copy: the stored version stays good for the next request
    element, bad = rng.choice(_BREAKS[resource["resourceType"]])
    if bad is None:
        resource.pop(element, None)
    else:
        resource[element] = bad
    return [*page[:index], resource, *page[index + 1:]]


class HealthAgency:
    """The health agency's FHIR server over the sandbox's ``health/night-NNNN`` files."""

    name = "health"

    def __init__(self, store: SandboxStore, injector: FaultInjector) -> None:
        self.store = store
        self.injector = injector
        self.pushes = IdempotentPushes(store.root / "pushes" / "health.jsonl")

    def fault_kinds(self, request: Request) -> tuple[FaultKind, ...]:
        """Faults this request may meet: a search page can also carry a malformed resource."""
        if request.method == "GET" and _search_type(request.path):
            return (*TRANSPORT, FaultKind.MALFORMED)
        return TRANSPORT

    def admit(self, request: Request) -> Reply | None:
        """No admission control at the health agency."""
        return None

    def unavailable(self, fault: Fault) -> Reply:
        """The 503 of a fault burst (``Retry-After`` when the burst says so)."""
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        return outcome(503, "transient", "the service is temporarily unavailable", headers)

    def handle(self, request: Request, fault: Fault | None) -> Reply:
        """Answer one request (``fault`` is the drawn fault, if any, for the agency-level kinds)."""
        if request.path == TOKEN_PATH:
            return self._token(request)
        if not self._authorised(request):
            return outcome(401, "login", "a valid bearer token is required",
                           {"WWW-Authenticate": 'Bearer realm="health"'})
        resource_type = _search_type(request.path)
        if resource_type is not None:
            if request.method != "GET":
                return outcome(405, "not-supported", "only search (GET) is supported", {"Allow": "GET"})
            return self._search(request, resource_type, fault)
        if request.path == PUSH_PATH:
            if request.method != "POST":
                return outcome(405, "not-supported", "POST registry links here", {"Allow": "POST"})
            return self.pushes.reply(request)
        return outcome(404, "not-found", "unknown path")

    def _token(self, request: Request) -> Reply:
        """Issue the bearer token to a client that presents the sandbox's client id and secret."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        creds = self.store.config().credentials
        secret = creds.get("health_client_secret", "")
        valid = (request.method == "POST" and form.get("grant_type") == "client_credentials"
                 and form.get("client_id") == creds.get("health_client_id")
                 and bool(secret) and hmac.compare_digest(form.get("client_secret", ""), secret))
        if not valid:
            return json_reply(401, {"error": "invalid_client"})
        return json_reply(200, {"access_token": creds["health_token"], "token_type": "Bearer",
                                "expires_in": 3600})

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        expected = self.store.config().credentials.get("health_token", "")
        return scheme.lower() == "bearer" and bool(expected) and hmac.compare_digest(token.strip(), expected)

    def _search(self, request: Request, resource_type: str, fault: Fault | None) -> Reply:
        try:
            lower, upper = _bounds(request.query.get("_lastUpdated", []))
            count = _count(request.param("_count"))
            token = request.param("_page")
            after = decode_position(token, str) if token else None
        except ValueError as exc:
            return outcome(400, "invalid", str(exc))
        rows = self.store.table("health", _table).sorted(resource_type)
        lo, hi = rows.window(lower, upper)
        start = max(lo, rows.after(after)) if after else lo
        end = min(start + count, hi)
        page = rows.records[start:end]
        if fault is not None and fault.kind is FaultKind.MALFORMED and page:
            page = _break_one(page, fault.rng)
            self.injector.count(FaultKind.MALFORMED)
        more = count > 0 and end < hi
        next_url = self._url(request, encode_position(rows.positions[end - 1])) if more else None
        bundle = fhir.searchset_bundle(page, self_url=self._url(request, token), next_url=next_url,
                                       total=hi - lo, base_url=f"{request.base_url}/fhir")
        return json_reply(200, bundle, content_type=FHIR_JSON)

    def _url(self, request: Request, token: str | None) -> str:
        params = [("_lastUpdated", v) for v in request.query.get("_lastUpdated", [])]
        params.append(("_count", str(_count(request.param("_count")))))
        if token:
            params.append(("_page", token))
        return f"{request.base_url}{request.path}?{urlencode(params)}"

"""The simulated agency systems the hub talks to, served on loopback: ``health``, ``ngo``, ``education``.

Each agency runs on its own port (``sandbox.server.app.serve``; ``python -m sandbox.server --data DIR``) and
serves the sandbox folder ``DIR`` (see :mod:`sandbox.generate`), re-reading it when ``sandbox.json``'s
``night`` changes:

* health — FHIR R4 search ``GET /fhir/{Patient|RelatedPerson|Condition|Procedure}`` with ``_lastUpdated``,
  ``_count`` and ``next`` links, bearer token; push ``POST /hub/registry-links`` (:mod:`.health`);
* ngo — JSON REST ``GET /api/v1/participants|participations`` with ``updated_since``, ``limit`` and
  ``cursor``, API key, a per-client rate limit; push ``POST /api/v1/registry-links`` (:mod:`.ngo`);
* education — SMEV-3-style SOAP 1.1 ``POST /smev``: GetResponse / Ack / SendRequest (:mod:`.education`);
* every port — ``GET /_sandbox/stats`` (no auth): request and injected-fault counts.

Built on the standard library's ``http.server.ThreadingHTTPServer`` rather than a web framework on purpose:
the fault injector (:mod:`.faults`) needs byte-level control of a response — announce a full
``Content-Length`` and then send half the body and drop the connection — which frameworks hide.

Nothing personal is logged: the access log (logger ``sandbox.server``, silent unless configured) has the
method, the path without its query and the status only.

This module holds the two types every agency speaks: :class:`Request` and :class:`Reply`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One HTTP request as the agencies see it: body read, query parsed, header names lower-cased."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""
    client: str = "127.0.0.1"
    base_url: str = "http://127.0.0.1"

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or ``None``."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """Header ``name`` (any case), or ``None``."""
        return self.headers.get(name.lower())


@dataclass
class Reply:
    """What to answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any, *, content_type: str = "application/json",
               headers: dict[str, str] | None = None) -> Reply:
    """A JSON :class:`Reply` (UTF-8, Cyrillic kept as is)."""
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return Reply(status, body, f"{content_type}; charset=utf-8", dict(headers or {}))

"""Real HTTP servers on loopback for the security suite: a scripted agency and a recording stranger.

``ScriptedServer`` answers each request through a function of the test (``routes``: path → handler), and
records every request it receives — method, path, headers, body — so a test can assert what reached it.
A server with no routes is the *recorder*: a second loopback port standing for any foreign origin; an
agency credential must never arrive there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Seen:
    """One request a server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Seen], Answer]


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 with scripted answers; ``seen`` lists every request in order."""

    def __init__(self, routes: dict[str, Handler] | None = None) -> None:
        self.routes: dict[str, Handler] = dict(routes or {})
        self.seen: list[Seen] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path, parts.query, dict(self.headers.items()), body)
                outer.seen.append(seen)
                handler = outer.routes.get(parts.path)
                answer = handler(seen) if handler else Answer(200, b"EXFILTRATED")
                self.send_response(answer.status)
                headers = {"Content-Length": str(len(answer.body)), **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = _any  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def carrying(self, *secrets: str) -> list[Seen]:
        """Requests that carry any of ``secrets`` in a header value, the query or the body."""
        found = []
        for seen in self.seen:
            blob = " ".join(seen.headers.values()) + seen.query + seen.body.decode("latin-1")
            if any(secret in blob for secret in secrets):
                found.append(seen)
        return found

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serving(routes: dict[str, Handler] | None = None) -> Iterator[ScriptedServer]:
    server = ScriptedServer(routes)
    try:
        yield server
    finally:
        server.stop()

"""Start the three agency servers, each on its own port, and stop them: :func:`serve`.

One ``ThreadingHTTPServer`` per agency, speaking HTTP/1.1 with keep-alive. A request goes: ``/_sandbox/stats``
(answered directly), the agency's admission control (NGO rate limit), the fault draw, the agency's answer,
then the transport faults (slow, truncated) while sending.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from sandbox.server import Reply, Request, json_reply
from sandbox.server.education import EducationAgency
from sandbox.server.faults import DEFAULT_SLOW_MAX, Fault, FaultInjector, FaultKind
from sandbox.server.health import HealthAgency
from sandbox.server.ngo import DEFAULT_RATE_LIMIT, NgoAgency
from sandbox.server.store import SandboxStore

AGENCIES = ("health", "education", "ngo")
STATS_PATH = "/_sandbox/stats"
MAX_BODY = 16 * 1024 * 1024
log = logging.getLogger("sandbox.server")


class Agency(Protocol):
    """What an agency module provides to the HTTP layer."""

    name: str

    def fault_kinds(self, request: Request) -> tuple[FaultKind, ...]: ...
    def admit(self, request: Request) -> Reply | None: ...
    def unavailable(self, fault: Fault) -> Reply: ...
    def handle(self, request: Request, fault: Fault | None) -> Reply: ...


class AgencyServer(ThreadingHTTPServer):
    """One agency on one port; keeps its open connections so :meth:`stop` can cut idle keep-alives."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], agency: Agency, injector: FaultInjector,
                 store: SandboxStore) -> None:
        self.agency, self.injector, self.store = agency, injector, store
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, AgencyHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a client hanging up mid-answer is routine here.
        log.debug("%s: connection error", self.agency.name, exc_info=True)

    def stop(self) -> None:
        """Stop accepting, close the port, and end open connections (a client's pooled one included)."""
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the other side
                connection.shutdown(socket.SHUT_RDWR)

    def respond(self, request: Request) -> tuple[Reply, Fault | None]:
        """The reply to ``request`` and the fault to apply while sending it."""
        if request.path == STATS_PATH:
            return json_reply(200, self.stats()), None
        refused = self.agency.admit(request)
        if refused is not None:
            return refused, None
        fault = self.injector.draw(self.agency.fault_kinds(request))
        if fault is not None and fault.kind is FaultKind.UNAVAILABLE:
            return self.agency.unavailable(fault), fault
        return self.agency.handle(request, fault), fault

    def stats(self) -> dict[str, Any]:
        """``/_sandbox/stats``: the agency, the night served, requests and fault counts."""
        return {"agency": self.agency.name, "night": self.store.config().night, **self.injector.stats()}


class AgencyHandler(BaseHTTPRequestHandler):
    """Reads a request into a :class:`Request`, asks the server, writes the reply (faults included)."""

    protocol_version = "HTTP/1.1"
    server_version = "SandboxAgency/1.0"
    timeout = 120  # an idle keep-alive connection is closed after two minutes
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add 40 ms
    server: AgencyServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        request = self._read_request()
        if isinstance(request, Reply):
            self._send(request, None)
            return
        reply, fault = self.server.respond(request)
        self._send(reply, fault)

    def _read_request(self) -> Request | Reply:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return json_reply(411, {"error": "length_required", "message": "send a Content-Length"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            return json_reply(413, {"error": "bad_length", "message": f"a Content-Length of 0..{MAX_BODY}"})
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return Request(
            method=self.command, path=url.path, query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            client=self.client_address[0], base_url=f"http://{host}",
        )

    def _send(self, reply: Reply, fault: Fault | None) -> None:
        if fault is not None and fault.kind is FaultKind.SLOW:
            time.sleep(fault.delay)
        body = reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if fault is not None and fault.kind is FaultKind.TRUNCATED:
            # The promised length is not kept: part of the body, then the connection goes down.
            body = body[:min(len(body) - 1, max(1, int(len(body) * fault.keep)))]
            self.close_connection = True
        self.wfile.write(body)
        self.wfile.flush()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path without its query (cursors and tokens carry record ids) and status: nothing personal.
        log.info("%s %s %s %s", self.server.agency.name, self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes every request line, query included, to stderr; errors are logged bare instead.
        log.debug("%s: %s", self.server.agency.name, "protocol error or timeout")


@dataclass
class RunningServers:
    """The servers :func:`serve` started: their ``ports``, ``urls``, and :meth:`stop`."""

    ports: dict[str, int]
    host: str
    servers: dict[str, AgencyServer] = field(repr=False)
    threads: list[threading.Thread] = field(repr=False)

    @property
    def urls(self) -> dict[str, str]:
        """``http://host:port`` of each agency."""
        return {name: f"http://{self.host}:{port}" for name, port in self.ports.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """What ``/_sandbox/stats`` would answer on each port."""
        return {name: server.stats() for name, server in self.servers.items()}

    def stop(self) -> None:
        """Stop all three servers and wait for their threads (safe to call twice)."""
        for server in self.servers.values():
            server.stop()
        for thread in self.threads:
            thread.join(timeout=5)
        self.servers, self.threads = {}, []

    def __enter__(self) -> RunningServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    data_dir: Path | str, faults: float = 0.0, host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None, seed: int | None = None, *,
    rate_limit: float = DEFAULT_RATE_LIMIT, slow_max: float = DEFAULT_SLOW_MAX,
) -> RunningServers:
    """Serve the sandbox ``data_dir`` as the three agencies, in background threads; return the handle.

    ``ports`` maps agency → port (missing or 0: an ephemeral port). ``faults`` is the fault rate (0..1), drawn
    from ``seed`` (default: the sandbox's seed) per agency; ``slow_max`` bounds a slow answer in seconds;
    ``rate_limit`` is the NGO's requests per second per client (0: off). Raises ``FileNotFoundError`` if
    ``data_dir`` is not a sandbox.
    """
    store = SandboxStore(Path(data_dir))
    seed = store.config().seed if seed is None else seed
    servers: dict[str, AgencyServer] = {}
    try:
        for name in AGENCIES:
            injector = FaultInjector(faults, f"{seed}:{name}", slow_max=slow_max,
                                     retry_after=name != "education")
            agency = _agency(name, store, injector, rate_limit)
            servers[name] = AgencyServer((host, (ports or {}).get(name, 0)), agency, injector, store)
    except BaseException:
        for server in servers.values():
            server.server_close()
        raise
    # A short poll interval so that stop() returns at once (the default 0.5 s adds up over many restarts).
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), name=f"sandbox-{n}", daemon=True)
               for n, s in servers.items()]
    for thread in threads:
        thread.start()
    bound = {name: int(server.server_address[1]) for name, server in servers.items()}
    log.info("sandbox agencies on %s: %s", host, json.dumps(bound))
    return RunningServers(bound, host, servers, threads)


def _agency(name: str, store: SandboxStore, injector: FaultInjector, rate_limit: float) -> Agency:
    if name == "health":
        return HealthAgency(store, injector)
    if name == "ngo":
        return NgoAgency(store, injector, rate_limit)
    return EducationAgency(store, injector)

"""Airflow's own processes, started and stopped as a group: what a real deployment runs, on loopback.

``Stack`` starts each part (``airflow scheduler``, ``dag-processor``, ``triggerer``, ``api-server``, Celery
workers) in its own process group with its output in ``<work>/logs/<name>.log``, checks they are alive
while waiting, and stops them all (SIGTERM, then SIGKILL). Used by ``hub.scheduled`` (the demo's scheduled
night on LocalExecutor) and ``hub.celery_check`` (the scale-out check on CeleryExecutor).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A port free now, below Linux's ephemeral range (32768+): an ephemeral one may be taken by an outgoing
    connection's source port before the API server binds it, which happened here."""
    for _ in range(200):
        port = secrets.randbelow(10_000) + 20_000
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


@dataclass
class Stack:
    """The processes of one run, their logs, and how to stop them."""

    work: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str], extra: dict[str, str] | None = None) -> None:
        """Start ``args`` in its own process group with output to ``<work>/logs/<name>.log``."""
        log = self.log(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.procs[name] = subprocess.Popen(args, env={**self.env, **(extra or {})}, stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, name: str) -> Path:
        return self.work / "logs" / f"{name}.log"

    def alive(self, name: str) -> None:
        """Raise if ``name`` has exited (with the end of its log)."""
        code = self.procs[name].poll()
        if code is not None:
            tail = self.log(name).read_text("utf-8", "replace")[-3000:]
            raise RuntimeError(f"{name} exited with code {code}:\n{tail}")

    def wait(self, what: str, check: Callable[[], bool], names: list[str], timeout: float = 120) -> None:
        """Poll ``check`` until it holds; raise when one of ``names`` dies or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not check():
            for name in names:
                self.alive(name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM every process group started here (their task processes with them), then KILL."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def execution_api_up(port: int) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/execution/health", timeout=2).status_code < 500
    except requests.RequestException:
        return False

"""Fixtures of the workspace over a real registry (registered in tests/conftest.py): sandbox agencies on
loopback → pulls → reconcile → ``hub web`` served by uvicorn on a free loopback port, with one user of each
role. Built once per test process, shared by tests/web and tests/security."""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from hub.airflow_stack import free_port
from matching.reconcile import reconcile
from registry import web_users
from registry.db import connect
from tests.worlds import pull_all, sandbox_region
from web.app import create_app
from web.auth import hash_password

ROLES = ("steward", "auditor", "manager", "operator")


@dataclass
class Workspace:
    base: str
    database_url: str
    sandbox: Path

    def password(self, role: str) -> str:
        return f"{role}-pass-{self.base[-5:]}"

    def session(self, role: str) -> requests.Session:
        """A browser-like session signed in as the user of ``role``."""
        s = requests.Session()
        r = s.post(f"{self.base}/login", data={"csrf": self.csrf(s, "/login"), "username": role,
                                               "password": self.password(role), "next": ""})
        assert r.status_code == 200, (role, r.status_code)
        assert "/login" not in r.url, (role, r.url)
        return s

    def new_user(self, username: str, role: str, password: str) -> requests.Session:
        """Create (or reset) a user and return a session signed in as them."""
        with connect(self.database_url) as conn:
            web_users.save_user(conn, username, role, None, hash_password(password))
        s = requests.Session()
        s.post(f"{self.base}/login", data={"csrf": self.csrf(s, "/login"), "username": username,
                                           "password": password})
        return s

    def csrf(self, s: requests.Session, path: str) -> str:
        page = s.get(f"{self.base}{path}")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with connect(self.database_url) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return list(cur.fetchall())


@pytest.fixture(scope="session")
def web_registry(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    sandbox = tmp_path_factory.mktemp("web") / "sbx"
    with sandbox_region(pg_server_url, sandbox, 320, seed=41, prefix="hub_web") as url:
        pull_all(url)
        reconcile(url)
        yield url, sandbox


@pytest.fixture(scope="session")
def workspace(web_registry: tuple[str, Path]) -> Iterator[Workspace]:
    url, sandbox = web_registry
    port = free_port()
    ws = Workspace(f"http://127.0.0.1:{port}", url, sandbox)
    with connect(url) as conn:
        for role in ROLES:
            web_users.save_user(conn, role, role, None, hash_password(ws.password(role)))
    # The secret is read once, when the app is made; the environment is put back at once, because it is
    # this worker's for the rest of the session (a changed HUB_HOME would move the audit keys and
    # checkpoints of every later test in it).
    saved = dict(os.environ)
    os.environ["HUB_WEB_SECRET"] = secrets.token_urlsafe(40)
    try:
        app = create_app(database_url=url)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the workspace did not start"
    try:
        yield ws
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def open_review(ws: Workspace, skip: set[int] | None = None, status: str = "open") -> int:
    """A review item (open, unless ``status`` is ``any``) that has a per-comparison explanation."""
    rows = ws.sql("SELECT review_id FROM review_item WHERE (status = %s OR %s = 'any') "
                  "AND explanation ? 'prior_weight' ORDER BY review_id", status, status)
    ids = [r[0] for r in rows if r[0] not in (skip or set())]
    assert ids, "the sandbox night left no review item"
    return int(ids[0])


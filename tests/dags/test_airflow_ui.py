"""``make airflow`` (``hub airflow standalone``): UI and REST API on 127.0.0.1 with the hub's DAGs.

A real standalone Airflow (api-server, scheduler, dag-processor, triggerer) over a fresh metadata database:
the test waits for ``/api/v2/version``, signs in with the generated admin password, lists the DAGs through
the REST API and stops the whole process group.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, deadline: float, proc: subprocess.Popen[bytes]) -> requests.Response:
    while time.monotonic() < deadline:
        assert proc.poll() is None, "standalone exited"
        try:
            answer = requests.get(url, timeout=5)
            if answer.status_code == 200:
                return answer
        except requests.ConnectionError:
            pass
        time.sleep(2)
    raise AssertionError(f"{url} did not answer in time")


def _the_workspace_is_mounted(base: str, token: str, database_url: str) -> None:
    """hub web inside the api-server at /hub (web/plugin.py), linked from Airflow's menu, signing in."""
    from registry import web_users
    from registry.db import connect
    from web.auth import hash_password

    plugins = requests.get(f"{base}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"},
                           timeout=10).json()["plugins"]
    hub = next(p for p in plugins if p["name"] == "family_hub")
    assert hub["external_views"][0]["href"] == "hub/"
    with connect(database_url) as conn:
        web_users.save_user(conn, "airflow-operator", "operator", None, hash_password("operator-in-airflow"))
    s = requests.Session()
    form = s.get(f"{base}/hub/login", timeout=30)
    assert form.status_code == 200
    token_field = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token_field, form.text[:300]
    assert f'action="{base}/hub/login"' in form.text, "links inside the workspace miss the /hub prefix"
    page = s.post(f"{base}/hub/login", timeout=30, data={
        "csrf": token_field.group(1), "username": "airflow-operator", "password": "operator-in-airflow"})
    assert page.status_code == 200
    assert page.url == f"{base}/hub/operator"


def test_make_airflow_serves_the_ui_and_api_on_loopback(tmp_path: Path, database_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_HOME": str(tmp_path / "hub"),
           "AIRFLOW__API__PORT": str(port), "PATH": "/usr/bin:/bin"}  # no venv on PATH: the hub adds it
    env.pop("AIRFLOW_HOME", None)
    log = (tmp_path / "standalone.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "hub", "airflow", "standalone"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        version = _wait(f"{base}/api/v2/version", time.monotonic() + 240, proc).json()
        assert version["version"].startswith("3.3")
        passwords = tmp_path / "hub" / "airflow" / "simple_auth_manager_passwords.json.generated"
        deadline = time.monotonic() + 60
        while not passwords.exists() and time.monotonic() < deadline:
            time.sleep(1)
        password = json.loads(passwords.read_text("utf-8"))["admin"]
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password},
                              timeout=10).json()["access_token"]
        dags: set[str] = set()
        deadline = time.monotonic() + 180
        while not {"push", "reconcile", "registry_maintenance"} <= dags and time.monotonic() < deadline:
            answer = requests.get(f"{base}/api/v2/dags", headers={"Authorization": f"Bearer {token}"},
                                  params={"limit": 100}, timeout=10)
            assert answer.status_code == 200, answer.text[:300]
            dags = {d["dag_id"] for d in answer.json()["dags"]}
            time.sleep(2)
        assert {"push", "reconcile", "registry_maintenance", "pull_ngo"} <= dags
        _the_workspace_is_mounted(base, token, database_url)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    printed = (tmp_path / "standalone.log").read_text("utf-8", "replace")
    assert f"Airflow UI: http://127.0.0.1:{port}" in printed

"""The scale-out path (``docker/``): the compose file's shape; ``docker compose config`` when a client exists.

No container runs here (no Docker engine); ``config`` parses and interpolates the file without one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return data


def _env_example() -> dict[str, str]:
    pairs = (ln.split("=", 1) for ln in ENV_EXAMPLE.read_text("utf-8").splitlines()
             if ln.strip() and not ln.startswith("#"))
    return {k: v for k, v in pairs}


def test_the_services_of_airflows_compose_plus_the_hubs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {*AIRFLOW_SERVICES, "postgres", "redis", "registry", "sandbox"} <= set(services)
    assert services["airflow-worker"]["deploy"]["replicas"] == 2
    assert services["airflow-worker"]["command"].startswith("celery worker")
    assert services["sandbox"]["entrypoint"] == ["python", "-m", "sandbox.server"]
    assert services["sandbox"]["command"][:4] == ["--data", "/data", "--host", "0.0.0.0"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["HUB_DATABASE_URL"].startswith("postgresql://hub:"), name


def test_every_configured_agency_has_its_connection(compose: dict[str, Any]) -> None:
    from connectors.config import load_sources
    from connectors.connections import env_var

    env = compose["services"]["airflow-worker"]["environment"]
    for source in load_sources().values():
        assert env_var(source.connection_id) in env, source.code


def test_every_variable_the_compose_file_uses_is_in_the_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE.read_text("utf-8")))  # $${X}: the shell's
    assert used <= set(_env_example()), used - set(_env_example())


def test_the_image_installs_the_pins_and_runs_airflow() -> None:
    text = (DOCKER / "Dockerfile").read_text("utf-8")
    assert "\nFROM apache/airflow:3.3.2-python3.11\n" in text  # the official image and its entrypoint
    assert "ENTRYPOINT" not in text
    assert "pip install --no-cache-dir -r requirements.txt -c constraints.txt" in text
    assert ".venv" in (DOCKER / "Dockerfile.dockerignore").read_text("utf-8")


def _compose_client() -> list[str] | None:
    """``docker compose`` (v2 plugin) if it answers, else ``docker-compose`` (v1), else None."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 check=False).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


CLIENT = _compose_client()


@pytest.mark.skipif(CLIENT is None, reason="no docker compose client")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    assert CLIENT is not None
    clean = {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # no AIRFLOW_… or HUB_… of ours leaking into the file
    run = subprocess.run([*CLIENT, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config"],
                         capture_output=True, text=True, check=False, env=clean)
    assert run.returncode == 0, run.stderr
    resolved = yaml.safe_load(run.stdout)
    env = resolved["services"]["airflow-worker"]["environment"]
    ngo = json.loads(env["AIRFLOW_CONN_NGO_API"])  # interpolated into valid JSON
    assert (ngo["host"], ngo["password"]) == ("sandbox", _env_example()["SANDBOX_NGO_API_KEY"])

    empty = tmp_path / "empty.env"
    empty.write_text("", "utf-8")
    refused = subprocess.run([*CLIENT, "-f", str(COMPOSE), "--env-file", str(empty), "config"],
                             capture_output=True, text=True, check=False, env=clean)
    assert refused.returncode != 0
    assert "AIRFLOW_DB_PASSWORD" in refused.stderr  # secrets are required, never defaulted

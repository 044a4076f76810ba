"""The ``hub`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.schemas.test_models import PERSON

VALID_SNILS = ["112-233-445 95", "056-860-671 92", "877-594-608 92"]


def _run(cmd: list[str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=full_env, timeout=120,
                          check=False)


def _person_file(tmp_path: Path, snils: str) -> Path:
    doc: dict[str, Any] = {**PERSON, "identifiers": [{"kind": "snils", "value": snils}]}
    path = tmp_path / "person.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return path


def test_help_lists_the_commands(hub_cli: list[str]) -> None:
    result = _run(hub_cli, "--help")
    assert result.returncode == 0
    for name in ("db", "schemas", "validate", "demo"):
        assert name in result.stdout


@pytest.mark.parametrize("snils", VALID_SNILS)
def test_validate_accepts_the_valid_examples(hub_cli: list[str], tmp_path: Path, snils: str) -> None:
    result = _run(hub_cli, "validate", "person", str(_person_file(tmp_path, snils)), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["valid"] is True


def test_validate_rejects_a_wrong_checksum(hub_cli: list[str], tmp_path: Path) -> None:
    result = _run(hub_cli, "validate", "person", str(_person_file(tmp_path, "112-233-445 96")), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"][0]["field"] == "identifiers.0.value"
    assert "checksum" in report["errors"][0]["error"]
    assert "112" not in result.stdout


def test_validate_text_output_and_bad_json(hub_cli: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"family_name": "Ив', "utf-8")
    result = _run(hub_cli, "validate", "family", str(bad))
    assert result.returncode == 1
    assert "not readable JSON at line 1" in result.stdout


def test_schemas_export(hub_cli: list[str], tmp_path: Path) -> None:
    result = _run(hub_cli, "schemas", "export", "--out", str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["written"]) == 7
    assert (tmp_path / "out" / "case.schema.json").exists()


def test_db_commands_on_the_test_server(hub_cli: list[str], empty_database_url: str) -> None:
    env = {"HUB_DATABASE_URL": empty_database_url}
    assert _run(hub_cli, "db", "url", env=env).stdout.strip() == empty_database_url
    first = json.loads(_run(hub_cli, "db", "upgrade", "--json", env=env).stdout)
    assert first["applied"]
    assert first["run_id"] == 1
    again = _run(hub_cli, "db", "upgrade", env=env)
    assert again.returncode == 0
    assert "up to date" in again.stdout
    status = json.loads(_run(hub_cli, "db", "status", "--json", env=env).stdout)
    assert status["pending"] == []
    assert status["rows"]["run"] == 2


def test_unreachable_database_fails_cleanly(hub_cli: list[str]) -> None:
    env = {"HUB_DATABASE_URL": "postgresql://hub:s3cret@127.0.0.1:1/nowhere"}
    result = _run(hub_cli, "db", "upgrade", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to the registry database")
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr


def test_embedded_server_is_started_and_reused(hub_cli: list[str], tmp_path: Path) -> None:
    env = {"HUB_DATABASE_URL": "", "HUB_HOME": str(tmp_path / "home")}
    try:
        first = _run(hub_cli, "db", "url", env=env)
        assert first.returncode == 0, first.stderr
        assert str(tmp_path / "home" / "pgdata") in first.stdout
        upgraded = _run(hub_cli, "db", "upgrade", "--json", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert json.loads(upgraded.stdout)["applied"]
        assert _run(hub_cli, "db", "url", env=env).stdout == first.stdout
    finally:
        _stop_embedded(tmp_path / "home" / "pgdata")


def _stop_embedded(pgdata: Path) -> None:
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)

"""``HubSettings``: every ``HUB_*`` variable typed in one place, read when asked, errors without values."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from schemas.settings import PROJECT_ROOT, SettingsError, settings


def test_unset_and_empty_variables_take_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_SOURCES", "")
    got = settings()
    assert (got.database_url, got.alert_to, got.debug, got.actor) == (None, [], False, None)
    assert got.sources_file == PROJECT_ROOT / "config" / "sources.yaml"
    assert got.home_dir == (PROJECT_ROOT / ".hub").resolve()


def test_values_are_typed_and_read_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUB_ALERT_TO", " ops@region.example, ,duty@region.example ")
    monkeypatch.setenv("HUB_DEBUG", "1")
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    got = settings()
    assert got.alert_to == ["ops@region.example", "duty@region.example"]
    assert got.debug is True
    assert got.home_dir == tmp_path.resolve()
    monkeypatch.setenv("HUB_DEBUG", "0")
    assert settings().debug is False  # not cached: a DAG task or a test sees the variable as it is now


@pytest.mark.parametrize(("name", "value"), [("HUB_DEBUG", "perhaps-s3cret"),
                                             ("HUB_DATABASE_URL", "mysql://hub:s3cret@127.0.0.1/x")])
def test_a_malformed_variable_is_named_without_its_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        settings()
    assert str(err.value).startswith(f"{name}: ")
    assert "s3cret" not in str(err.value)


def test_the_cli_reports_a_malformed_setting_in_one_line(hub_cli: list[str]) -> None:
    done = subprocess.run([*hub_cli, "db", "status"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HUB_ALERT_TO": "x", "HUB_DATABASE_URL": "sqlite:///s3cret.db"},
                          check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: HUB_DATABASE_URL: String should match pattern '^postgres(ql)?://'"], done.stderr

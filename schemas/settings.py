"""The hub's settings, in one place: every ``HUB_*`` environment variable, typed (pydantic-settings).

Settings are read when asked (``settings()``), not at import, so a test or a DAG task that sets a variable
sees it, and a DAG file can be parsed with no variable set (one validation per distinct ``HUB_*``
environment: cheap enough for per-record code). A malformed value is a ``SettingsError``
naming the variable and what it expects, never the value itself (a URL may hold a password).

It lives in ``schemas`` for the reason the exception tree does: every package may import it.

| variable | meaning | default |
|---|---|---|
| ``HUB_DATABASE_URL`` | the registry's PostgreSQL | an embedded pgserver under ``HUB_HOME`` |
| ``HUB_HOME`` | the hub's working folder (database, logs, audit keys) | ``.hub`` in the project |
| ``HUB_SOURCES`` | the sources file | ``config/sources.yaml`` |
| ``HUB_MODELS_DIR`` | where ``hub matching train`` writes fitted models | the shipped model only |
| ``HUB_AUDIT_KEY`` | the audit signing key | under ``HUB_HOME/audit`` |
| ``HUB_AUDIT_CHECKPOINTS`` | the audit checkpoint file | under ``HUB_HOME/audit`` |
| ``HUB_ACTOR`` | who a CLI user declares they are (recorded beside the OS user) | none |
| ``HUB_ALERT_TO`` | alert e-mail recipients, comma-separated | none |
| ``HUB_ALERT_FROM`` | the alerts' sender | family-hub@localhost |
| ``HUB_DEBUG`` | ``1``: the CLI shows tracebacks | off |
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.errors import HubError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(HubError):
    """A ``HUB_*`` variable holds a value of the wrong shape."""


class HubSettings(BaseSettings):
    """Every ``HUB_*`` variable (an empty variable counts as unset)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", env_ignore_empty=True,
                                      frozen=True)

    database_url: str | None = Field(default=None, pattern=r"^postgres(ql)?://",
                                     description="postgresql://user@host:port/db")
    home: Path | None = None
    sources: Path | None = None
    models_dir: Path | None = None
    audit_key: Path | None = None
    audit_checkpoints: Path | None = None
    actor: str | None = None
    alert_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alert_from: str = "family-hub@localhost"
    debug: bool = False
    web_secret: str | None = Field(default=None, min_length=32,
                                   description="signs the workspace's session cookie (else .hub/web-secret)")
    web_secure_cookies: bool = False  # True behind HTTPS: the session cookie is then never sent over HTTP
    airflow_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://",
                             description="the Airflow UI the workspace links runs to")
    web_session_hours: int = Field(default=8, ge=1, le=24)

    @field_validator("alert_to", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def home_dir(self) -> Path:
        return (self.home or PROJECT_ROOT / ".hub").resolve()

    @property
    def sources_file(self) -> Path:
        return self.sources or PROJECT_ROOT / "config" / "sources.yaml"


def settings() -> HubSettings:
    """The settings as the environment says now; ``SettingsError`` names a malformed variable.

    Read for every distinct ``HUB_*`` environment: a test or a task that sets a variable sees it, and code
    that asks for a setting per record (standardisation) pays a dictionary scan, not a validation.
    """
    return _settings(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("HUB_"))))


@lru_cache(maxsize=64)
def _settings(_environment: tuple[tuple[str, str], ...]) -> HubSettings:
    try:
        return HubSettings()
    except ValidationError as exc:
        wrong = [f"HUB_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                 for e in exc.errors(include_input=False)]
        raise SettingsError("; ".join(wrong)) from None

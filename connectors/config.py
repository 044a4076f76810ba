"""The sources config (``config/sources.yaml``): which agency systems the hub pulls, how, with which mapping.

Adding a source is data only: a mapping in ``mappings/``, an entry here, and its Airflow Connection
(``AIRFLOW_CONN_<CONNECTION_ID>``). Paths are relative to the project root.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.errors import ConnectionConfigError
from registry.db import PROJECT_ROOT
from schemas.settings import settings

PUSH_FIELDS = ("registry_person_id", "registry_family_id", "accompaniment_status", "disability_status")
HEALTH_FIELDS = frozenset({"disability_status"})
"""Fields derived from health and disability data: never disclosed without a consent (152-FZ art. 10)."""


class FieldPolicy(BaseModel):
    """The legal basis on which one field is disclosed to an agency.

    ``law_442fz``: interagency social accompaniment under Federal Law 442-FZ (the agencies of the
    interagency working group exchange what accompaniment needs). ``consent``: only under an active consent
    of the person (or their legal representative) that names this agency and ``purpose``.
    """

    model_config = ConfigDict(extra="forbid")

    basis: Literal["law_442fz", "consent"] = "law_442fz"
    purpose: str | None = Field(default=None, description="The consent purpose code that must match.")

    @model_validator(mode="after")
    def _purpose(self) -> FieldPolicy:
        if self.basis == "consent" and not self.purpose:
            raise ValueError("a consent basis names the purpose the consent must be for")
        return self


class PushConfig(BaseModel):
    """What the hub may send back to this agency, and how."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["smev_xml", "json", "file_xml"]
    fields: dict[str, FieldPolicy] = Field(
        description="The only fields this agency is entitled to receive, each with its legal basis "
        "(a plain list means law_442fz for each)."
    )
    endpoint: str | None = None
    max_attempts: int = 5
    record_pattern: str | None = Field(
        default=None, description="Only source records whose id matches ('^STU-': students, not parents)."
    )
    batch_size: int = 500

    @field_validator("fields", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return {name: {} for name in value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _bases(self) -> PushConfig:
        unknown = sorted(set(self.fields) - set(PUSH_FIELDS))
        if unknown:
            raise ValueError(f"unknown push field(s) {', '.join(unknown)}; known: {', '.join(PUSH_FIELDS)}")
        for name in sorted(HEALTH_FIELDS & set(self.fields)):
            if self.fields[name].basis != "consent":
                raise ValueError(f"{name} is derived from health data: its basis must be consent")
        return self


class SourceConfig(BaseModel):
    """One agency system."""

    model_config = ConfigDict(extra="forbid")

    code: str = ""
    agency: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$",
                        description="The agency's code: any, a new agency needs nothing else")
    agency_name: str | None = Field(default=None, description="The agency's name (Russian), for people")
    trust_rank: int | None = Field(
        default=None, ge=0,
        description="Survivorship: where this source stands when config/survivorship.yaml does not list it "
                    "(lower = more trusted; placed after the listed sources). Unset: last, with a warning.")
    name: str
    connector: Literal["file_drop", "fhir", "rest_cursor", "smev"]
    connection_id: str
    mapping: str
    schedule: str = "0 1 * * *"
    validation: Literal["strict", "lenient"] = "strict"
    xsd: dict[str, str] = Field(default_factory=dict, description="root namespace URI → XSD path")
    options: dict[str, Any] = Field(default_factory=dict)
    quarantine_threshold: float = 0.05
    push: PushConfig | None = None

    @model_validator(mode="after")
    def _typed_options(self) -> SourceConfig:
        from connectors.options import options_model

        try:
            options_model(self.connector).model_validate(self.options)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(options)"
            known = ", ".join(sorted(options_model(self.connector).model_fields))
            message = f"options.{where}: {first['msg']} (a {self.connector} source takes {known})"
            raise ValueError(message) from None
        return self

    @property
    def typed_options(self) -> Any:
        """``options`` as the connector's options model (defaults from its ``settings.py``)."""
        from connectors.options import options_model

        return options_model(self.connector).model_validate(self.options)

    @property
    def mapping_path(self) -> Path:
        return PROJECT_ROOT / self.mapping

    def xsd_paths(self) -> dict[str, Path]:
        return {ns: PROJECT_ROOT / p for ns, p in self.xsd.items()}


def sources_path() -> Path:
    return settings().sources_file


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConnectionConfigError(f"{path.name}: cannot be read as YAML ({type(exc).__name__})") from None


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, SourceConfig]:
    raw = _read_yaml(path)
    entries = raw.get("sources") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise ConnectionConfigError(f"{path.name}: expected a 'sources:' mapping of source code → entry")
    sources = {}
    for code, entry in sorted(entries.items(), key=lambda kv: str(kv[0])):
        try:
            sources[str(code)] = SourceConfig.model_validate({**(entry or {}), "code": str(code)})
        except (ValidationError, TypeError) as exc:
            raise ConnectionConfigError(f"{path.name}: sources.{code}: {_problems(exc)}") from None
    return sources


def _problems(exc: Exception) -> str:
    """Pydantic's errors as ``field: message`` (never the input value, which its default text quotes)."""
    if not isinstance(exc, ValidationError):
        return "each source must be a mapping of settings"
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(entry)'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


def load_sources(path: Path | None = None) -> dict[str, SourceConfig]:
    """All configured sources by code, in sorted order (DAGs are generated in this order)."""
    return _load(path or sources_path())


class NightlyConfig(BaseModel):
    """When the night's reconcile runs without waiting any longer for late sources."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "Europe/Moscow"
    reconcile_deadline: str = "0 6 * * *"
    run_deadline_minutes: float = Field(
        default=120, gt=0,
        description="A night DAG run not finished this long after it was queued sends a deadline alert.")
    resolved_quarantine_retention_days: int = 730


def load_nightly(path: Path | None = None) -> NightlyConfig:
    raw = yaml.safe_load((path or sources_path()).read_text("utf-8")) or {}
    return NightlyConfig.model_validate(raw.get("nightly") or {})


def source_for_mapping(mapping_source: str) -> SourceConfig | None:
    """The configured source whose code is ``mapping_source``, if any."""
    return load_sources().get(mapping_source)


class SharedIdentifier(BaseModel):
    """An identifier several agencies carry for the same person (``shared_identifiers:`` in sources.yaml).

    Mappings send it as ``{kind: local, system: <system>, value: …}``. When ``trusted``, two records with
    the same value link by rule (the birth-date guard of SNILS applies); a value that does not match
    ``pattern`` (the issuer's format) is not evidence.
    """

    model_config = ConfigDict(extra="forbid")

    system: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str | None = Field(default=None, description="What the number is, e.g. 'regional social id'.")
    pattern: str | None = Field(default=None, description="A regular expression the whole value must match.")
    trusted: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            import re

            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


@lru_cache(maxsize=4)
def _shared(path: Path) -> dict[str, SharedIdentifier]:
    raw = _read_yaml(path)
    entries = (raw.get("shared_identifiers") if isinstance(raw, dict) else None) or []
    if not isinstance(entries, list):
        raise ConnectionConfigError(f"{path.name}: shared_identifiers is a list of identifier systems")
    try:
        declared = [SharedIdentifier.model_validate(e) for e in entries]
    except (ValidationError, TypeError) as exc:
        raise ConnectionConfigError(f"{path.name}: shared_identifiers: {_problems(exc)}") from None
    return {d.system: d for d in declared}


def load_shared_identifiers(path: Path | None = None) -> dict[str, SharedIdentifier]:
    """The identifier systems declared shared across sources, by system."""
    return _shared(path or sources_path())

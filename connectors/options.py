"""Typed ``options`` of each connector kind: a typo in ``config/sources.yaml`` is an error, not ignored.

Each connector's ``settings.py`` holds its defaults and its options model (``extra="forbid"``); this module
only says which model belongs to which kind. The HTTP connectors share the retry options of the HTTP base.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConnectorOptions(BaseModel):
    """Base of every connector's options: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class HttpOptions(ConnectorOptions):
    """Retries of the HTTP base (connectors.http): attempts per request and the first backoff."""

    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_initial: float = Field(default=0.5, gt=0, le=60)


def options_model(connector: str) -> type[ConnectorOptions]:
    """The options model of a connector kind."""
    from connectors.fhir.settings import FhirOptions
    from connectors.file_drop.settings import FileDropOptions
    from connectors.rest_cursor.settings import RestCursorOptions
    from connectors.smev.settings import SmevOptions

    models: dict[str, type[ConnectorOptions]] = {
        "file_drop": FileDropOptions, "fhir": FhirOptions, "rest_cursor": RestCursorOptions,
        "smev": SmevOptions,
    }
    return models[connector]

"""Defaults and options of the FHIR connector."""

from pydantic import Field

from connectors.options import HttpOptions

RESOURCES = ("Patient", "RelatedPerson", "Condition", "Procedure")
PAGE_SIZE = 200
BASE_PATH = "/fhir"


class FhirOptions(HttpOptions):
    """``resources`` to search, in order; ``page_size`` (``_count``)."""

    resources: list[str] = Field(default_factory=lambda: list(RESOURCES), min_length=1)
    page_size: int = Field(default=PAGE_SIZE, ge=1, le=10_000)

"""Defaults of the FHIR connector."""

RESOURCES = ("Patient", "RelatedPerson", "Condition", "Procedure")
PAGE_SIZE = 200
BASE_PATH = "/fhir"

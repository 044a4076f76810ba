"""Message bodies in each agency's own format: JSON for REST, a SMEV crosswalk, an XML file for file drops."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

STUDENTS_NS = "urn://region-education/students/1.0"
FILE_NS = "urn://region-hub/registry-links/1.0"


def json_body(target: str, entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"target": target, "links": entries}, ensure_ascii=False, sort_keys=True).encode()


def smev_crosswalk(entries: list[dict[str, Any]]) -> bytes:
    """A ``RegistryIdCrosswalk`` payload (education's XSD): StudentID → RegistryPersonID (+ status)."""
    root = etree.Element(
        f"{{{STUDENTS_NS}}}RegistryIdCrosswalk",
        nsmap={None: STUDENTS_NS},
        createdAt=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    for entry in entries:
        link = etree.SubElement(root, f"{{{STUDENTS_NS}}}Link")
        etree.SubElement(link, f"{{{STUDENTS_NS}}}StudentID").text = entry["source_record_id"]
        etree.SubElement(link, f"{{{STUDENTS_NS}}}RegistryPersonID").text = entry["registry_person_id"]
        if entry.get("accompaniment_status"):
            etree.SubElement(link, f"{{{STUDENTS_NS}}}AccompanimentStatus").text = entry[
                "accompaniment_status"
            ]
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def file_xml(target: str, entries: list[dict[str, Any]]) -> bytes:
    """The hub's own registry-links file for agencies that exchange files."""
    root = etree.Element(f"{{{FILE_NS}}}registryLinks", nsmap={None: FILE_NS}, target=target)
    for entry in entries:  # a field with no value (withheld, retracted) is written empty, not left out
        attrs = {_camel(k): "" if v is None else str(v) for k, v in entry.items()}
        etree.SubElement(root, f"{{{FILE_NS}}}link", attrs)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def smev_message_id(idempotency_key: str) -> str:
    """The SMEV MessageID of a message: derived from its idempotency key, so a resend is a duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:family-hub:outbox:{idempotency_key}"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)

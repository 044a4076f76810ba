"""Run a mapping over a sample file without touching the registry (``hub mapping run``, golden tests)."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from mapper.engine import Mapping
from mapper.readers import PayloadFailure, PayloadNote, SchemaFor, SourceRecord, read_json, read_xml
from mapper.tabular import read_csv, read_jsonl

_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=16)
def load_xsd(path: Path) -> Any:
    """A compiled XSD (imports resolved from its folder, never from the network)."""
    return etree.XMLSchema(etree.parse(str(path), _SAFE))


def schema_lookup(xsd_by_namespace: dict[str, Path]) -> SchemaFor:
    """Root namespace → compiled XSD, for ``read_xml``."""
    def schema_for(namespace: str) -> Any:
        path = xsd_by_namespace.get(namespace)
        return load_xsd(path) if path is not None else None
    return schema_for


def records_of(mapping: Mapping, path: Path, schema_for: SchemaFor | None = None,
               strict: bool = True) -> list[SourceRecord | PayloadFailure | PayloadNote]:
    """Every record (or payload failure) the mapping reads from the file at ``path``."""
    if mapping.format == "json":
        return list(read_json(path.read_bytes(), mapping))
    with path.open("rb") as stream:
        if mapping.format == "jsonl":
            return list(read_jsonl(stream, mapping))
        if mapping.format == "csv":
            return list(read_csv(stream, mapping))
        return list(read_xml(stream, mapping, schema_for, strict))


def run_sample(mapping: Mapping, path: Path, schema_for: SchemaFor | None = None,
               strict: bool = True) -> dict[str, Any]:
    """Canonical records, deletions and quarantine reasons for a sample file, as JSON-ready data."""
    out: dict[str, Any] = {"mapping": mapping.name, "version": mapping.version, "sample": path.name,
                           "records": [], "deletions": [], "quarantine": [], "warnings": [], "notes": []}
    counts: Counter[str] = Counter()
    for item in records_of(mapping, path, schema_for, strict):
        if isinstance(item, PayloadNote):
            out["notes"].append(item.message)
        elif isinstance(item, PayloadFailure):
            out["quarantine"].append({"pointer": "(payload)", "reason_code": item.reason_code,
                                      "reason": item.reason})
            counts["quarantined"] += 1
        elif item.xsd_errors and strict:
            out["quarantine"].append({"pointer": item.pointer, "reason_code": "xsd_violation",
                                      "reason": "; ".join(item.xsd_errors)})
            counts["quarantined"] += 1
        elif item.result.error is not None:
            err = item.result.error
            out["quarantine"].append({"pointer": item.pointer, "reason_code": err.reason_code,
                                      "reason": str(err)})
            counts["quarantined"] += 1
        else:
            for rec in item.result.records:
                out["records"].append(rec.record.model_dump(mode="json", exclude_none=True))
                counts[rec.kind] += 1
                out["warnings"] += [{"pointer": rec.raw_pointer, "warning": w}
                                    for w in item.warnings + rec.warnings]
            out["deletions"] += [{"kind": d.kind, "source_record_id": d.source_record_id}
                                 for d in item.result.deletions]
    out["counts"] = dict(sorted(counts.items()))
    return out

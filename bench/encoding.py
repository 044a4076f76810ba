"""``python -m bench.encoding --data SANDBOX``: false positives and detection of ``mapper.encoding``.

Every night-1 payload of a sandbox is mapped by its source's mapping (no database); for every canonical
record the check is run on its string values as the pipeline runs it (``misdecoding`` of the record):

* **false positives**: records flagged among the clean ones, per source (must be 0);
* **detection**: the same records with every non-ASCII value re-read through each code-page confusion
  (bytes in ``actual``, decoded as ``wrong``) and through UTF-8 read as windows-1251 / latin-1 — the share
  flagged, per confusion, over records that carry Cyrillic text;
* **speed**: values checked per second (cold cache: each distinct value once).

One JSON document goes to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mapper import load_mapping
from mapper.encoding import SINGLE_BYTE, misdecoding
from mapper.encoding import _reread as reread
from mapper.readers import SourceRecord, read_json, read_xml

ROOT = Path(__file__).resolve().parents[1]
MAC_VARIANTS = {"mac_cyrillic", "mac_cyrillic_old"}  # one code page, two editions: not a confusion


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def records(data: Path) -> Iterator[tuple[str, list[str]]]:
    """(source, the string values of one canonical record) for every record of night 1."""
    mappings = {code: load_mapping(ROOT / "mappings" / f"{code}.yaml")
                for code in ("social_protection", "education", "health", "ngo")}
    night = "night-0001"
    for path in sorted((data / "social_protection" / "drop").glob("SZN_*.xml")):
        with path.open("rb") as stream:
            items = read_xml(stream, mappings["social_protection"], None, False)
            yield from _mapped("social_protection", items)
    for path in sorted((data / "education" / night).glob("*.xml")):
        with path.open("rb") as stream:
            yield from _mapped("education", read_xml(stream, mappings["education"], None, False))
    for path in sorted((data / "health" / night).glob("*.ndjson")):
        entries = [{"resource": json.loads(line)} for line in path.read_text("utf-8").splitlines() if line]
        page = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries}).encode()
        yield from _mapped("health", read_json(page, mappings["health"]))
    for path in sorted((data / "ngo" / night).glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
        yield from _mapped("ngo", read_json(json.dumps({"data": rows, "next_cursor": None}).encode(),
                                            mappings["ngo"]))


def _mapped(source: str, items: Iterator[Any]) -> Iterator[tuple[str, list[str]]]:
    for item in items:
        if isinstance(item, SourceRecord) and item.result.error is None:
            for record in item.result.records:
                yield source, list(_strings(record.record.model_dump(mode="json", exclude_none=True)))


def confuse(values: list[str], wrong: str, actual: str) -> list[str] | None:
    """The values as they read when their ``actual`` bytes are decoded as ``wrong`` (None: not encodable)."""
    out = []
    for value in values:
        confused = value if value.isascii() else reread(value, actual, wrong)
        if confused is None:
            return None
        out.append(confused)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--confusion-sample", type=int, default=3000, help="records per confusion")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = list(records(args.data))
    mapped_seconds = time.perf_counter() - started
    distinct = {v for _, values in rows for v in values if not v.isascii()}
    started = time.perf_counter()
    flagged: dict[str, list[str]] = {}
    checked: dict[str, int] = {}
    for source, values in rows:
        checked[source] = checked.get(source, 0) + 1
        reason = misdecoding(values)
        if reason is not None:
            flagged.setdefault(source, []).append(reason)
    check_seconds = time.perf_counter() - started
    cyrillic = [values for _, values in rows if any(not v.isascii() for v in values)]
    step = max(1, len(cyrillic) // args.confusion_sample)
    sample = cyrillic[::step][: args.confusion_sample]
    pairs = [(w, a) for w in SINGLE_BYTE for a in SINGLE_BYTE if w != a and {w, a} != MAC_VARIANTS]
    pairs += [("cp1251", "utf_8"), ("latin_1", "utf_8"), ("cp1252", "utf_8")]
    detection = {}
    for wrong, actual in pairs:
        confused = [c for c in (confuse(v, wrong, actual) for v in sample) if c is not None]
        hits = sum(misdecoding(c) is not None for c in confused)
        detection[f"{actual} read as {wrong}"] = {"records": len(confused), "flagged": hits,
                                                   "rate": round(hits / max(1, len(confused)), 4)}
    print(json.dumps({
        "benchmark": "encoding", "data": str(args.data), "records": len(rows), "by_source": checked,
        "false_positives": {s: len(r) for s, r in flagged.items()},
        "false_positive_reasons": {s: sorted(set(r)) for s, r in flagged.items()},
        "distinct_non_ascii_values": len(distinct),
        "check_seconds": round(check_seconds, 3), "map_seconds": round(mapped_seconds, 3),
        "values_per_second_cold": round(len(distinct) / max(check_seconds, 1e-9)),
        "detection": detection,
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8")
    main()

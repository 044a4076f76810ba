"""Named field blocks: ``{use: name}`` in a field tree is replaced by the block when a mapping is loaded.

A block is a field tree under ``blocks:``. Where ``{use: person}`` stands, the block is copied in; the
other keys beside ``use`` override the block's keys of the same name (``{use: address, kind:
registration}``), and ``within`` makes the block's paths relative to a base node, so one block serves a
person at the record's top and a person inside a ``foreach``. Blocks may use other blocks; a cycle is an
error. Expanding before validation keeps the engine and the canonical checks unaware of blocks: what is
checked and run is exactly what the block means at the place it is used.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

Loc = tuple[str | int, ...]


def expand_blocks(data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Loc, str]]]:
    """``data`` (a parsed mapping file) with every ``use`` expanded, and the problems found."""
    blocks = data.get("blocks") or {}
    problems: list[tuple[Loc, str]] = []
    if not isinstance(blocks, dict) or not all(isinstance(b, dict) for b in blocks.values()):
        return data, [(("blocks",), "blocks maps each name to a field tree (a mapping of fields)")]
    out = dict(data)
    records = data.get("records")
    if isinstance(records, list):
        out["records"] = [_record(rec, (("records", r)), blocks, problems) for r, rec in enumerate(records)]
    unused = sorted(set(blocks) - set(_used(data)))
    problems += [(("blocks", name), f"block {name!r} is never used") for name in unused]
    return out, problems


def _record(record: Any, loc: Loc, blocks: dict[str, Any], problems: list[tuple[Loc, str]]) -> Any:
    if not isinstance(record, dict) or not isinstance(record.get("emit"), list):
        return record
    emits = []
    for e, emit in enumerate(record["emit"]):
        if isinstance(emit, dict) and "fields" in emit:
            emit = {**emit, "fields": _expand(emit["fields"], (*loc, "emit", e, "fields"), blocks, (),
                                              problems)}
        emits.append(emit)
    return {**record, "emit": emits}


def _expand(node: Any, loc: Loc, blocks: dict[str, Any], stack: tuple[str, ...],
            problems: list[tuple[Loc, str]]) -> Any:
    if isinstance(node, list):
        return [_expand(item, (*loc, i), blocks, stack, problems) for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if "use" in node:
        name = node["use"]
        if not isinstance(name, str) or name not in blocks:
            known = ", ".join(sorted(blocks)) or "none"
            problems.append(((*loc, "use"), f"no block {name!r}; blocks: {known}"))
            return {k: v for k, v in node.items() if k != "use"}
        if name in stack:
            problems.append(((*loc, "use"), f"block {name!r} uses itself ({' → '.join((*stack, name))})"))
            return {}
        body = _expand(copy.deepcopy(blocks[name]), loc, blocks, (*stack, name), problems)
        overrides = {k: v for k, v in node.items() if k != "use"}
        node = {**body, **overrides}
    return {key: _expand(value, (*loc, key), blocks, stack, problems) for key, value in node.items()}


def _used(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("use"), str):
            yield node["use"]
        for value in node.values():
            yield from _used(value)
    elif isinstance(node, list):
        for item in node:
            yield from _used(item)

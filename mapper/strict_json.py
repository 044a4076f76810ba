"""A strict JSON decoder for what agencies send: flaws are marked where they are, not fatal for the page.

The stdlib decoder (C scanner) with its hooks is the library; the policy is ours:

* a number longer than ``MAX_NUMBER_CHARS`` (a 5,000-digit integer would raise Python's int-digit limit
  and abort the page), a float that overflows (``1e400`` → inf) and the non-JSON constants ``NaN`` /
  ``Infinity`` become a ``BadNumber`` in place of the value;
* an object with a duplicate key (which would silently keep the last value) becomes a ``FlawedObject``;
* nesting deeper than the interpreter allows fails the page (RecursionError, caught by the caller);
  a record nested deeper than ``MAX_RECORD_DEPTH`` is the record's flaw.

So one bad record goes to quarantine with its reason while the rest of the page is staged, and a flaw in
the page's envelope (outside every record) refuses the page as a whole. ``flaws_in`` finds them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from schemas.privacy import shape

MAX_NUMBER_CHARS = 64
MAX_RECORD_DEPTH = 64
_FIELD_NAME = re.compile(r"^[A-Za-z_@$][\w.:@$-]{0,63}$")


class BadNumber:
    """A number the hub will not use; ``literal`` is its text as sent (kept for the quarantine bytes)."""

    __slots__ = ("literal", "reason")

    def __init__(self, literal: str, reason: str) -> None:
        self.literal, self.reason = literal, reason

    def __repr__(self) -> str:
        return f"BadNumber({self.reason})"


class FlawedObject(dict[str, Any]):
    """An object that repeated a key; ``duplicates`` names the keys (field names, or their shape)."""

    duplicates: list[str]


class Decoded:
    """A decoded document and whether the decoder marked any flaw in it (so clean pages skip the scan)."""

    __slots__ = ("doc", "flawed")

    def __init__(self, doc: Any, flawed: bool) -> None:
        self.doc, self.flawed = doc, flawed


def loads(data: bytes | str) -> Decoded:
    """Decode ``data``; raises ``ValueError`` (JSONDecodeError, UnicodeDecodeError) or RecursionError."""
    seen = [False]

    def bad(literal: str, reason: str) -> BadNumber:
        seen[0] = True
        return BadNumber(literal[:MAX_NUMBER_CHARS * 16], reason)

    def parse_int(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            return bad(text, f"a number of {len(text)} digits (more than {MAX_NUMBER_CHARS})")
        return int(text)

    def parse_float(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            return bad(text, f"a number of {len(text)} characters (more than {MAX_NUMBER_CHARS})")
        value = float(text)
        if not math.isfinite(value):
            return bad(text, "a number out of range (it overflows to infinity)")
        return value

    def parse_constant(text: str) -> Any:
        return bad(text, f"{text} is not a JSON number")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        seen[0] = True
        flawed = FlawedObject(obj)
        counts: dict[str, int] = {}
        for key, _ in items:
            counts[key] = counts.get(key, 0) + 1
        flawed.duplicates = [_key_name(k) for k, n in counts.items() if n > 1]
        return flawed

    doc = json.loads(data, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant,
                     object_pairs_hook=pairs)
    return Decoded(doc, seen[0])


def _key_name(key: str) -> str:
    return key if _FIELD_NAME.match(key) else f"(a key shaped {shape(key)[:40]})"


def flaws_in(node: Any, *, skip: set[int] | None = None, max_depth: int | None = MAX_RECORD_DEPTH,
             pointer: str = "") -> list[str]:
    """Every flaw under ``node`` as ``pointer: reason`` (PII-free), without descending into ``skip`` ids."""
    found: list[str] = []
    stack: list[tuple[Any, str, int]] = [(node, pointer, 0)]
    while stack:
        item, where, depth = stack.pop()
        if skip is not None and id(item) in skip:
            continue
        if max_depth is not None and depth > max_depth:
            found.append(f"{where or '/'}: nested more than {max_depth} levels deep")
            continue
        if isinstance(item, BadNumber):
            found.append(f"{where or '/'}: {item.reason}")
        elif isinstance(item, dict):
            if isinstance(item, FlawedObject):
                found.append(f"{where or '/'}: duplicate key {', '.join(item.duplicates)}")
            stack.extend((v, f"{where}/{_pointer_part(k)}", depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}/{i}", depth + 1) for i, v in enumerate(item))
    return sorted(found)


def _pointer_part(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1") if _FIELD_NAME.match(key) else "(key)"


_PLACEHOLDER = "\u0000hub-bad-number-{}\u0000"


def dumps_as_sent(node: Any) -> bytes:
    """``node`` as JSON bytes with each ``BadNumber`` written back as its literal (for quarantine rows)."""
    literals: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, BadNumber):
            literals.append(obj.literal)
            return _PLACEHOLDER.format(len(literals) - 1)
        raise TypeError(type(obj).__name__)

    text = json.dumps(node, ensure_ascii=False, default=default)
    for i, literal in enumerate(literals):
        text = text.replace(json.dumps(_PLACEHOLDER.format(i)), literal, 1)
    # a lone surrogate (\ud800) has no UTF-8 form: backslashreplace writes it as the JSON escape sent
    return text.encode("utf-8", "backslashreplace")

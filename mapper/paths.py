"""Paths inside a record: XPath 1.0 (lxml) for XML, JMESPath for JSON, compiled once.

XML prefixes may stand for several namespace URIs (format versions). The binding is chosen per document:
for each prefix, the first of its URIs that the document declares. Compiled XPaths are cached per binding.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jmespath
import jmespath.exceptions
from lxml import etree  # type: ignore[import-untyped]

from mapper.errors import MapperError, PathEvaluationError
from mapper.jmes_compiled import compile_jmespath

Binding = tuple[tuple[str, str], ...]
# Plain dotted field names are most paths in a mapping; reading them directly is ~5x faster than
# JMESPath, whose interpreter is rebuilt on every search. Other JMESPath is compiled to closures
# (mapper/jmes_compiled.py).
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
"""A ``{path}`` placeholder in a template (``{#}`` is the item number)."""
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


# A QName prefix in XPath 1.0: `p:name` or `p:*` (not an axis `child::`, not inside a string literal).
_PREFIX = re.compile(r"(?<![\w.:-])([^\W\d][\w.-]*):(?!:)(?=[^\W\d]|\*)")
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")


class PathSyntaxError(MapperError, ValueError):
    """A path in a mapping does not compile."""


def bind_namespaces(choices: dict[str, list[str]], declared: set[str]) -> Binding:
    """Pick, for each prefix, the first URI the document declares (else the first listed)."""
    chosen = {p: next((u for u in uris if u in declared), uris[0]) for p, uris in choices.items()}
    return tuple(sorted(chosen.items()))


class Path:
    """A compiled path; ``evaluate(node, binding)`` returns the raw result (list, scalar or None)."""

    def __init__(self, fmt: str, expr: str, choices: dict[str, list[str]]) -> None:
        self.fmt, self.expr = fmt, expr
        self._keys = expr.split(".") if fmt == "json" and _PLAIN.match(expr) else None
        if fmt == "json":
            try:
                self._json = compile_jmespath(expr)
            except jmespath.exceptions.ParseError as exc:
                raise PathSyntaxError(f"not a valid JMESPath expression: {exc.msg}") from exc
        else:
            _xpath(expr, bind_namespaces(choices, set()))  # syntax check with the first URIs
            undeclared = sorted(set(_PREFIX.findall(_STRINGS.sub("", expr))) - set(choices) - {"xml"})
            if undeclared:  # lxml would only fail when the path is first evaluated, on a record
                raise PathSyntaxError(f"prefix {', '.join(map(repr, undeclared))} is not declared under "
                                      "namespaces")

    def evaluate(self, node: Any, binding: Binding = ()) -> Any:
        if self._keys is not None:
            for key in self._keys:
                node = node.get(key) if isinstance(node, dict) else None
            return node
        if self.fmt == "json":
            try:
                return self._json(node)
            except (jmespath.exceptions.JMESPathError, TypeError, ValueError) as exc:
                # A function given a value of another type (length(5)): the value is unusable, not the
                # payload; the message names the error's kind, never the value.
                kind = type(exc).__name__
                raise PathEvaluationError(f"the path cannot be evaluated on this value ({kind})") from None
        return _xpath(self.expr, binding)(node)


@lru_cache(maxsize=4096)
def _xpath(expr: str, binding: Binding) -> etree.XPath:
    try:
        return etree.XPath(expr, namespaces=dict(binding), smart_strings=False)
    except etree.XPathSyntaxError as exc:
        raise PathSyntaxError(f"not a valid XPath expression: {exc}") from exc


def compile_path(fmt: str, expr: str, choices: dict[str, list[str]]) -> Path:
    """Compile ``expr`` for a mapping of format ``fmt``; raise ``PathSyntaxError`` when it is wrong."""
    return Path("xml" if fmt == "xml" else "json", expr, choices)  # JSON Lines and CSV rows are JSON objects


def as_scalar(result: Any) -> Any:
    """One value from a path result: None when empty; a ValueError (shape only) when several."""
    if isinstance(result, list):
        values = [_node_value(r) for r in result]
        values = list(dict.fromkeys(v for v in values if v is not None))  # the same value twice is one
        if not values:
            return None
        if len(values) > 1:
            raise ValueError(f"the path gives {len(values)} values where one is expected")
        return values[0]
    if isinstance(result, dict):
        raise ValueError("the path gives an object where a value is expected")
    return _node_value(result)


def as_nodes(result: Any) -> list[Any]:
    """The items of a ``foreach`` path result."""
    if result is None:
        return []
    return list(result) if isinstance(result, list) else [result]


def _node_value(node: Any) -> Any:
    if isinstance(node, etree._Element):
        text = node.text
        return text if text is None or text.strip() else None
    if isinstance(node, float) and node.is_integer():
        return int(node)  # XPath numbers are floats; 3.0 is the count 3
    return node

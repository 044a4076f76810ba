"""JMESPath compiled to Python closures: the same results as ``jmespath.search``, without its interpreter.

``jmespath.compile(...).search`` walks the syntax tree on every record through a visitor that dispatches
each node by name (and builds a new interpreter per call); with filters such as
``identifier[?system=='…' && use!='old'].value`` that walk was a third of a FHIR source's pull. Here the
tree is turned into nested closures once, per node type, with the semantics copied from jmespath 1.x's
``TreeInterpreter`` (its comparators and truthiness are reused). A node type without a closure here
(functions, expression references) is evaluated by the interpreter itself, so every expression jmespath
accepts gives jmespath's result — except an ordering comparison of a number with text, which is null here
(as the JMESPath specification says) where jmespath.py raises TypeError — inside a function's arguments
(``sort_by(a, &b)``), which the interpreter evaluates, it still raises, and ``mapper.paths`` turns that into
a ``PathEvaluationError``;
``tests/mapper/test_jmes_compiled.py`` checks both on many expressions.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

import jmespath
from jmespath.visitor import TreeInterpreter

Fn = Callable[[Any], Any]
_INTERPRETER = TreeInterpreter()
_EQUALITY = {"eq", "ne"}


def _is_actual_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, Number)  # True is an int in Python, not in JMESPath


def _false(value: Any) -> bool:
    # JMESPath's falsiness: '', [], {}, null and false — not 0 (written as in TreeInterpreter._is_false).
    return value == "" or value == [] or value == {} or value is None or value is False


def compile_jmespath(expression: str) -> Fn:
    """A function of one document returning what ``jmespath.search(expression, document)`` returns."""
    parsed: Any = jmespath.compile(expression).parsed
    return _node(parsed)


def _node(node: dict[str, Any]) -> Fn:
    build = _BUILDERS.get(node["type"])
    if build is None:
        tree: Any = node
        return lambda value: _INTERPRETER.visit(tree, value)
    return build(node)


def _children(node: dict[str, Any]) -> list[Fn]:
    return [_node(child) for child in node["children"]]


def _field(node: dict[str, Any]) -> Fn:
    name = node["value"]
    return lambda value: value.get(name) if isinstance(value, dict) else None


def _chain(node: dict[str, Any]) -> Fn:  # subexpression, index_expression, pipe
    steps = _children(node)
    if len(steps) == 2:
        first, second = steps
        return lambda value: second(first(value))

    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain


def _index(node: dict[str, Any]) -> Fn:
    i = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[i]
        except IndexError:
            return None

    return index


def _slice(node: dict[str, Any]) -> Fn:
    s = slice(*node["children"])
    return lambda value: value[s] if isinstance(value, list) else None


def _projection(node: dict[str, Any]) -> Fn:  # list[*].x
    return _project(node, lambda items: items if isinstance(items, list) else None)


def _value_projection(node: dict[str, Any]) -> Fn:  # object.*.x
    return _project(node, lambda items: list(items.values()) if isinstance(items, dict) else None)


def _project(node: dict[str, Any], elements: Fn) -> Fn:
    base, each = _children(node)

    def project(value: Any) -> Any:
        items = elements(base(value))
        if items is None:
            return None
        return [r for r in map(each, items) if r is not None]

    return project


def _filter_projection(node: dict[str, Any]) -> Fn:
    base, each, condition = _children(node)

    def project(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        return [r for item in items if not _false(condition(item)) and (r := each(item)) is not None]

    return project


def _flatten(node: dict[str, Any]) -> Fn:
    [base] = _children(node)

    def flatten(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        merged: list[Any] = []
        for item in items:
            if isinstance(item, list):
                merged.extend(item)
            else:
                merged.append(item)
        return merged

    return flatten


def _comparator(node: dict[str, Any]) -> Fn:
    compare = TreeInterpreter.COMPARATOR_FUNC[node["value"]]
    left, right = _children(node)
    if node["value"] in _EQUALITY:
        return lambda value: compare(left(value), right(value))

    def ordered(value: Any) -> Any:
        a, b = left(value), right(value)
        # A number against text is null (the JMESPath spec: ordering is for numbers), where jmespath.py
        # raises TypeError — an agency sending "2" for 2 must not stop its whole payload.
        if (_is_actual_number(a) and _is_actual_number(b)) or (isinstance(a, str) and isinstance(b, str)):
            return compare(a, b)
        return None

    return ordered


def _or(node: dict[str, Any]) -> Fn:
    left, right = _children(node)

    def either(value: Any) -> Any:
        matched = left(value)
        return right(value) if _false(matched) else matched

    return either


def _and(node: dict[str, Any]) -> Fn:
    left, right = _children(node)

    def both(value: Any) -> Any:
        matched = left(value)
        return matched if _false(matched) else right(value)

    return both


def _not(node: dict[str, Any]) -> Fn:
    [inner] = _children(node)

    def negate(value: Any) -> Any:
        result = inner(value)
        if _is_actual_number(result) and result == 0:  # !0 is false in JMESPath
            return False
        return not result

    return negate


def _literal(node: dict[str, Any]) -> Fn:
    constant = node["value"]
    return lambda value: constant


def _multi_list(node: dict[str, Any]) -> Fn:
    parts = _children(node)
    return lambda value: None if value is None else [p(value) for p in parts]


def _multi_dict(node: dict[str, Any]) -> Fn:
    parts = [(child["value"], _node(child["children"][0])) for child in node["children"]]
    return lambda value: None if value is None else {k: p(value) for k, p in parts}


def _identity(node: dict[str, Any]) -> Fn:
    return lambda value: value


_BUILDERS: dict[str, Callable[[dict[str, Any]], Fn]] = {
    "field": _field, "subexpression": _chain, "index_expression": _chain, "pipe": _chain,
    "index": _index, "slice": _slice, "projection": _projection, "value_projection": _value_projection,
    "filter_projection": _filter_projection, "flatten": _flatten, "comparator": _comparator,
    "or_expression": _or, "and_expression": _and, "not_expression": _not, "literal": _literal,
    "multi_select_list": _multi_list, "multi_select_dict": _multi_dict, "identity": _identity,
    "current": _identity,
}

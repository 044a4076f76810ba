"""Check an XML mapping's paths against the XSDs of its source: a misspelt element is found before a night.

``hub mapping check`` calls ``check_against_xsd`` when the source has XSDs in ``config/sources.yaml``. The
schemas are read with ``xmlschema`` (local files only, defused): every record ``select`` must name an
element some XSD declares, and every path of the mapping is walked step by step from where it is read (the
record element, a ``foreach`` item, a ``within`` node; ``^`` from the record), through the declared child
elements and attributes. A path fits when it fits in at least one XSD (a step that exists only in EGISSO
1.0.6 is fine; the 1.0.5 files simply never have it).

Only location paths are walked: ``a:b/c:d``, ``@attr``, ``..``, ``.``, ``*``, ``text()``, with predicates
skipped. A path using functions, unions, ``//`` or axes is not judged (it is neither right nor wrong here),
nor is anything below an ``xs:any`` wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema

from mapper.loader import LEAF_KEYS, Loc
from mapper.paths import PLACEHOLDER
from mapper.spec import MappingSpec, ValueRule

_STEP = re.compile(r"^(@?)(?:([^\W\d][\w.-]*):)?([^\W\d][\w.-]*|\*)$")


@dataclass(frozen=True)
class _Node:
    """An element declaration reached by a path, with the declarations above it (for ``..``)."""

    decl: Any
    up: tuple[Any, ...] = ()


Context = list[_Node]


class _Schema:
    """One XSD, its prefix binding and a finder for record elements."""

    def __init__(self, path: Path, spec: MappingSpec) -> None:
        self.schema = xmlschema.XMLSchema(str(path), allow="local", defuse="always")
        known = set(self.schema.maps.namespaces)
        choices = spec.namespace_choices()
        self.binding = {p: next((u for u in uris if u in known), uris[0]) for p, uris in choices.items()}
        self.prefix_of = {u: p for p, u in self.binding.items()}
        self._elements = [c for c in self.schema.maps.iter_components()
                          if isinstance(c, xmlschema.XsdElement)]

    def qname(self, prefix: str | None, local: str) -> str | None:
        """Clark name of ``prefix:local`` (None: the prefix is not declared)."""
        if prefix is None:
            return local
        uri = self.binding.get(prefix)
        return None if uri is None else f"{{{uri}}}{local}"

    def records(self, selector: str) -> Context:
        prefix, _, local = selector.rpartition(":")
        name = self.qname(prefix or None, local)
        return [_Node(e) for e in self._elements if e.name == name]

    def label(self, clark: str) -> str:
        if clark.startswith("{"):
            uri, _, local = clark[1:].partition("}")
            return f"{self.prefix_of[uri]}:{local}" if uri in self.prefix_of else local
        return clark


def check_against_xsd(spec: MappingSpec, xsds: dict[str, Path]) -> list[tuple[Loc, str]]:
    """Problems of ``spec``'s paths against the source's XSDs (an empty list: all paths fit)."""
    schemas = []
    for namespace, path in sorted(xsds.items()):
        try:
            schemas.append(_Schema(path, spec))
        except (xmlschema.XMLSchemaException, OSError) as exc:
            return [((), f"the XSD for {namespace} cannot be read: {type(exc).__name__}")]
    problems: dict[Loc, list[str]] = {}
    found_any: dict[Loc, bool] = {}
    for schema in schemas:
        for loc, message in _check_spec(spec, schema):
            if message:
                problems.setdefault(loc, []).append(message)
            else:
                found_any[loc] = True
    return [(loc, msgs[0]) for loc, msgs in problems.items() if not found_any.get(loc)]


def _check_spec(spec: MappingSpec, schema: _Schema) -> Iterator[tuple[Loc, str | None]]:
    """(loc, problem) for every path of the spec in one schema; (loc, None) for each that fits."""
    for r, record in enumerate(spec.records):
        base: Loc = ("records", r)
        roots: Context = []
        for s, selector in enumerate(record.selectors):
            found = schema.records(selector)
            loc = (*base, "select") if isinstance(record.select, str) else (*base, "select", s)
            yield loc, None if found else f"{selector!r} is not an element of the source's XSDs"
            roots += found
        if not roots:
            continue
        walker = _Walker(schema, roots)
        for name in ("when", "delete_when"):
            cond = getattr(record, name)
            if cond is not None:
                yield from walker.path(cond.path, roots, (*base, name, "path"))
        for d, delete in enumerate(record.deletes):
            yield from walker.rule(delete.id, roots, (*base, "deletes", d, "id"))
        for e, emit in enumerate(record.emit):
            loc = (*base, "emit", e)
            here = roots  # the id, the condition and the fields are read from each foreach item
            if emit.foreach:
                yield from walker.path(emit.foreach, roots, (*loc, "foreach"))
                here = walker.resolve(emit.foreach, roots) or []
            if here:
                yield from walker.rule(emit.id, here, (*loc, "id"))
                if emit.when is not None:
                    yield from walker.path(emit.when.path, here, (*loc, "when", "path"))
                yield from walker.tree(emit.fields, here, (*loc, "fields"))


class _Walker:
    def __init__(self, schema: _Schema, roots: Context) -> None:
        self.schema, self.roots = schema, roots

    def tree(self, node: Any, here: Context, loc: Loc) -> Iterator[tuple[Loc, str | None]]:
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from self.tree(item, here, (*loc, i))
        elif isinstance(node, dict) and LEAF_KEYS & node.keys():
            yield from self.rule(ValueRule.model_validate(node), here, loc)
        elif isinstance(node, dict) and "foreach" in node:
            expr = str(node["foreach"])
            yield from self.path(expr, here, (*loc, "foreach"))
            inner = self.resolve(expr, here)
            if inner:
                yield from self.tree(node.get("item"), inner, (*loc, "item"))
        elif isinstance(node, dict):
            if "within" in node:
                expr = str(node["within"])
                yield from self.path(expr, here, (*loc, "within"))
                here = self.resolve(expr, here) or []
            if here:
                for key, sub in node.items():
                    if key != "within":
                        yield from self.tree(sub, here, (*loc, key))

    def rule(self, rule: ValueRule, here: Context, loc: Loc) -> Iterator[tuple[Loc, str | None]]:
        if rule.path is not None:
            yield from self.path(rule.path, here, (*loc, "path"))
        elif rule.template is not None:
            for expr in PLACEHOLDER.findall(rule.template):
                if expr != "#":
                    yield from self.path(expr, here, (*loc, "template"))

    def path(self, expr: str, here: Context, loc: Loc) -> Iterator[tuple[Loc, str | None]]:
        """(loc, None) when ``expr`` fits, (loc, problem) when a step is not declared; nothing if unjudged."""
        start = self.roots if expr.startswith("^") else here
        steps = _steps(expr.lstrip("^"))
        if steps is None:
            return
        nodes = start
        for step in steps:
            nxt, problem = self._step(nodes, step)
            if problem:
                yield loc, f"{expr!r}: {problem}"
                return
            if nxt is None:  # a wildcard, text() or the record's parent: not judged further
                yield loc, None
                return
            nodes = nxt
        yield loc, None

    def resolve(self, expr: str, here: Context) -> Context | None:
        """The declarations ``expr`` reaches (None when it cannot be walked)."""
        steps = _steps(expr.lstrip("^"))
        nodes: Context | None = self.roots if expr.startswith("^") else here
        for step in steps or []:
            if nodes is None:
                return None
            nodes, problem = self._step(nodes, step)
            if problem:
                return None
        return None if steps is None else nodes

    def _step(self, nodes: Context, step: str) -> tuple[Context | None, str | None]:
        if step == ".":
            return nodes, None
        if step == "..":
            if not all(n.up for n in nodes):
                return None, None
            return [_Node(n.up[-1], n.up[:-1]) for n in nodes], None
        if step == "text()":
            return None, None
        match = _STEP.match(step)
        if match is None:
            return None, None
        attribute, prefix, local = match.group(1) == "@", match.group(2), match.group(3)
        name = None if local == "*" else self.schema.qname(prefix, local)
        if local != "*" and name is None:
            return None, f"prefix {prefix!r} is not declared"
        if attribute:
            return self._attribute(nodes, name, step)
        children, open_content = [], False
        for node in nodes:
            for child in _children(node.decl):
                if not isinstance(child, xmlschema.XsdElement):
                    open_content = True
                elif name is None or child.name == name:
                    children.append(_Node(child, (*node.up, node.decl)))
        if children:
            return children, None
        if open_content:
            return None, None
        known = sorted({self.schema.label(c.name) for n in nodes for c in _children(n.decl)
                        if isinstance(c, xmlschema.XsdElement)})
        where = ", ".join(sorted({self.schema.label(n.decl.name) for n in nodes}))
        return None, (f"no element {step} in {where} (it has: {', '.join(known) or 'no child elements'})")

    def _attribute(self, nodes: Context, name: str | None, step: str) -> tuple[Context | None, str | None]:
        known: set[str] = set()
        for node in nodes:
            attributes = getattr(node.decl.type, "attributes", {}) or {}
            names = {a if a is not None else "*" for a in attributes}
            if name is None or name in names or "*" in names or None in attributes:
                return None, None
            known |= {self.schema.label(a) for a in names}
        where = ", ".join(sorted({self.schema.label(n.decl.name) for n in nodes}))
        return None, f"no attribute {step} on {where} (it has: {', '.join(sorted(known)) or 'none'})"


def _children(decl: Any) -> list[Any]:
    content = getattr(decl.type, "content", None)
    if content is None or not hasattr(content, "iter_elements"):
        return []
    return list(content.iter_elements())


def _steps(expr: str) -> list[str] | None:
    """The location steps of ``expr`` with predicates removed; None when it is not a plain location path."""
    text, depth, out, quote = expr.strip(), 0, [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
            if depth == 0:
                return None
            continue
        if ch in "'\"" and depth:
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    plain = "".join(out)
    if not plain or depth or plain.startswith("/") or "//" in plain or "|" in plain or "::" in plain:
        return None
    steps = plain.split("/")
    if any(not s or ("(" in s and s != "text()") for s in steps) or any(c in plain for c in " =<>+,$"):
        return None
    return steps

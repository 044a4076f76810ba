"""Load a mapping file: YAML with line numbers, the spec, the field trees checked against the canonical model.

Every problem is reported as ``file:line: key.path: message`` so an agency IT person can fix the file
without reading Python.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mapper.blocks import expand_blocks
from mapper.errors import MappingSpecError
from mapper.paths import PLACEHOLDER
from mapper.spec import MappingSpec, ValueRule
from schemas import RECORD_MODELS

Loc = tuple[str | int, ...]
LEAF_KEYS = {"path", "template", "const", "ref"}
# A JSON select is the subset of JMESPath a page can be streamed by: field names and [*], dot-joined.
_JSON_SELECT = re.compile(r"^[A-Za-z_]\w*(\[\*\])?(\.[A-Za-z_]\w*(\[\*\])?)*$")
SKIPPED_FIELDS = {"record_kind", "provenance"}


def load_spec(path: Path) -> MappingSpec:
    """Read and validate ``path``; raise ``MappingSpecError`` listing every problem with its line."""
    try:
        text = path.read_text("utf-8")
        data = yaml.safe_load(text)
        lines = _line_map(yaml.compose(text))
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingSpecError(str(path), [f"{path}: cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", exc)
        raise MappingSpecError(str(path), [f"{where}: not valid YAML: {problem}"]) from exc
    if not isinstance(data, dict):
        raise MappingSpecError(str(path), [f"{path}:1: a mapping file is a YAML mapping (key: value)"])
    data, expanded = expand_blocks(data)
    if expanded:
        raise MappingSpecError(str(path), [_problem(path, lines, loc, msg) for loc, msg in expanded])
    try:
        spec = MappingSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(path, lines, tuple(e["loc"]), e["msg"]) for e in exc.errors(include_input=False)]
        raise MappingSpecError(str(path), problems) from exc
    problems = [_problem(path, lines, loc, msg) for loc, msg in check_spec(spec)]
    if problems:
        raise MappingSpecError(str(path), problems)
    return spec


def locate(path: Path, problems: list[tuple[Loc, str]]) -> list[str]:
    """``file:line: key: message`` for problems found after loading (e.g. paths against the XSD)."""
    lines = _line_map(yaml.compose(path.read_text("utf-8")))
    return [_problem(path, lines, loc, msg) for loc, msg in problems]


def _problem(path: Path, lines: dict[Loc, int], loc: Loc, message: str) -> str:
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
    key = ".".join(str(p) for p in loc) or "(file)"
    return f"{path}:{line}: {key}: {message.removeprefix('Value error, ')}"


def _line_map(node: yaml.Node | None, loc: Loc = ()) -> dict[Loc, int]:
    """Key path → 1-based line of every node of the YAML document."""
    if node is None:
        return {}
    lines: dict[Loc, int] = {loc: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*loc, key)] = key_node.start_mark.line + 1
            lines.update({k: v for k, v in _line_map(value_node, (*loc, key)).items() if k != (*loc, key)})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_map(item, (*loc, i)))
    return lines


def check_spec(spec: MappingSpec) -> Iterator[tuple[Loc, str]]:
    """Problems the pydantic spec cannot see: field names, code tables, path syntax."""
    from mapper.paths import PathSyntaxError, compile_path

    for r, record in enumerate(spec.records):
        base: Loc = ("records", r)
        if spec.format in ("jsonl", "csv") and record.selectors != ["*"]:
            yield (*base, "select"), f'a {spec.format} record is a whole line or row: select "*"'
        if spec.format == "json":
            for selector in record.selectors:
                if not _JSON_SELECT.match(selector):
                    yield (*base, "select"), (f"{selector!r} is not a streamable JMESPath projection: names "
                                              "and [*] joined by dots, e.g. data[*] or entry[*].resource")
        for e, emit in enumerate(record.emit):
            loc = (*base, "emit", e)
            yield from check_fields(emit.fields, RECORD_MODELS[emit.kind], (*loc, "fields"), spec)
            yield from _check_rule(emit.id, (*loc, "id"), spec)
        for d, delete in enumerate(record.deletes):
            yield from _check_rule(delete.id, (*base, "deletes", d, "id"), spec)
        yield from _check_refs(record, base)
        for path, loc in _paths(record, base):
            try:
                compile_path(spec.format, path.lstrip("^"), spec.namespace_choices())
            except PathSyntaxError as exc:
                yield loc, str(exc)


def _paths(record: Any, base: Loc) -> Iterator[tuple[str, Loc]]:
    for name in ("when", "delete_when"):
        cond = getattr(record, name)
        if cond is not None:
            yield cond.path, (*base, name, "path")
    for e, emit in enumerate(record.emit):
        if emit.foreach:
            yield emit.foreach, (*base, "emit", e, "foreach")
        if emit.when:
            yield emit.when.path, (*base, "emit", e, "when", "path")


def _check_refs(record: Any, base: Loc) -> Iterator[tuple[Loc, str]]:
    """Every ``ref`` names an emit of the same record spec that can be read where the ref stands."""
    emits = {e.name: e for e in record.emit if e.name}
    places: list[tuple[Any, Loc, str | None]] = [
        (emit.model_dump(exclude_none=True)["id"], (*base, "emit", e, "id"), emit.foreach)
        for e, emit in enumerate(record.emit)]
    places += [(emit.fields, (*base, "emit", e, "fields"), emit.foreach)
               for e, emit in enumerate(record.emit)]
    places += [(d.model_dump(exclude_none=True)["id"], (*base, "deletes", d_i, "id"), None)
               for d_i, d in enumerate(record.deletes)]
    for tree, loc, foreach in places:
        for name, ref_loc in _refs_in(tree, loc):
            target = emits.get(name)
            if target is None:
                yield (*ref_loc, "ref"), f"no emit named {name!r} in this record spec; named: " + (
                    ", ".join(sorted(emits)) or "none")
            elif target.foreach and target.foreach != foreach:
                yield (*ref_loc, "ref"), (f"emit {name!r} makes one record per {target.foreach!r} item: "
                                          "only an emit with the same foreach can refer to it")
            elif target.id.ref is not None:
                yield (*ref_loc, "ref"), f"emit {name!r} takes its id from a ref: refer to {target.id.ref!r}"


def _refs_in(tree: Any, loc: Loc) -> Iterator[tuple[str, Loc]]:
    if isinstance(tree, dict):
        if isinstance(tree.get("ref"), str):
            yield tree["ref"], loc
        for key, value in tree.items():
            yield from _refs_in(value, (*loc, key))
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from _refs_in(item, (*loc, i))


def check_fields(tree: Any, model: type[BaseModel], loc: Loc, spec: MappingSpec) -> Iterator[tuple[Loc, str]]:
    """Walk a field tree alongside ``model``: unknown fields, misplaced lists, bad value rules."""
    if not isinstance(tree, dict):
        yield loc, f"expected the fields of {model.__name__} as a mapping"
        return
    if "within" in tree:
        yield from _check_within(tree["within"], (*loc, "within"), spec)
    for name, node in tree.items():
        if name == "within":
            continue
        field = model.model_fields.get(name)
        if field is None or name in SKIPPED_FIELDS:
            known = sorted(set(model.model_fields) - SKIPPED_FIELDS)
            yield (*loc, name), f"{model.__name__} has no field {name!r}; known: {', '.join(known)}"
            continue
        is_list, nested = _shape(field.annotation)
        yield from _check_node(node, is_list, nested, (*loc, name), spec)


def _check_node(
    node: Any, is_list: bool, nested: type[BaseModel] | None, loc: Loc, spec: MappingSpec
) -> Iterator[tuple[Loc, str]]:
    if isinstance(node, dict) and LEAF_KEYS & node.keys():
        yield from _check_leaf(node, loc, spec)
    elif isinstance(node, dict) and "foreach" in node:
        if not is_list:
            yield loc, "foreach is only for list fields"
        if set(node) != {"foreach", "item"}:
            yield loc, "a foreach node has exactly the keys foreach and item"
        yield from _check_node(node.get("item"), False, nested, (*loc, "item"), spec)
    elif isinstance(node, list):
        if not is_list:
            yield loc, "this field takes one value, not a list"
        for i, item in enumerate(node):
            yield from _check_node(item, False, nested, (*loc, i), spec)
    elif isinstance(node, dict):
        if nested is None:
            yield loc, "this field takes a value (a rule with path, template or const), not an object"
        else:
            yield from check_fields(node, nested, loc, spec)


def _check_within(expr: Any, loc: Loc, spec: MappingSpec) -> Iterator[tuple[Loc, str]]:
    from mapper.paths import PathSyntaxError, compile_path

    if not isinstance(expr, str) or not expr.strip():
        yield loc, "within is a path (the base node of the block's paths)"
        return
    try:
        compile_path(spec.format, expr.lstrip("^"), spec.namespace_choices())
    except PathSyntaxError as exc:
        yield loc, str(exc)


def _check_leaf(node: dict[str, Any], loc: Loc, spec: MappingSpec) -> Iterator[tuple[Loc, str]]:
    try:
        rule = ValueRule.model_validate(node)
    except ValidationError as exc:
        for err in exc.errors(include_input=False):
            yield (*loc, *err["loc"]), err["msg"]
        return
    yield from _check_rule(rule, loc, spec)


def _check_rule(rule: ValueRule, loc: Loc, spec: MappingSpec) -> Iterator[tuple[Loc, str]]:
    from mapper.paths import PathSyntaxError, compile_path

    if isinstance(rule.code, str) and rule.code not in spec.tables:
        tables = ", ".join(sorted(spec.tables)) or "none"
        yield (*loc, "code"), f"no code table {rule.code!r}; tables: {tables}"
    if rule.path is not None:
        paths = [("path", rule.path)]
    elif rule.template is not None:
        paths = [("template", p) for p in PLACEHOLDER.findall(rule.template) if p != "#"]
    else:
        paths = []
    for key, expr in paths:
        try:
            compile_path(spec.format, expr.lstrip("^"), spec.namespace_choices())
        except PathSyntaxError as exc:
            yield (*loc, key), str(exc)


def _shape(annotation: Any) -> tuple[bool, type[BaseModel] | None]:
    """(is it a list?, the nested model if any) of a field annotation like ``list[Identifier] | None``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        shapes = [_shape(a) for a in typing.get_args(annotation) if a is not type(None)]
        return shapes[0] if shapes else (False, None)
    if origin is typing.Annotated:
        return _shape(typing.get_args(annotation)[0])
    if origin is list:
        return True, _shape(typing.get_args(annotation)[0])[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, annotation
    return False, None

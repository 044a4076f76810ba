"""Apply a mapping to one source record: canonical records, deletions, or one error for the whole record.

An unusable optional value is dropped (or kept raw) with a warning on the canonical record it belonged to,
as its rule's ``on_error`` / the mapping's ``on_error`` says; what the canonical model refuses is cut the
same way (``mapper.prune``). What cannot be dropped — a record id, a required value, a value whose policy
is ``quarantine`` — fails the source record as a whole: none of its canonical records is kept and it goes to
quarantine with the reason, so the registry never holds half of what an agency sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapper.errors import FieldMappingError, RecordInvalidError, RecordMappingError
from mapper.loader import LEAF_KEYS, load_spec
from mapper.paths import Binding, as_nodes, compile_path
from mapper.prune import validate_keeping
from mapper.spec import EmitSpec, MappingSpec, RecordSpec, ValueRule
from mapper.values import (
    Evaluator,
    Ref,
    Refs,
    Scope,
    compile_condition,
    compile_rule,
    compile_within,
    rule_policy,
)
from schemas import RECORD_MODELS, CanonicalModel

# A compiled field-tree node returns (value, whether a value came from the record).
Node = Callable[[Scope], tuple[Any, bool]]


@dataclass
class MappedRecord:
    """A validated canonical record and where it came from inside the payload."""

    kind: str
    source_record_id: str
    record: CanonicalModel
    raw_pointer: str
    warnings: list[str] = field(default_factory=list)  # values dropped or kept raw (PII-free)


@dataclass
class Deletion:
    """The source says this canonical record is gone."""

    kind: str
    source_record_id: str


@dataclass
class RecordResult:
    """What one source record became."""

    spec: str
    records: list[MappedRecord] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    error: RecordMappingError | None = None


class CompiledRecord:
    """A record spec, compiled."""

    def __init__(self, mapping: Mapping, spec: RecordSpec, index: int) -> None:
        self.mapping, self.spec, self.name = mapping, spec, spec.name
        loc = f"records[{index}]"
        self.when = compile_condition(mapping.spec, spec.when, f"{loc}.when") if spec.when else None
        self.delete_when = (compile_condition(mapping.spec, spec.delete_when, f"{loc}.delete_when")
                            if spec.delete_when else None)
        refs: Refs = {}  # filled below: a rule looks its ref up when it runs
        self.emits = [_CompiledEmit(mapping, e, refs) for e in spec.emit]
        refs.update({e.name: Ref(c.id, bool(e.foreach)) for e, c in zip(spec.emit, self.emits, strict=True)
                     if e.name})
        self.deletes = [(d.kind, compile_rule(mapping.spec, d.id, f"{d.kind}.id", strict=True, refs=refs))
                        for d in spec.deletes]

    def applies(self, node: Any, binding: Binding) -> bool:
        return self.when is None or self.when(Scope.of_record(node, binding))

    def apply(self, node: Any, pointer: str, binding: Binding) -> RecordResult:
        """Map one record; never raises for bad data (the error is in the result)."""
        result = RecordResult(self.name)
        scope = Scope.of_record(node, binding)
        try:
            if self.delete_when is not None and self.delete_when(scope):
                result.deletions = self._deleted_ids(scope)
                return result
            result.deletions = [Deletion(kind, _required_id(ev(scope), kind)) for kind, ev in self.deletes]
            refused: list[RecordInvalidError] = []
            for emit in self.emits:
                records, failed = emit.apply(scope, pointer)
                result.records += records
                refused += failed
        except RecordMappingError as exc:
            return RecordResult(self.name, error=exc)
        if refused and (not result.records or any(e.kind == "person" for e in refused)):
            return RecordResult(self.name, error=refused[0])  # a person or everything: the record waits
        # A household without its category or service record is still the household: the refusals are
        # noted once, on the source record's first canonical record, with what led to them.
        notes = [f"{e} (this {e.kind} record left out{_because(e)})" for e in refused]
        if notes:
            result.records[0].warnings += list(dict.fromkeys(notes))
        return result

    def _deleted_ids(self, scope: Scope) -> list[Deletion]:
        """All the deleted record had emitted (``foreach`` items too), unless ``on_delete: keep``."""
        out = []
        for emit in self.emits:
            if emit.on_delete != "delete":
                continue
            for item_scope, _ in emit.scopes(scope, ""):
                if emit.when is None or emit.when(item_scope):
                    out.append(Deletion(emit.kind, _required_id(emit.id(item_scope), emit.kind)))
        return out


class _CompiledEmit:
    def __init__(self, mapping: Mapping, spec: EmitSpec, refs: Refs) -> None:
        self.kind, self.mapping = spec.kind, mapping
        self.model = RECORD_MODELS[spec.kind]
        self.id = compile_rule(mapping.spec, spec.id, f"{spec.kind}.id", strict=True, refs=refs)
        self.when = compile_condition(mapping.spec, spec.when, f"{spec.kind}.when") if spec.when else None
        self.foreach, self.on_delete = spec.foreach, spec.on_delete
        # An XML emit whose fields are read within one element points at it, as a foreach item would.
        within = spec.fields.get("within") if mapping.spec.format == "xml" else None
        self._within = f"/{within}[1]" if within else ""
        choices = mapping.spec.namespace_choices()
        self._items = (compile_path(mapping.spec.format, spec.foreach.lstrip("^"), choices)
                       if spec.foreach else None)
        self.fields = _compile_object(mapping.spec, spec.fields, spec.kind, refs)
        self._policies = {name: rule_policy(mapping.spec, ValueRule.model_validate(node))
                          for name, node in spec.fields.items()
                          if isinstance(node, dict) and LEAF_KEYS & node.keys()}
        self._default_policy = mapping.spec.on_error
        evidence = mapping.spec.min_evidence
        self._context = {"min_evidence": tuple(evidence)} if evidence else None  # Person's own rule

    def scopes(self, scope: Scope, pointer: str) -> list[tuple[Scope, str]]:
        """The scope of each canonical record this emit makes (one, or one per ``foreach`` item)."""
        if self._items is None:
            return [(scope, pointer + self._within)]
        items = as_nodes(self._items.evaluate(scope.node, scope.binding))
        return [(scope.emit_item(item, i), f"{pointer}/{self.foreach}[{i}]{self._within}")
                for i, item in enumerate(items, start=1)]

    def apply(self, scope: Scope, pointer: str) -> tuple[list[MappedRecord], list[RecordInvalidError]]:
        """The canonical records made, and those the model refused even after cutting invalid values."""
        made, refused = [], []
        for item_scope, item_pointer in self.scopes(scope, pointer):
            if self.when is not None and not self.when(item_scope):
                continue
            try:
                made.append(self._one(item_scope, item_pointer))
            except RecordInvalidError as exc:
                refused.append(exc)
        return made, refused

    def _one(self, scope: Scope, pointer: str) -> MappedRecord:
        source_id = _required_id(self.id(scope), self.kind)
        scope = scope.fresh()  # this canonical record's warnings
        data, _ = self.fields(scope)
        data = dict(data or {})
        data["record_kind"] = self.kind
        data["provenance"] = {
            "source_system": self.mapping.source, "source_record_id": source_id,
            "mapping_version": self.mapping.version, "mapping_name": self.mapping.name,
            "raw_pointer": pointer,
        }
        try:
            record, cut = validate_keeping(self.model, self.kind, data,
                                           lambda name: self._policies.get(name, self._default_policy),
                                           self._context)
        except RecordInvalidError as exc:
            exc.warnings = scope.warnings  # what was dropped before the model refused the rest
            raise
        assert isinstance(record, CanonicalModel)
        return MappedRecord(self.kind, source_id, record, pointer, scope.warnings + cut)


def _because(exc: RecordInvalidError) -> str:
    return f" after: {'; '.join(exc.warnings)}" if exc.warnings else ""


def _required_id(value: Any, kind: str) -> str:
    if value is None or str(value).strip() == "":
        raise FieldMappingError(f"{kind}.id", "the record id is missing")
    return str(value).strip()


def _compile_node(spec: MappingSpec, node: Any, field: str, refs: Refs) -> Node:
    if isinstance(node, dict) and LEAF_KEYS & node.keys():
        rule = ValueRule.model_validate(node)
        return _leaf(compile_rule(spec, rule, field, refs=refs), dynamic=rule.const is None)
    if isinstance(node, dict) and "foreach" in node:
        return _foreach(spec, node, field, refs)
    if isinstance(node, list):
        return _fixed_list([_compile_node(spec, item, f"{field}[{i}]", refs) for i, item in enumerate(node)])
    if isinstance(node, dict):
        return _compile_object(spec, node, field, refs)
    constant = node
    return lambda _scope: (constant, False)


def _leaf(evaluate: Evaluator, dynamic: bool) -> Node:
    def node(scope: Scope) -> tuple[Any, bool]:
        value = evaluate(scope)
        return value, dynamic and value is not None
    return node


def _compile_object(spec: MappingSpec, tree: dict[str, Any], field: str, refs: Refs) -> Node:
    children = {name: _compile_node(spec, sub, f"{field}.{name}", refs)
                for name, sub in tree.items() if name != "within"}
    dynamic = _has_dynamic(tree)
    within = compile_within(spec, str(tree["within"]), field) if "within" in tree else None

    def node(scope: Scope) -> tuple[Any, bool]:
        if within is not None:
            inner = _enter(within, scope, spec.on_error)
            if inner is None:
                return None, False  # the base node is not there: the block is left out
            scope = inner
        values, present = {}, False
        for name, child in children.items():
            value, child_present = child(scope)
            present = present or child_present
            if value is not None:
                values[name] = value
        if dynamic and not present:
            return None, False  # nothing from the record: the object is left out
        return values, present

    return node


def _enter(within: Callable[[Scope], Scope | None], scope: Scope, policy: str) -> Scope | None:
    try:
        return within(scope)
    except FieldMappingError as exc:
        if policy == "quarantine":
            raise
        scope.warnings.append(f"{exc} (block left out)")
        return None


def _fixed_list(items: list[Node]) -> Node:
    def node(scope: Scope) -> tuple[Any, bool]:
        values, present = [], False
        for item in items:
            value, item_present = item(scope)
            if value is not None and (item_present or not isinstance(value, dict)):
                values.append(value)
            present = present or item_present
        return values, present

    return node


def _foreach(spec: MappingSpec, tree: dict[str, Any], field: str, refs: Refs) -> Node:
    path = compile_path(spec.format, str(tree["foreach"]).lstrip("^"), spec.namespace_choices())
    from_record = str(tree["foreach"]).startswith("^")
    item = _compile_node(spec, tree["item"], f"{field}[]", refs)

    def node(scope: Scope) -> tuple[Any, bool]:
        base = scope.record if from_record else scope.node
        values = []
        for i, element in enumerate(as_nodes(path.evaluate(base, scope.binding)), start=1):
            value, present = item(scope.item(element, i))
            if value is not None and present:
                values.append(value)
        return values, bool(values)

    return node


def _has_dynamic(tree: Any) -> bool:
    if isinstance(tree, dict):
        if LEAF_KEYS & tree.keys():
            return "const" not in tree
        return "foreach" in tree or any(_has_dynamic(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_dynamic(v) for v in tree)
    return False


class Mapping:
    """A loaded, validated and compiled mapping file."""

    def __init__(self, spec: MappingSpec, path: Path | None = None) -> None:
        self.spec, self.path = spec, path
        self.name, self.version, self.source = spec.mapping, spec.version, spec.source
        self.format = spec.format
        self.records = [CompiledRecord(self, r, i) for i, r in enumerate(spec.records)]

    def specs_for(self, selector: str) -> list[CompiledRecord]:
        return [r for r in self.records if selector in r.spec.selectors]


def load_mapping(path: Path) -> Mapping:
    """Load, validate and compile ``path``; raise ``MappingSpecError`` naming file, line and key."""
    return Mapping(load_spec(path), path)

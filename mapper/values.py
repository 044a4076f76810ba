"""Value rules and conditions, compiled into small evaluators.

An evaluator gets a ``Scope`` (the current node, the record root, the item number, the namespace binding)
and returns a value or raises ``FieldMappingError`` naming the field — describing the value's shape, never
the value. A ``ref`` reads another emit's id (``Ref``) in that emit's own scope: the record, or the same
``foreach`` item.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from typing import Any

from mapper.errors import FieldMappingError, UnknownCodeError
from mapper.paths import PLACEHOLDER, Binding, Path, as_scalar, compile_path
from mapper.spec import ConditionSpec, MappingSpec, ValueRule
from schemas.privacy import shape

_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")


@dataclass(frozen=True)
class Scope:
    """Where paths are evaluated: ``node`` (record, foreach item or ``within`` node), ``record`` (for ``^``
    paths) and ``emit_node`` (the node of the emit being mapped: the record or its ``foreach`` item)."""

    node: Any
    record: Any
    index: int
    binding: Binding
    warnings: list[str] = dc_field(default_factory=list)  # values dropped or kept raw, PII-free
    emit_node: Any = None
    emit_index: int = 0

    @classmethod
    def of_record(cls, node: Any, binding: Binding) -> Scope:
        return cls(node, node, 0, binding, [], node, 0)

    def item(self, node: Any, index: int) -> Scope:
        """The scope of a ``foreach`` item inside a field: same record, emit, binding and warnings."""
        return replace(self, node=node, index=index)

    def emit_item(self, node: Any, index: int) -> Scope:
        """The scope of one item of an emit's ``foreach``: the node ``ref`` reads the emit's id from."""
        return replace(self, node=node, index=index, emit_node=node, emit_index=index)

    def within(self, node: Any) -> Scope:
        """Paths of a ``within`` block are relative to its node; the item number stays."""
        return replace(self, node=node)

    def fresh(self) -> Scope:
        """The same place with its own warning list (one per canonical record)."""
        return replace(self, warnings=[])


Evaluator = Callable[[Scope], Any]


@dataclass(frozen=True)
class Ref:
    """A named emit's id as other canonical records of the same source record refer to it."""

    id: Evaluator
    per_item: bool  # the emit has a foreach: its id is read with the referring emit's current item

    def evaluate(self, scope: Scope) -> Any:
        if self.per_item:
            return self.id(replace(scope, node=scope.emit_node, index=scope.emit_index))
        return self.id(replace(scope, node=scope.record, index=0, emit_node=scope.record, emit_index=0))


Refs = dict[str, Ref]


class _Reader:
    """Reads one path, from the record when it starts with ``^``, else from the current node."""

    def __init__(self, spec: MappingSpec, expr: str) -> None:
        self.from_record = expr.startswith("^")
        self.path: Path = compile_path(spec.format, expr.lstrip("^"), spec.namespace_choices())

    def raw(self, scope: Scope) -> Any:
        return self.path.evaluate(scope.record if self.from_record else scope.node, scope.binding)

    def scalar(self, scope: Scope, field: str) -> Any:
        try:
            return as_scalar(self.raw(scope))
        except ValueError as exc:
            raise FieldMappingError(field, str(exc)) from exc


def rule_policy(spec: MappingSpec, rule: ValueRule) -> str:
    """What a failure of ``rule`` does: a required value always quarantines its record."""
    return "quarantine" if rule.required else (rule.on_error or spec.on_error)


def compile_rule(
    spec: MappingSpec, rule: ValueRule, field: str, *, strict: bool = False, refs: Refs | None = None
) -> Evaluator:
    """Compile ``rule`` for ``field`` (the canonical field path used in error messages and warnings).

    A failing read or transform follows the rule's policy (``rule_policy``): ``quarantine`` raises
    ``FieldMappingError``; ``drop`` leaves the value out and ``keep_raw`` keeps the text as sent, each with a
    warning on the scope. ``strict`` (record ids, deletions) always raises. ``refs`` are the named emits of
    the record spec, looked up when the rule is evaluated (an emit may refer to one defined after it).
    """
    source = _source(spec, rule, field, refs if refs is not None else {})
    table = spec.tables.get(rule.code) if isinstance(rule.code, str) else rule.code
    table_name = rule.code if isinstance(rule.code, str) else "inline"
    pattern = re.compile(rule.regex) if rule.regex else None
    on_error = "quarantine" if strict else rule_policy(spec, rule)
    on_unknown = "quarantine" if strict else (rule.on_unknown or on_error)

    def transform(value: Any) -> Any:
        if value is not None and pattern is not None:
            value = _regex(pattern, value, field)
        if isinstance(value, str) and rule.case:
            value = getattr(value, rule.case)()
        if value is not None and table is not None:
            value = _code(table, table_name, value, rule.default, field)
        if value is not None and rule.date:
            value = parse_date(value, rule.date, field)
        if value is not None and rule.decimal:
            value = _decimal(value, rule.decimal, field)
        return value

    def evaluate(scope: Scope) -> Any:
        raw: Any = None
        try:
            raw = _plain(source(scope), rule)
            value = transform(raw)
        except FieldMappingError as exc:
            policy = on_unknown if isinstance(exc, UnknownCodeError) else on_error
            if policy == "quarantine":
                raise
            value = raw if policy == "keep_raw" else None
            scope.warnings.append(f"{exc} ({'kept as sent' if value is not None else 'value dropped'})")
        if value is None:
            value = rule.default
        if value is None and rule.required:
            raise FieldMappingError(field, "required value is missing")
        return value

    return evaluate


def _plain(value: Any, rule: ValueRule) -> Any:
    """Numbers become text (unless a date or decimal is read from them); text is stripped."""
    if isinstance(value, int | float) and not isinstance(value, bool) and not (rule.date or rule.decimal):
        value = str(value)
    if isinstance(value, str) and rule.strip:
        value = value.strip() or None
    return value


def _source(spec: MappingSpec, rule: ValueRule, field: str, refs: Refs) -> Evaluator:
    if rule.ref is not None:
        name = rule.ref
        return lambda scope: refs[name].evaluate(scope)
    if rule.path is not None:
        reader = _Reader(spec, rule.path)
        return lambda scope: reader.scalar(scope, field)
    if rule.template is not None:
        return _template(spec, rule.template, field)
    constant = rule.const
    return lambda _scope: constant


def _template(spec: MappingSpec, template: str, field: str) -> Evaluator:
    parts: list[str | _Reader | None] = []  # None stands for the item number {#}
    pos = 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(template[pos:match.start()])
        expr = match.group(1)
        parts.append(None if expr == "#" else _Reader(spec, expr))
        pos = match.end()
    parts.append(template[pos:])

    def render(scope: Scope) -> str | None:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = scope.index if part is None else part.scalar(scope, field)
            if value is None:
                return None  # a template with a missing piece is missing as a whole
            out.append(str(value).strip() if not isinstance(value, float) else f"{value:g}")
        return "".join(out)

    return render


def _regex(pattern: re.Pattern[str], value: Any, field: str) -> str:
    match = pattern.search(str(value))
    if match is None:
        raise FieldMappingError(field, f"value shaped {shape(str(value))!r} does not match the rule's regex")
    return match.group(1) if pattern.groups else match.group(0)


def _code(table: dict[str, Any], name: str, value: Any, default: Any, field: str) -> Any:
    key = str(value).lower() if isinstance(value, bool) else str(value)
    if key in table:
        return table[key]
    if default is not None:
        return default
    # A value that misses the table may be free text (a name typed into a code field): only its shape.
    raise UnknownCodeError(field, f"code shaped {shape(key)!r} is not in code table {name!r}")


def parse_date(value: Any, formats: list[str], field: str) -> dt.date:
    """Parse ``value`` with the first matching format: iso, iso_datetime, ru or a strptime pattern."""
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in formats:
        parsed = _try_date(text, fmt)
        if parsed is not None:
            return parsed
    raise FieldMappingError(field, f"not a date in formats {', '.join(formats)} (shape {shape(text)!r})")


def _try_date(text: str, fmt: str) -> dt.date | None:
    try:
        if fmt == "iso":
            match = _ISO_DATE.match(text)  # 2019-04-30, 2019-04-30+04:00, 2019-04-30Z
            return dt.date.fromisoformat(match.group(1)) if match else None
        if fmt == "iso_datetime":
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return dt.datetime.strptime(text, "%d.%m.%Y" if fmt == "ru" else fmt).date()
    except ValueError:
        return None


def _decimal(value: Any, style: str, field: str) -> Decimal:
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if style == "comma":
        text = text.replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise FieldMappingError(field, f"not a decimal number (shape {shape(str(value))!r})") from exc


def compile_within(spec: MappingSpec, expr: str, field: str) -> Callable[[Scope], Scope | None]:
    """The scope inside a ``within`` block: None when the path finds no node; an error when several."""
    reader = _Reader(spec, expr)

    def enter(scope: Scope) -> Scope | None:
        found = reader.raw(scope)
        nodes = [] if found is None else found if isinstance(found, list) else [found]
        if len(nodes) > 1:
            raise FieldMappingError(field, f"within gives {len(nodes)} nodes where one is expected")
        return scope.within(nodes[0]) if nodes else None

    return enter


def compile_condition(spec: MappingSpec, cond: ConditionSpec, field: str) -> Callable[[Scope], bool]:
    """A predicate on the scope from ``cond``."""
    reader = _Reader(spec, cond.path)

    def test(scope: Scope) -> bool:
        value = reader.scalar(scope, field)
        if cond.present is not None:
            return (value is not None) == cond.present
        if cond.in_ is not None:
            return any(_same(value, v) for v in cond.in_)
        if cond.not_in is not None:
            return not any(_same(value, v) for v in cond.not_in)  # a missing value is in no list
        if cond.not_equals is not None:
            return not _same(value, cond.not_equals)
        return _same(value, cond.equals)

    return test


def _same(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(actual).lower() == str(expected).lower()
    return actual == expected or str(actual) == str(expected)

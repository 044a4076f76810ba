"""Validate a mapped record, dropping what the canonical model refuses rather than the whole record.

An invalid optional value (a SNILS whose checksum fails, a birth date in the future, a postcode of five
digits) is cut from the record with a warning, and the record is validated again: the person is kept with
what can be trusted. The record is refused (``RecordInvalidError``, quarantine) only when the value is one
the model requires (names, the record's own fields), when its field's policy is ``quarantine``, or when the
value is hostile or broken text (a NUL, a lone surrogate, megabytes, mojibake: ``schemas.base``).

What is cut is the smallest part that makes sense: the value itself (a five-digit postcode leaves the
address without its postcode), or the object it belongs to when a required part of that object is the
problem (an identifier without its number, a contact without its value) — a list item then leaves the list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from mapper.errors import RecordInvalidError
from schemas.base import TEXT_LIMIT, has_unstorable, hostile_message
from schemas.validation import error_list

MAX_ROUNDS = 8  # each round cuts at least one part; a record has few optional parts that can fail
_CUT = object()
_KEPT = {"record_kind", "provenance"}


def validate_keeping(
    model: type[BaseModel], kind: str, data: dict[str, Any], policy_of: Callable[[str], str],
    context: dict[str, Any] | None = None,
) -> tuple[BaseModel, list[str]]:
    """``model`` validated from ``data`` minus the parts it refuses; the warnings name what was cut.

    ``policy_of(top_level_field)`` is that field's on_error policy (``quarantine`` refuses the record);
    ``context``: pydantic's validation context (a mapping's ``min_evidence``).
    """
    warnings: list[str] = []
    for _ in range(MAX_ROUNDS):
        try:
            return model.model_validate(data, context=context), warnings
        except ValidationError as exc:
            cuts = _cuts(model, data, exc, policy_of)
            if cuts is None:
                raise RecordInvalidError(kind, error_list(exc)) from exc
            for loc, message in cuts:
                warnings.append(f"{kind}.{message} ({'.'.join(str(p) for p in loc)} dropped)")
                _mark(data, loc)
            data = _swept(data)
    raise RecordInvalidError(kind, [{"field": "(record)", "error": "too many invalid values", "type": "x"}])


def _cuts(model: type[BaseModel], data: dict[str, Any], exc: ValidationError,
          policy_of: Callable[[str], str]) -> list[tuple[tuple[Any, ...], str]] | None:
    out = []
    for err in exc.errors(include_url=False, include_context=False):  # the input is looked at, never kept
        if _hostile(err):
            return None  # hostile or broken text: the record and its bytes go to quarantine as they are
        loc = _existing(data, tuple(err["loc"]))
        if err["type"] == "missing" and loc == tuple(err["loc"]):
            loc = loc[:-1]  # a missing part: the object that lacks it goes
        item = next((loc[:i + 1] for i, part in enumerate(loc) if isinstance(part, int)), None)
        if item is not None and (len(loc) == len(item) or _required(model, loc)):
            loc = item  # an identifier without its number, a contact without its value: the item goes
        if not loc or str(loc[0]) in _KEPT or policy_of(str(loc[0])) == "quarantine":
            return None
        top = model.model_fields.get(str(loc[0]))
        if len(loc) == 1 and (top is None or top.is_required()):
            return None  # a value the model requires: nothing usable is left without it
        where = ".".join(str(p) for p in err["loc"])
        out.append((loc, f"{where}: {str(err['msg']).removeprefix('Value error, ')}"))
    return out


def _required(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    """Whether the field at ``loc`` (inside list items of ``model``) is one its object cannot lack."""
    current: Any = model
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return True  # below what the models describe: cut the whole item, as before
        field = current.model_fields.get(str(part))
        if field is None:
            return True
        current = _nested(field.annotation)
    return field is None or field.is_required()


def _nested(annotation: Any) -> Any:
    """The model inside ``list[X] | None``, ``X | None`` or ``X`` (None when there is none)."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _nested(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _hostile(err: Any) -> bool:
    value = err.get("input")
    huge_or_broken = isinstance(value, str) and (len(value) > TEXT_LIMIT or has_unstorable(value))
    return huge_or_broken or err["type"] == "string_unicode" or hostile_message(str(err["msg"]))


def _existing(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The longest prefix of ``loc`` that names a part of ``data`` (unions add tags that are not keys)."""
    node: Any = data
    found: tuple[Any, ...] = ()
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
        else:
            break
        found = (*found, part)
    return found


def _mark(data: Any, loc: tuple[Any, ...]) -> None:
    node = data
    for part in loc[:-1]:
        node = node[part]
        if node is _CUT:  # inside a part already cut (two errors in one identifier)
            return
    node[loc[-1]] = _CUT


def _swept(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _swept(v) for k, v in value.items() if v is not _CUT}
    if isinstance(value, list):
        return [_swept(v) for v in value if v is not _CUT]
    return value

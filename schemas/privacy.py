"""Describe a personal value without revealing it.

Validators, logs and quarantine reasons talk about the *shape* of a value (``999-999-999 99``, ``Яяяя``),
never the value itself: the hub's founding principle is confidentiality.
"""

from __future__ import annotations

from typing import Any

_MAX_SHAPE = 40


def _char_class(ch: str) -> str:
    if ch.isdigit():
        return "9"
    if "а" <= ch.lower() <= "я" or ch.lower() == "ё":
        return "Я" if ch.isupper() else "я"
    if ch.isascii() and ch.isalpha():
        return "A" if ch.isupper() else "a"
    if ch.isalpha():
        return "?"
    if ch.isspace():
        return " "
    if ch in "-./,()+_'":
        return ch
    return "*"


def shape(value: Any) -> str:
    """The shape of ``value``: digits as 9, Cyrillic as Я/я, Latin as A/a, other letters as ?.

    >>> shape("112-233-445 95")
    '999-999-999 99'
    """
    if value is None:
        return "null"
    if not isinstance(value, str):
        return type(value).__name__
    text = "".join(_char_class(c) for c in value[:_MAX_SHAPE])
    if len(value) > _MAX_SHAPE:
        text += f"… ({len(value)} chars)"
    return text


def describe(value: Any) -> str:
    """A short description for an error message: type, length and shape."""
    if isinstance(value, str):
        return f"a {len(value)}-character string shaped {shape(value)!r}"
    return f"a value of type {type(value).__name__}"

"""Streaming XML writing shared by the sandbox's XML formats (EGISSO packages, the accompaniment export)."""

from __future__ import annotations

from typing import Any, Protocol


class BinaryWritable(Protocol):
    """Anything with ``write(bytes)``: an open binary file, a socket file, a compressor, BytesIO."""

    def write(self, data: bytes, /) -> object: ...


def emit(xf: Any, node: tuple[Any, ...]) -> None:
    """Write ``node`` — ``(tag, content)`` or ``(tag, attributes, content)``, content being text or child
    nodes — into an open ``lxml.etree.xmlfile`` context. (Each format types its own nodes precisely.)"""
    tag, content = node[0], node[-1]
    attrs = node[1] if len(node) == 3 else {}
    with xf.element(tag, attrs):
        if isinstance(content, str):
            xf.write(content)
        else:
            for child in content:
                emit(xf, child)

"""Bounded inflation: gzip/deflate bodies and compressed files are inflated in steps, never at once.

A 600 KB gzip body can hold 600 MiB of zeros. ``zlib``'s ``max_length`` lets us inflate at most ``STEP``
bytes per call, so after every step we check two caps *before* memory grows any further:

* size: the inflated total may not exceed ``limit`` (the caller's cap for that kind of payload);
* ratio: past ``RATIO_FLOOR`` inflated bytes, inflated/compressed may not exceed ``max_ratio`` — text and
  JSON compress 5–20×; a bomb compresses 1,000× and more.

The stdlib ``zlib`` is the well-kept library here; only the stepping and the caps are ours. Over a cap a
``HostileBodyError`` is raised with what was read *as sent* (compressed, bounded) so it can be quarantined.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import IO

from connectors.errors import HostileBodyError

STEP = 1 << 20
READ_BLOCK = 64 << 10  # compressed bytes per read: at most MAX_RATIO × this is inflated before a check
MAX_RATIO = 100
RATIO_FLOOR = 8 << 20
KEEP_COMPRESSED = 16 << 20
GZIP_MAGIC = b"\x1f\x8b"


class Inflater:
    """Inflates one ``gzip`` / ``deflate`` (zlib or raw) / ``identity`` stream within the caps."""

    def __init__(self, encoding: str, limit: int, max_ratio: int = MAX_RATIO, what: str = "body") -> None:
        self.encoding = encoding.strip().lower() or "identity"
        if self.encoding not in ("gzip", "x-gzip", "deflate", "identity"):
            raise HostileBodyError(f"{what}: content encoding {self.encoding!r} is not accepted "
                                   "(gzip, deflate or none)")
        self.limit, self.max_ratio, self.what = limit, max_ratio, what
        self.read_in = 0
        self.out = 0
        self.kept = bytearray()  # the compressed bytes as sent, for a quarantine row (bounded)
        self._z: zlib._Decompress | None = None
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflated pieces of ``data`` (each at most ``STEP`` bytes)."""
        self.read_in += len(data)
        if len(self.kept) < KEEP_COMPRESSED:
            self.kept += data[: KEEP_COMPRESSED - len(self.kept)]
        if self.encoding == "identity":
            self._count(len(data))
            yield data
            return
        while data:
            z = self._decompressor(data)
            piece = z.decompress(data, STEP)
            self._count(len(piece))
            if piece:
                yield piece
            data = z.unconsumed_tail
            if not data and z.eof:
                data, self._z = z.unused_data, None  # a further gzip member follows
                if data and not data.startswith(GZIP_MAGIC):
                    raise HostileBodyError(f"{self.what}: bytes after the end of the compressed stream",
                                           bytes(self.kept))

    def close(self) -> None:
        """The stream ended: it must be a complete compressed stream."""
        if self._z is not None and not self._z.eof:
            raise HostileBodyError(f"{self.what}: the compressed stream is truncated", bytes(self.kept))

    def _decompressor(self, data: bytes) -> zlib._Decompress:
        if self._z is None:
            if self.encoding in ("gzip", "x-gzip"):
                wbits = 16 + zlib.MAX_WBITS
            else:  # "deflate" is zlib-wrapped by the RFC, raw in some servers: the first byte tells
                wbits = zlib.MAX_WBITS if data[:1] and (data[0] & 0x0F) == 8 else -zlib.MAX_WBITS
            self._z = zlib.decompressobj(wbits)
        return self._z

    def _count(self, n: int) -> None:
        self.out += n
        if self.out > self.limit:
            raise HostileBodyError(
                f"{self.what} inflates past the {self.limit >> 20} MiB limit (refused after "
                f"{self.read_in} bytes read)", bytes(self.kept))
        bomb = self.out > RATIO_FLOOR and self.out > self.max_ratio * self.read_in
        if self.encoding != "identity" and bomb:
            raise HostileBodyError(
                f"{self.what} inflates more than {self.max_ratio}:1 ({self.out >> 20} MiB from "
                f"{self.read_in} bytes; refused as a decompression bomb)", bytes(self.kept))


def inflate_all(chunks: Iterable[bytes], encoding: str, limit: int, what: str = "body") -> bytes:
    """The whole inflated body of ``chunks`` within the caps."""
    inflater, out = Inflater(encoding, limit, what=what), bytearray()
    for chunk in chunks:
        for piece in inflater.feed(chunk):
            out += piece
    inflater.close()
    return bytes(out)


class InflatingReader:
    """A read-only binary stream over a compressed file (``.gz``): ``read(n)`` inflates within the caps."""

    def __init__(self, raw: IO[bytes], limit: int, what: str = "file") -> None:
        self.raw, self.inflater = raw, Inflater("gzip", limit, what=what)
        self.buffer, self.done = bytearray(), False

    def read(self, n: int = -1) -> bytes:
        while not self.done and (n < 0 or len(self.buffer) < n):
            block = self.raw.read(READ_BLOCK)
            if not block:
                self.inflater.close()
                self.done = True
                break
            for piece in self.inflater.feed(block):
                self.buffer += piece
        if n < 0:
            n = len(self.buffer)
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> InflatingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_gzip(head: bytes) -> bool:
    return head.startswith(GZIP_MAGIC)

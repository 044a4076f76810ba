"""ZIP archives in a drop folder: each data file inside is a payload of its own, inflated within caps.

An agency that zips its export (one file or a district's twelve) is read as if the files had been dropped
one by one: each member is hashed, stored and mapped on its own, so a bad member costs that member and a
member already processed is skipped by its hash. Nothing is ever extracted to disk: member names are only
labels (a ``../../etc/passwd`` member is just a name), and each member is read through ``zipfile`` (the
stdlib, well kept) in bounded steps with our caps on top:

* the inflated size of a member may not exceed the caller's ``limit``;
* past ``RATIO_FLOOR`` bytes, inflated/compressed may not exceed ``MAX_RATIO`` (as for ``.gz``);
* the archive may list at most ``MAX_MEMBERS`` entries (a central directory of a million entries is a
  denial of service on its own);
* encrypted members, unsupported compression methods, a CRC that does not match and nested archives are
  refused by name; a file that is not a ZIP archive at all is refused whole.

Refusals are ``HostileBodyError`` (quarantined with the archive's first bytes as sent) or a skipped member
(``Member.skip``), logged by name and counted like any refused drop-folder entry.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from connectors.errors import HostileBodyError
from connectors.inflate import MAX_RATIO, RATIO_FLOOR, STEP

MAX_MEMBERS = 10_000
ARCHIVE_SUFFIXES = (".zip",)
_DATA_SUFFIXES = (".xml", ".json", ".jsonl", ".ndjson", ".csv")
_SILENT = "__MACOSX/"  # a Finder's resource forks (and hidden files, below): not the agency's data


@dataclass(frozen=True)
class Member:
    """One entry of an archive: read it, or why not — ``skip`` (not this source's data: logged and
    counted as refused) or ``unreadable`` (data the hub cannot read: quarantined with its bytes)."""

    name: str
    info: zipfile.ZipInfo
    skip: str | None = None
    unreadable: str | None = None


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


class Archive:
    """A ZIP archive opened over an open drop-folder file (never a path: the file was checked open)."""

    def __init__(self, stream: IO[bytes], name: str, limit: int) -> None:
        self.name, self.limit, self._size = name, limit, _size_of(stream)
        try:
            self._zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise HostileBodyError(f"{name}: not a readable ZIP archive ({type(exc).__name__})",
                                   _head(stream)) from None
        if len(self._zip.infolist()) > MAX_MEMBERS:
            raise HostileBodyError(f"{name}: the archive lists {len(self._zip.infolist())} entries "
                                   f"(more than {MAX_MEMBERS}; refused unread)", _head(stream))
        self._stream = stream

    def members(self, patterns: list[str]) -> list[Member]:
        """The data members in name order, and the entries refused with why (hidden files are ignored)."""
        wanted = [p for p in patterns if not is_archive(p)]  # the patterns of the data files themselves
        out = []
        for info in sorted(self._zip.infolist(), key=lambda i: i.filename):
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or info.filename.startswith(_SILENT) or base.startswith("."):  # not ../x
                continue
            if is_archive(base) or base.lower().endswith((".gz", ".tar", ".7z", ".rar")):
                out.append(Member(info.filename, info, unreadable="an archive inside the archive (not read)"))
            elif wanted and not any(fnmatch.fnmatchcase(base, p) for p in wanted):
                out.append(Member(info.filename, info, skip="does not match the source's file patterns"))
            elif not wanted and not base.lower().endswith(_DATA_SUFFIXES):
                out.append(Member(info.filename, info, skip="not a data file (xml, json, jsonl, csv)"))
            else:
                out.append(Member(info.filename, info, unreadable=_unreadable(info)))
        return out

    def open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        """The member's content, inflated within the caps (a fresh reader each time)."""
        try:
            inner = self._zip.open(info)
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile, ValueError) as exc:
            raise self.refused(f"the member cannot be read ({_why(exc)})", info) from None
        compressed = min(info.compress_size, self._size) or 1
        return io.BufferedReader(_Bounded(inner, self, info, compressed), STEP)

    def sha256(self, info: zipfile.ZipInfo) -> tuple[str, int]:
        """(sha256, size) of the member's content, read once within the caps."""
        digest, size = hashlib.sha256(), 0
        with self.open(info) as stream:
            while block := stream.read(STEP):
                digest.update(block)
                size += len(block)
        return digest.hexdigest(), size

    def refused(self, why: str, info: zipfile.ZipInfo) -> HostileBodyError:
        """The error for a member, holding the member's bytes as sent (its local header and compressed
        data, bounded): each member's quarantine row is its own, and the same on every rerun."""
        return HostileBodyError(f"{self.name}: {why}", self._raw(info))

    def _raw(self, info: zipfile.ZipInfo, limit: int = 1 << 20) -> bytes:
        self._stream.seek(info.header_offset)
        header = self._stream.read(30)
        if len(header) < 30:
            return header
        names = int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        return header + self._stream.read(max(0, min(names + info.compress_size, limit - 30)))


class _Bounded(io.RawIOBase):
    """A member's inflated bytes, refused past the size or ratio cap before memory grows further."""

    def __init__(self, inner: IO[bytes], archive: Archive, info: zipfile.ZipInfo, compressed: int) -> None:
        self.inner, self.archive, self.info, self.compressed, self.out = inner, archive, info, compressed, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(min(len(buffer), STEP))  # zipfile inflates at most this much per call
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise self.archive.refused(f"the member is damaged ({_why(exc)})", self.info) from None
        self.out += len(data)
        if self.out > self.archive.limit:
            raise self.archive.refused(f"the member inflates past the {self.archive.limit >> 20} MiB limit",
                                       self.info)
        if self.out > RATIO_FLOOR and self.out > MAX_RATIO * self.compressed:
            raise self.archive.refused(f"the member inflates more than {MAX_RATIO}:1 ({self.out >> 20} MiB "
                                       f"from {self.compressed} bytes; refused as a decompression bomb)",
                                       self.info)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def _unreadable(info: zipfile.ZipInfo) -> str | None:
    if info.flag_bits & 0x1:
        return "an encrypted member (not read)"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                  zipfile.ZIP_LZMA):
        return f"compression method {info.compress_type} is not supported"
    return None


def _why(exc: BaseException) -> str:
    text = str(exc)
    if "CRC" in text:
        return "its CRC does not match"
    if "encrypted" in text.lower() or "password" in text.lower():
        return "it is encrypted"
    return type(exc).__name__


def _size_of(stream: IO[bytes]) -> int:
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end


def _head(stream: IO[bytes], limit: int = 1 << 20) -> bytes:
    stream.seek(0)
    return stream.read(limit)


def reopener(archive: Archive, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return lambda: archive.open(info)

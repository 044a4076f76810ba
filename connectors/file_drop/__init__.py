"""File drop: the agency puts files in a folder; each file is processed once, by content hash.

The connection's ``extra.path`` names the folder. Only regular files inside it are read (``helpers``:
no symbolic links, devices, FIFOs or hard links; each open re-checked against the listing); a refused
entry is logged by name, counted in the pull's ``refused`` and never read. A file whose sha256 the
registry has already processed is skipped (that is the mark); with ``options.after: move`` it is also
moved to ``processed/`` after commit. ``.gz`` files are inflated in a stream within the caps of
``connectors.inflate``; each data file inside a ``.zip`` is a payload of its own (``archive``).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from connectors.base import Payload, failed_payload
from connectors.errors import HostileBodyError
from connectors.file_drop.archive import Archive, Member, is_archive, reopener
from connectors.file_drop.helpers import DropFolder, Entry, RefusedEntryError, check_patterns, file_sha256
from connectors.file_drop.settings import PATTERNS

log = logging.getLogger("hub.connectors.file_drop")
ARCHIVE_MEMBER_LIMIT = 16 << 30  # as for a .gz file: the size cap on one member's inflated content
_TYPES = {".json": "application/json", ".jsonl": "application/x-ndjson", ".ndjson": "application/x-ndjson",
          ".csv": "text/csv", ".xml": "application/xml"}


def content_type_of(name: str) -> str:
    """The media type a file name stands for (``.gz`` looks at the name inside)."""
    stem = name[:-3] if name.lower().endswith(".gz") else name
    return _TYPES.get(Path(stem).suffix.lower(), "application/xml")


class FileDropConnector:
    """Yields each new complete file of the drop folder as a payload (streamed, never read whole)."""

    retries = 0

    def __init__(self, folder: Path, patterns: list[str] | None = None, after: str = "keep") -> None:
        self.folder, self.patterns, self.after = folder, list(patterns or PATTERNS), after
        check_patterns(self.patterns)
        self.refused: list[tuple[str, str]] = []

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        drop = DropFolder(str(self.folder))
        try:
            entries, self.refused = drop.scan(self.patterns)
            for entry in entries:
                try:
                    stream = drop.open(entry)
                except RefusedEntryError as exc:
                    self.refused.append((entry.name, str(exc).partition(": ")[2]))
                    continue
                # One descriptor for the payload's whole life (hash, store, map): a file replaced by
                # rename meanwhile is still read as it was when hashed.
                with stream:
                    if is_archive(entry.name):
                        yield from self._members(drop, entry, stream)
                    else:
                        yield self._payload(drop, entry, stream)
        finally:
            for name, why in self.refused:
                log.warning("drop folder entry %s refused: %s (not read)", name, why)
            drop.close()

    def _payload(self, drop: DropFolder, entry: Entry, stream: IO[bytes]) -> Payload:
        digest, size = file_sha256(stream)
        meta: dict[str, Any] = {"sha256": digest, "size": size}
        if entry.name.lower().endswith(".gz"):
            meta["compression"] = "gzip"
        return Payload(
            {"file": entry.name, "sha256": digest},
            content_type_of(entry.name),
            after_commit=self._mover(drop, entry) if self.after == "move" else None,
            meta=meta,
            open=_reopener(stream),
        )

    def _members(self, drop: DropFolder, entry: Entry, stream: IO[bytes]) -> Iterator[Payload]:
        """One payload per data member of a ZIP archive; the archive is moved after its last member."""
        where = {"file": entry.name}
        try:
            archive = Archive(stream, entry.name, ARCHIVE_MEMBER_LIMIT)
        except HostileBodyError as exc:
            yield failed_payload(where, exc)
            return
        members = archive.members(self.patterns)
        self.refused += [(f"{entry.name}/{m.name}", m.skip) for m in members if m.skip]
        readable = [m for m in members if m.skip is None]
        for i, member in enumerate(readable):
            payload = self._member(archive, member, {**where, "member": member.name})
            if self.after == "move" and i == len(readable) - 1:
                payload = dataclasses.replace(payload, after_commit=self._mover(drop, entry))
            yield payload

    @staticmethod
    def _member(archive: Archive, member: Member, position: dict[str, Any]) -> Payload:
        try:
            if member.unreadable:
                raise archive.refused(member.unreadable, member.info)
            digest, size = archive.sha256(member.info)
        except HostileBodyError as exc:
            return failed_payload(position, exc)
        return Payload({**position, "sha256": digest}, content_type_of(member.name),
                       meta={"sha256": digest, "size": size, "archive": position["file"]},
                       open=reopener(archive, member.info))

    @staticmethod
    def _mover(drop: DropFolder, entry: Entry) -> Callable[[], None]:
        return lambda: drop.move_to_processed(entry)


def _reopener(stream: IO[bytes]) -> Callable[[], IO[bytes]]:
    """A fresh reader of the same open file from its start, with its own offset (``pread``)."""
    return lambda: io.BufferedReader(_PositionalReader(stream.fileno()), 1 << 20)


class _PositionalReader(io.RawIOBase):
    """Reads an open descriptor with ``pread`` from its own offset; closing it leaves the descriptor open."""

    def __init__(self, fd: int) -> None:
        self.fd, self.offset = fd, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self.fd, len(buffer), self.offset)
        buffer[: len(data)] = data
        self.offset += len(data)
        return len(data)

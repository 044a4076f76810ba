"""Helpers of the file-drop connector: list and open only regular files that live inside the folder.

An agency (or anyone who can write to its drop folder) controls the folder's entries, so every entry is
distrusted: the folder is opened once (``O_DIRECTORY``) and every name is looked up *relative to that
descriptor*, never as a path string that a swapped directory could redirect. An entry is a candidate
only if ``lstat`` says it is a regular file with one link: a symbolic link (``SZN_1.xml -> /etc/passwd``),
a device, a FIFO, a socket, a folder or a hard link (a second name for a file that may live elsewhere on
the same file system) is refused by name, counted and never opened. Each open uses ``O_NOFOLLOW |
O_NONBLOCK`` and then compares ``fstat``'s device and inode with what the listing saw, so an entry
swapped for a link between listing and reading is refused too.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass
from typing import IO

from connectors.errors import ConnectionConfigError, ProtocolViolationError
from connectors.file_drop.settings import HASH_BLOCK

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class RefusedEntryError(ProtocolViolationError):
    """A drop-folder entry that is not a regular file inside the folder (never read)."""


@dataclass(frozen=True)
class Entry:
    """A regular file of the drop folder as the listing saw it."""

    name: str
    dev: int
    ino: int
    size: int


def check_patterns(patterns: list[str]) -> None:
    """Patterns match names inside the folder only: no separators, no ``..``."""
    for pattern in patterns:
        if "/" in pattern or "\\" in pattern or ".." in pattern or not pattern.strip():
            raise ConnectionConfigError(
                f"file-drop pattern {pattern!r} may only match names inside the folder (no '/', no '..')"
            )


def refusal(st: os.stat_result) -> str | None:
    """Why an entry with this ``lstat`` is not read (None: a regular file with one link)."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, FIFO or socket)"
    if st.st_nlink > 1:
        return f"a file with {st.st_nlink} hard links (it may be a second name for a file outside the folder)"
    return None


class DropFolder:
    """The drop folder, opened once; names are resolved relative to its descriptor."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise ConnectionConfigError(f"drop folder cannot be opened ({type(exc).__name__})") from None

    def close(self) -> None:
        os.close(self.fd)

    def scan(self, patterns: list[str]) -> tuple[list[Entry], list[tuple[str, str]]]:
        """(candidates in name order, refused (name, why)) among the entries matching ``patterns``.

        Names starting with a dot are a writer's unfinished ``.name.part`` files: skipped silently.
        """
        accepted, refused = [], []
        with os.scandir(self.fd) as entries:
            for item in entries:
                name = item.name
                if name.startswith(".") or not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                    continue
                st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
                why = refusal(st)
                if why is None:
                    accepted.append(Entry(name, st.st_dev, st.st_ino, st.st_size))
                else:
                    refused.append((name, why))
        return sorted(accepted, key=lambda e: e.name), sorted(refused)

    def open(self, entry: Entry) -> IO[bytes]:
        """The entry opened for reading, if it is still the regular file the listing saw."""
        try:
            fd = os.open(entry.name, _OPEN_FLAGS, dir_fd=self.fd)
        except OSError as exc:  # ELOOP: it became a symbolic link
            raise RefusedEntryError(f"{entry.name}: cannot be opened safely ({type(exc).__name__})") from None
        st = os.fstat(fd)
        why = refusal(st) or (None if (st.st_dev, st.st_ino) == (entry.dev, entry.ino)
                              else "replaced by another file after it was listed")
        if why is not None:
            os.close(fd)
            raise RefusedEntryError(f"{entry.name}: {why}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def move_to_processed(self, entry: Entry) -> None:
        """Move a processed file to ``processed/`` inside the folder (a real folder, never a link)."""
        with contextlib.suppress(FileExistsError):
            os.mkdir("processed", 0o750, dir_fd=self.fd)
        if not stat.S_ISDIR(os.stat("processed", dir_fd=self.fd, follow_symlinks=False).st_mode):
            raise ConnectionConfigError("the drop folder's 'processed' entry is not a folder")
        os.rename(entry.name, f"processed/{entry.name}", src_dir_fd=self.fd, dst_dir_fd=self.fd)


def file_sha256(stream: IO[bytes]) -> tuple[str, int]:
    """(sha256 hex, size) of an open file, read in blocks from its start."""
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    while block := stream.read(HASH_BLOCK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size

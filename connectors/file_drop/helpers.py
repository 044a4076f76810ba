"""Helpers of the file-drop connector."""

from __future__ import annotations

import hashlib
from pathlib import Path

from connectors.file_drop.settings import HASH_BLOCK


def file_sha256(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read in blocks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def candidate_files(folder: Path, patterns: list[str]) -> list[Path]:
    """Complete files matching ``patterns``, in name order (a writer's ``.name.part`` files are skipped)."""
    found = {p for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    return sorted((p for p in found if not p.name.startswith(".")), key=lambda p: p.name)

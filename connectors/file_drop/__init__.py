"""File drop: the agency puts files in a folder; each file is processed once, by content hash.

The connection's ``extra.path`` names the folder. A file whose sha256 the registry has already processed is
skipped (that is the mark); with ``options.after: move`` it is also moved to ``processed/`` after commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.base import Payload
from connectors.file_drop.helpers import candidate_files, file_sha256
from connectors.file_drop.settings import PATTERNS


class FileDropConnector:
    """Yields each new complete file of the drop folder as a payload (streamed, never read whole)."""

    retries = 0

    def __init__(self, folder: Path, patterns: list[str] | None = None, after: str = "keep") -> None:
        self.folder, self.patterns, self.after = folder, list(patterns or PATTERNS), after

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        if not self.folder.is_dir():
            from connectors.errors import ConnectionConfigError

            raise ConnectionConfigError(f"drop folder {self.folder} does not exist")
        for path in candidate_files(self.folder, self.patterns):
            digest, size = file_sha256(path)
            meta: dict[str, Any] = {"sha256": digest, "size": size}
            yield Payload(
                {"file": path.name, "sha256": digest},
                "application/json" if path.suffix == ".json" else "application/xml",
                path=path,
                after_commit=self._mover(path) if self.after == "move" else None,
                meta=meta,
            )

    def _mover(self, path: Path) -> Any:
        def move() -> None:
            target = path.parent / "processed"
            target.mkdir(exist_ok=True)
            path.replace(target / path.name)

        return move

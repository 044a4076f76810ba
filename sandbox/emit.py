"""What every agency emitter shares: the night, truth rows, stable ids, record-level randomness.

An emitter turns true families into one agency's records (with that agency's noise) and files, and returns a
truth row for every source record it wrote. Emitters write one set of files per chunk of families, so that
chunks can be generated in parallel and concatenated in order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from sandbox.noise import NoiseCounter, NoiseRates
from sandbox.population import TrueFamily

REGION_TZ = dt.timezone(dt.timedelta(hours=3))  # Новгородская область: Moscow time


@dataclass(frozen=True)
class Night:
    """One nightly delivery: number 1 is the initial load, each ``advance`` adds one."""

    number: int
    date: dt.date

    @property
    def timestamp(self) -> str:
        """When the agencies' systems recorded this night's changes (01:00 local time)."""
        return dt.datetime.combine(self.date, dt.time(1, 0), REGION_TZ).isoformat()

    @property
    def tag(self) -> str:
        return f"{self.number:04d}"


@dataclass
class TruthRow:
    """Ground truth of one source record: the true person and/or family behind it."""

    source: str
    kind: str
    source_record_id: str
    pid: str | None
    fid: str | None
    night: int
    noise: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class EmitContext:
    """Everything an emitter needs besides the families."""

    root: Path
    seed: int
    night: Night
    chunk: int
    rates: NoiseRates
    counter: NoiseCounter

    def path(self, source: str, stem: str, suffix: str) -> Path:
        """``<root>/<source>/night-NNNN/<stem>-CCCCC.<suffix>`` (folders created)."""
        folder = self.root / source / f"night-{self.night.tag}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{stem}-{self.chunk:05d}.{suffix}"


class Emitter(Protocol):
    """One agency's view of the families of a chunk."""

    source: str

    def add_family(self, family: TrueFamily) -> list[TruthRow]:
        """Write the agency's records of ``family`` (new or changed tonight); return their truth."""

    def remove_family(self, family: TrueFamily) -> list[TruthRow]:
        """Write what the agency sends when ``family`` leaves it (deletion, termination)."""

    def close(self) -> None:
        """Finish the chunk's files."""


def record_rng(seed: int, source: str, key: str) -> random.Random:
    """Randomness of one source record: the same record gets the same noise every night."""
    return random.Random(f"{seed}:{source}:{key}")


def stable_hex(seed: int, *parts: str, length: int = 12) -> str:
    """A stable pseudo-random hex id from ``parts`` (agency-local ids that reveal nothing of the truth)."""
    digest = hashlib.sha256(":".join((str(seed), *parts)).encode()).hexdigest()
    return digest[:length]


def stable_uuid(seed: int, *parts: str) -> str:
    """A stable UUID-shaped id (version 4 layout) from ``parts``."""
    h = stable_hex(seed, *parts, length=32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


_ENCODER = msgspec.json.Encoder(order="sorted")  # ~15x faster than json.dumps(sort_keys=True) per line


class JsonLines:
    """Append JSON objects, one per line, to a file opened lazily (no empty files for empty chunks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None

    def write(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = self.path.open("wb")
        self._fh.write(_ENCODER.encode(obj) + b"\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def one_line_address(address: dict[str, str]) -> str:
    """The address as agencies type it on one line."""
    district = address.get("district")
    parts = [address.get("postal_code"), address["region"],
             district if district != address["locality"] else None,
             address["locality"], address["street"], f"д. {address['house']}"]
    if address.get("apartment"):
        parts.append(f"кв. {address['apartment']}")
    return ", ".join(p for p in parts if p)

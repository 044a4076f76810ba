"""``hub sandbox generate``: the initial load (night 1) of every agency, plus ground truth.

Families are generated in chunks of ``CHUNK`` by a process pool; every chunk writes its own files, named by
chunk number, so the output is byte-for-byte the same for a seed whatever the number of workers.

Layout of ``DIR``::

    sandbox.json                          seed, size, current night, noise rates, agency credentials
    truth/world/chunk-CCCCC.jsonl         the true families (current state)        ┐ only tests and
    truth/night-NNNN/records-CCCCC.jsonl  source record → true person / family     │ benchmarks read
    truth/night-NNNN/noise.json           eligible / applied counts per noise kind ┘ these
    social_protection/drop/               EGISSO packages and case files (nightly file drop)
    health/night-NNNN/                    FHIR resources served by the health API
    education/night-NNNN/                 students served through the SMEV-style exchange
    ngo/night-NNNN/                       participants and participations served by the NGO API
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.advance import NEW_FAMILIES_PER_NIGHT, evolve_chunk
from sandbox.care import add_care
from sandbox.emit import EmitContext, Emitter, JsonLines, Night, stable_hex
from sandbox.noise import DEFAULT_RATES, NoiseCounter, NoiseRates
from sandbox.population import TrueFamily, generate_family

CHUNK = 2_000
DEFAULT_START = dt.date(2026, 11, 1)
EMITTERS: dict[str, str] = {
    "education": "sandbox.agencies.education:EducationEmitter",
    "health": "sandbox.agencies.health:HealthEmitter",
    "ngo": "sandbox.agencies.ngo:NgoEmitter",
    "social_protection": "sandbox.agencies.social_protection:SocialProtectionEmitter",
}
"""Agency → emitter class (imported lazily so a worker imports only what it uses)."""


@dataclass
class SandboxConfig:
    """``DIR/sandbox.json``: what generated the sandbox and what ``advance`` and ``serve`` need."""

    seed: int
    families: int
    start_date: str
    night: int = 1
    rates: dict[str, dict[str, float]] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    next_index: int = 0

    def noise(self, source: str) -> NoiseRates:
        return NoiseRates.from_dict(self.rates[source])

    def night_of(self, number: int) -> Night:
        start = dt.date.fromisoformat(self.start_date)
        return Night(number, start + dt.timedelta(days=number - 1))

    def save(self, root: Path) -> None:
        (root / "sandbox.json").write_text(
            json.dumps(self.__dict__, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")

    @classmethod
    def load(cls, root: Path) -> SandboxConfig:
        path = root / "sandbox.json"
        if not path.exists():
            raise FileNotFoundError(f"{root} is not a sandbox (no sandbox.json); run hub sandbox generate")
        return cls(**json.loads(path.read_text("utf-8")))


def credentials(seed: int) -> dict[str, str]:
    """The agencies' secrets for this sandbox (the hub gets them from its environment, not from here)."""
    return {
        "health_token": "sbx-health-" + stable_hex(seed, "health-token", length=24),
        "health_client_id": "family-hub",
        "health_client_secret": "sbx-oauth-" + stable_hex(seed, "health-oauth", length=24),
        "ngo_api_key": "sbx-ngo-" + stable_hex(seed, "ngo-key", length=24),
        "education_node": "sbx-edu-" + stable_hex(seed, "edu-node", length=8),
    }


def emitter_factory(source: str) -> Callable[[EmitContext], Emitter]:
    module, _, name = EMITTERS[source].partition(":")
    factory: Callable[[EmitContext], Emitter] = getattr(importlib.import_module(module), name)
    return factory


def generate(
    out: Path, families: int, seed: int, *, start_date: dt.date = DEFAULT_START,
    rates: dict[str, NoiseRates] | None = None, workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Generate night 1 of a sandbox of ``families`` families into ``out``; return a summary."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "sandbox.json").exists():
        raise FileExistsError(f"{out} already holds a sandbox; choose an empty folder")
    rates = {**DEFAULT_RATES, **(rates or {})}
    config = SandboxConfig(seed, families, start_date.isoformat(), 1,
                           {k: v.to_dict() for k, v in sorted(rates.items())}, credentials(seed), families)
    jobs = [ChunkJob(str(out), config.__dict__, c, range(lo, min(lo + CHUNK, families)))
            for c, lo in enumerate(range(0, families, CHUNK))]
    summary = run_chunks(jobs, workers, progress)
    write_noise(out, config.night_of(1), summary.pop("noise"))
    config.save(out)
    return {"out": str(out), "seed": seed, "families": families, "night": 1, **summary}


@dataclass
class ChunkJob:
    """One chunk of families for one night (picklable for the process pool).

    ``advance=False``: generate families ``indices`` fresh; ``advance=True``: evolve the chunk's world file.
    """

    root: str
    config: dict[str, Any]
    chunk: int
    indices: Iterable[int] = ()
    advance: bool = False


def run_chunks(
    jobs: list[ChunkJob], workers: int | None, progress: Callable[[int], None] | None
) -> dict[str, Any]:
    """Run the chunk jobs (in parallel when it pays) and add up their counts."""
    totals: dict[str, Any] = {"records": {}, "noise": NoiseCounter()}
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        results = map(emit_chunk, jobs)
        _collect(results, totals, progress)
    else:
        # forkserver: forking a process that runs threads (a test with sandbox servers) can deadlock
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            _collect(pool.map(emit_chunk, jobs), totals, progress)
    return totals


def _collect(results: Iterable[dict[str, Any]], totals: dict[str, Any],
             progress: Callable[[int], None] | None) -> None:
    for result in results:
        for key, n in result["records"].items():
            totals["records"][key] = totals["records"].get(key, 0) + n
        counter = NoiseCounter()
        counter.eligible.update({tuple(k.split("|")): v for k, v in result["eligible"].items()})
        counter.applied.update({tuple(k.split("|")): v for k, v in result["applied"].items()})
        totals["noise"].merge(counter)
        if progress:
            progress(result["families"])


def emit_chunk(job: ChunkJob) -> dict[str, Any]:
    """Generate (or take) one chunk's families, write the agencies' files, truth and world state."""
    config = SandboxConfig(**job.config)
    root, night = Path(job.root), config.night_of(config.night)
    counter = NoiseCounter()
    emitters: dict[str, Emitter] = {}
    truth = JsonLines(_truth_dir(root, night) / f"records-{job.chunk:05d}.jsonl")
    families, world_families = _families(job, config, night)
    counts: dict[str, int] = {}
    for family, removed in families:
        for source in (s for s in family.agencies if s in EMITTERS):
            emitter = emitters.get(source)
            if emitter is None:
                ctx = EmitContext(root, config.seed, night, job.chunk, config.noise(source), counter)
                emitter = emitters[source] = emitter_factory(source)(ctx)
            rows = emitter.remove_family(family) if removed else emitter.add_family(family)
            for row in rows:
                truth.write(row.as_dict())
                counts[f"{row.source}.{row.kind}"] = counts.get(f"{row.source}.{row.kind}", 0) + 1
    for emitter in emitters.values():
        emitter.close()
    truth.close()
    _write_world(root, job.chunk, world_families)
    return {"records": counts, "families": len(families),
            "eligible": {"|".join(k): v for k, v in counter.eligible.items()},
            "applied": {"|".join(k): v for k, v in counter.applied.items()}}


def _families(
    job: ChunkJob, config: SandboxConfig, night: Night
) -> tuple[list[tuple[TrueFamily, bool]], list[TrueFamily]]:
    """(families to emit tonight with their 'removed' flag, the chunk's whole world afterwards)."""
    if job.advance:
        world = read_world_chunk(Path(job.root), job.chunk)
        changed, removed = evolve_chunk(world, config.seed, night.number, night.date)
        return [(f, False) for f in changed] + [(f, True) for f in removed], world
    fresh = [add_care(generate_family(config.seed, i, night.date), config.seed, night.date)
             for i in job.indices]
    return [(f, False) for f in fresh], fresh


def world_chunks(root: Path) -> list[int]:
    """The chunk numbers of the world, in order."""
    return sorted(int(p.stem.split("-")[1]) for p in (root / "truth" / "world").glob("chunk-*.jsonl"))


def read_world_chunk(root: Path, chunk: int) -> list[TrueFamily]:
    path = root / "truth" / "world" / f"chunk-{chunk:05d}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [TrueFamily.from_dict(json.loads(line)) for line in fh]


def _write_world(root: Path, chunk: int, families: list[TrueFamily]) -> None:
    # Written to a temporary name and renamed, so an interrupted run never leaves half a world.
    path = root / "truth" / "world" / f"chunk-{chunk:05d}.jsonl"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"")  # an empty chunk is an empty file, not a missing one
    lines = JsonLines(tmp)
    for family in families:
        lines.write(family.to_dict())
    lines.close()
    tmp.replace(path)


def advance(root: Path, *, workers: int | None = None,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Make the next night: evolve every world chunk, add new families, write the agencies' changes."""
    config = SandboxConfig.load(root)
    config.night += 1
    chunks = world_chunks(root)
    jobs = [ChunkJob(str(root), config.__dict__, c, advance=True) for c in chunks]
    new = max(1, round(config.families * NEW_FAMILIES_PER_NIGHT))
    first, config.next_index = config.next_index, config.next_index + new
    jobs.append(ChunkJob(str(root), config.__dict__, (chunks[-1] + 1) if chunks else 0,
                         range(first, first + new)))
    summary = run_chunks(jobs, workers, progress)
    write_noise(root, config.night_of(config.night), summary.pop("noise"))
    config.save(root)
    return {"out": str(root), "night": config.night, "new_families": new, **summary}


def _truth_dir(root: Path, night: Night) -> Path:
    folder = root / "truth" / f"night-{night.tag}"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "truth" / "world").mkdir(parents=True, exist_ok=True)
    return folder


def write_noise(root: Path, night: Night, counter: NoiseCounter) -> None:
    """``truth/night-NNNN/noise.json``: eligible and applied counts per source and noise kind."""
    path = _truth_dir(root, night) / "noise.json"
    path.write_text(json.dumps(counter.as_dict(), indent=2, sort_keys=True) + "\n", "utf-8")

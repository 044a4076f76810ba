"""``python -m bench.pull``: pull benchmarks with one JSON document on stdout (progress goes to stderr).

1. **Throughput per source.** One sandbox is generated (or reused with ``--data``); each source is served a
   prefix of whole generation chunks holding at least ``--records`` source records (truth rows), through
   symlinks in a *view* folder (copies for the file drop, which reads no links), so one generation serves
   every source at about the same size. The sandbox
   servers run in a child process (``python -m sandbox.server``, faults 0) so they do not share the GIL
   with the pull being timed. ``Puller(...).run()`` is timed per source into a fresh database; then, in the
   same run, the same payloads are read and mapped without staging (``map_only``) and only parsed
   (``parse_only``: ``json.loads``, or raw ``lxml.etree.iterparse`` counting elements for XML). The pull is
   then run a second time (``rerun``: everything is already processed).
2. **Peak memory of a 10× larger XML file.** Two EGISSO 10.06.S packages of N and 10·N facts are written
   with ``EgissoFileWriter`` and pulled by the real pipeline (the ``social_protection`` file-drop source
   pointed at a folder holding one file), each in a child process whose peak RSS is read with ``wait4``;
   the mapper alone and raw ``iterparse`` are measured the same way as peers, and an import-only child
   gives the baseline.

A source whose mapping file does not exist (yet) is reported as skipped. A pull that trips the quality gate
(too many records quarantined) is reported with its counts (read back from its run row) and the gate's
message. Databases are named ``hub_bench_<pid>_<label>``; they and the temporary folder are removed at the
end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import logging
import os
import platform
import pstats
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import psycopg2
from lxml import etree  # type: ignore[import-untyped]

from connectors.base import Connector, Payload
from connectors.config import SourceConfig, load_sources
from connectors.errors import QualityGateError
from connectors.pipeline import Puller, build_connector
from mapper import Mapping, load_mapping
from mapper.readers import PayloadFailure, PayloadNote, SchemaFor, SourceRecord, read_json, read_xml
from mapper.sample import schema_lookup
from registry.db import PROJECT_ROOT, drop_database, ensure_database, with_database
from registry.migrate import upgrade
from sandbox import names
from sandbox.agencies.szn_egisso import BIRTH_REGISTRARS, MEASURES, osz_code
from sandbox.connections import hub_connections
from sandbox.formats.egisso import (
    EgissoAddress,
    EgissoFact,
    EgissoFileWriter,
    EgissoIdentityDoc,
    EgissoPerson,
    render_package,
    validate,
)
from sandbox.generate import CHUNK, SandboxConfig, generate
from schemas.identifiers import snils_check_digits

SOURCES = ("ngo", "health", "education", "social_protection")
AGENCY_FILES = {
    "ngo": "ngo/night-0001",
    "health": "health/night-0001",
    "education": "education/night-0001",
    "social_protection": "social_protection/drop",
}
"""Source → the folder of its night-1 files inside a sandbox (what the view links chunk by chunk)."""
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MEMORY_FILE = "SZN_BENCH_egisso_00000.xml"
MIN_GROWTH_MB = 2.0
_CHUNK_OF = re.compile(r"(\d{5})\.[a-z]+$")
_PROFILE_TOP = 12

log = logging.getLogger("bench.pull")


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def per_second(count: int | float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b is not None and b > 0 else None


# ----------------------------------------------------------------------------------------------- databases


class Databases:
    """Fresh, migrated databases ``hub_bench_<pid>_<label>``; dropped at :meth:`close` unless kept."""

    def __init__(self, server_url: str, keep: bool) -> None:
        self.server_url, self.keep = server_url, keep
        self.created: list[str] = []

    def fresh(self, label: str) -> str:
        """The URL of a new database ``label`` with every migration applied."""
        name = f"hub_bench_{os.getpid()}_{label}"
        drop_database(self.server_url, name)
        ensure_database(self.server_url, name)
        self.created.append(name)
        url = with_database(self.server_url, name)
        conn = psycopg2.connect(url)
        try:
            upgrade(conn)
        finally:
            conn.close()
        return url

    def close(self) -> None:
        for name in self.created if not self.keep else []:
            with contextlib.suppress(Exception):
                drop_database(self.server_url, name)


def server_version(server_url: str) -> str:
    conn = psycopg2.connect(with_database(server_url, "postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
        return str(row[0]) if row else "?"
    finally:
        conn.close()


def last_run_stats(url: str, code: str) -> dict[str, Any]:
    """The counts of the latest pull of ``code`` as its run row keeps them."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT stats FROM run WHERE source_code = %s AND kind = 'pull' ORDER BY run_id DESC LIMIT 1",
                (code,),
            )
            row = cur.fetchone()
        return dict(row[0] or {}) if row else {}
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ sandbox


@dataclass
class SourceSlice:
    """What one source is served in the view: the first ``chunks`` generation chunks."""

    chunks: int = 0
    families: int = 0
    files: int = 0
    truth_rows: int = 0
    truth_by_kind: dict[str, int] = field(default_factory=dict)


def prepare_sandbox(
    data: Path | None, workdir: Path, families: int, seed: int
) -> tuple[Path, dict[str, Any]]:
    """A sandbox to read from: ``data`` if it already holds one, else a new one of ``families`` families."""
    if data is not None and (data / "sandbox.json").exists():
        config = SandboxConfig.load(data)
        progress(f"reusing the sandbox in {data} ({config.families} families)")
        return data, {"reused": True, "families": config.families, "seed": config.seed}
    out = data or workdir / "sandbox"
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress(f"generated {done}/{families} families")

    started = time.perf_counter()
    generate(out, families, seed, progress=tick)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return out, {
        "reused": False,
        "families": families,
        "seed": seed,
        "seconds": round(seconds, 1),
        "disk_mb": round(size / 2**20, 1),
    }


@lru_cache(maxsize=2)
def truth_counts(data: Path) -> dict[str, dict[int, Counter[str]]]:
    """Source → chunk → record kind → number of source records (rows of ``truth/night-0001``); cached."""
    counts: dict[str, dict[int, Counter[str]]] = {}
    for path in sorted((data / "truth" / "night-0001").glob("records-*.jsonl")):
        chunk = int(path.stem.split("-")[1])
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                counts.setdefault(row["source"], {}).setdefault(chunk, Counter())[row["kind"]] += 1
    return counts


def make_view(data: Path, view: Path, codes: Iterable[str], target: int) -> dict[str, SourceSlice]:
    """Link into ``view`` the first chunks of each source reaching ``target`` truth rows (0: all chunks)."""
    config = SandboxConfig.load(data)
    config.night = 1
    view.mkdir(parents=True)
    config.save(view)
    counts = truth_counts(data)
    slices = {}
    for code in codes:
        per_chunk, chosen, total = counts.get(code, {}), [], Counter[str]()
        for chunk in sorted(per_chunk):
            if target and total.total() >= target:
                break
            chosen.append(chunk)
            total.update(per_chunk[chunk])
        # the hub's file drop reads regular files only (no links): the drop folder gets copies
        files = _link_chunks(data / AGENCY_FILES[code], view / AGENCY_FILES[code], set(chosen),
                             copy=code == "social_protection")
        families = sum(max(0, min(CHUNK, config.families - c * CHUNK)) for c in chosen)
        slices[code] = SourceSlice(len(chosen), families, files, total.total(), dict(sorted(total.items())))
    return slices


def _link_chunks(source: Path, target: Path, chunks: set[int], copy: bool = False) -> int:
    target.mkdir(parents=True, exist_ok=True)
    linked = 0
    for path in sorted(source.iterdir()) if source.is_dir() else []:
        match = _CHUNK_OF.search(path.name)
        if match and int(match.group(1)) in chunks and not path.name.startswith("."):
            if copy:
                shutil.copyfile(path, target / path.name)
            else:
                (target / path.name).symlink_to(path.resolve())
            linked += 1
    return linked


@contextlib.contextmanager
def sandbox_servers(view: Path, rate_limit: float | None = None) -> Iterator[dict[str, int]]:
    """Serve ``view`` from a child ``python -m sandbox.server`` (faults 0) with the hub's connections set;
    ``rate_limit``: the NGO's requests per second (default: the sandbox's)."""
    with contextlib.suppress(FileNotFoundError):
        (view / "education" / "acks.jsonl").unlink()  # a fresh queue: every message is delivered again
    limit = [] if rate_limit is None else ["--rate-limit", str(rate_limit)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--data", str(view), *limit],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    saved = dict(os.environ)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sandbox server did not start (exit code {proc.wait()})")
        ports = {str(k): int(v) for k, v in json.loads(line).items()}
        os.environ.update(hub_connections(view, ports))
        yield ports
    finally:
        os.environ.clear()
        os.environ.update(saved)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------------------ pull benchmark


class RecordingConnector:
    """Wraps a connector: keeps every payload it yields (for the peers) and the time spent fetching them."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.seen: list[Payload] = []
        self.fetch_seconds = 0.0

    @property
    def retries(self) -> int:
        return self.inner.retries

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        items = iter(self.inner.payloads(cursors))
        while True:
            started = time.perf_counter()
            payload = next(items, None)
            self.fetch_seconds += time.perf_counter() - started
            if payload is None:
                return
            self.seen.append(payload)
            yield payload


@dataclass
class PullResult:
    """One timed ``Puller.run()``."""

    seconds: float
    stats: dict[str, Any]
    quality_gate: str | None = None


def timed_pull(source: SourceConfig, url: str, connector: Connector | None = None) -> PullResult:
    """Run one pull (set-up excluded from the time); a tripped quality gate is a result, not an error."""
    puller = Puller(source, url, connector)
    started = time.perf_counter()
    try:
        stats = puller.run().as_dict()
        gate = None
    except QualityGateError as exc:
        stats, gate = last_run_stats(url, source.code), str(exc)
    return PullResult(time.perf_counter() - started, stats, gate)


def payload_stream(payload: Payload) -> IO[bytes]:
    return payload.path.open("rb") if payload.path is not None else io.BytesIO(payload.data or b"")


def payload_bytes(payload: Payload) -> bytes:
    return payload.path.read_bytes() if payload.path is not None else payload.data or b""


def payload_items(
    payload: Payload, mapping: Mapping, schema_for: SchemaFor | None, strict: bool
) -> Iterator[SourceRecord | PayloadFailure | PayloadNote]:
    """What the pipeline's mapper step reads from ``payload`` (the same readers, options and XSDs)."""
    if mapping.format == "json":
        yield from read_json(payload_bytes(payload), mapping)
        return
    with payload_stream(payload) as stream:
        yield from read_xml(stream, mapping, schema_for, strict)


@dataclass
class MapCounts:
    """What mapping without staging made of some payloads."""

    records: int = 0
    canonical: int = 0
    rejected: int = 0
    payload_failures: int = 0

    def add(self, item: SourceRecord | PayloadFailure | PayloadNote, strict: bool) -> None:
        if isinstance(item, PayloadNote):
            return
        if isinstance(item, PayloadFailure):
            self.payload_failures += 1
            return
        self.records += 1
        if (item.xsd_errors and strict) or item.result.error is not None:
            self.rejected += 1
        else:
            self.canonical += len(item.result.records)


def map_only(source: SourceConfig, payloads: Iterable[Payload]) -> dict[str, Any]:
    """Peer: read and map ``payloads`` exactly as the pipeline does, without touching the database."""
    mapping = load_mapping(source.mapping_path)
    schema_for = schema_lookup(source.xsd_paths()) if source.xsd else None
    strict = source.validation == "strict"
    counts = MapCounts()
    started = time.perf_counter()
    for payload in payloads:
        for item in payload_items(payload, mapping, schema_for, strict):
            counts.add(item, strict)
    seconds = time.perf_counter() - started
    rate = per_second(counts.records, seconds)
    return {"seconds": round(seconds, 3), **asdict(counts), "records_per_s": rate}


def count_xml_elements(stream: IO[bytes]) -> int:
    """Raw ``lxml.etree.iterparse``: every element counted, cleared and dropped once it ends."""
    elements = 0
    for _, element in etree.iterparse(
        stream, events=("end",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    ):
        elements += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return elements


def parse_only(fmt: str, payloads: Iterable[Payload]) -> dict[str, Any]:
    """Peer: only parse the payloads (``json.loads``, or ``iterparse`` counting XML elements)."""
    units = 0
    started = time.perf_counter()
    for payload in payloads:
        if fmt == "json":
            json.loads(payload_bytes(payload))
            units += 1
        else:
            with payload_stream(payload) as stream:
                units += count_xml_elements(stream)
    seconds = time.perf_counter() - started
    parser, unit = ("json.loads", "documents") if fmt == "json" else ("lxml.etree.iterparse", "elements")
    return {"parser": parser, "seconds": round(seconds, 3), unit: units}


def pipeline_summary(result: PullResult, fetch_seconds: float | None = None) -> dict[str, Any]:
    """The numbers of one pull that the report keeps."""
    s, seconds = result.stats, result.seconds
    staged = int(s.get("new", 0)) + int(s.get("updated", 0))
    out: dict[str, Any] = {
        "seconds": round(seconds, 3),
        "payloads": s.get("payloads", 0),
        "payloads_skipped": s.get("payloads_skipped", 0),
        "records": s.get("records", 0),
        "canonical_staged": staged,
        "canonical_unchanged": s.get("unchanged", 0),
        "quarantined": s.get("quarantined", 0),
        "retries": s.get("retries", 0),
        "records_per_s": per_second(int(s.get("records", 0)), seconds),
        "canonical_per_s": per_second(staged, seconds),
        "by_kind": s.get("by_kind", {}),
        "quality_gate": result.quality_gate,
    }
    if fetch_seconds is not None:
        out["fetch_seconds"] = round(fetch_seconds, 3)
    return out


def bench_source(source: SourceConfig, url: str, piece: SourceSlice) -> dict[str, Any]:
    """Pull, peers and rerun of one source."""
    out: dict[str, Any] = {"status": "ok", "validation": source.validation, "served": asdict(piece)}
    progress(f"{source.code}: pulling {piece.truth_rows} source records ({piece.families} families)")
    recorder = RecordingConnector(build_connector(source))
    first = timed_pull(source, url, recorder)
    out["pipeline"] = pipeline_summary(first, recorder.fetch_seconds)
    out["pipeline"]["truth_rows_per_s"] = per_second(piece.truth_rows, first.seconds)
    if first.quality_gate:
        out["status"] = "quality_gate_failed"
    progress(f"{source.code}: pipeline {first.seconds:.1f} s; map only")
    out["map_only"] = map_only(source, recorder.seen)
    progress(f"{source.code}: parse only")
    fmt = load_mapping(source.mapping_path).format
    out["parse_only"] = parse_only(fmt, recorder.seen)
    out["ratio_pipeline_vs_map_only"] = ratio(first.seconds, out["map_only"]["seconds"])
    out["ratio_pipeline_vs_parse_only"] = ratio(first.seconds, out["parse_only"]["seconds"])
    if fmt == "xml":
        out["ratio_pipeline_vs_iterparse"] = out["ratio_pipeline_vs_parse_only"]
    recorder.seen.clear()
    progress(f"{source.code}: rerun")
    out["rerun"] = pipeline_summary(timed_pull(source, url))
    return out


def skip_reason(source: SourceConfig) -> str | None:
    """Why ``source`` cannot be benchmarked now (its mapping is missing or does not load), else None."""
    if not source.mapping_path.exists():
        return f"mapping file {source.mapping} does not exist yet"
    try:
        load_mapping(source.mapping_path)
    except Exception as exc:  # a mapping being written may be broken: report, do not crash the bench
        return f"mapping {source.mapping} does not load: {type(exc).__name__}: {str(exc)[:300]}"
    return None


def configured(code: str, validation: str) -> SourceConfig:
    """The configured source, with ``validation`` overridden unless it is ``config``."""
    source = load_sources()[code]
    return source if validation == "config" else source.model_copy(update={"validation": validation})


def bench_pulls(args: argparse.Namespace, workdir: Path, dbs: Databases) -> dict[str, Any]:
    """Section ``pull``: every requested source at about ``args.records`` source records."""
    report: dict[str, Any] = {}
    sources = {code: configured(code, args.validation) for code in args.sources}
    skipped = {code: reason for code, s in sources.items() if (reason := skip_reason(s)) is not None}
    runnable = [code for code in args.sources if code not in skipped]
    data, report["_sandbox"] = prepare_sandbox(args.data, workdir, args.families, args.seed)
    slices = make_view(data, workdir / "view", runnable, args.records)
    url = dbs.fresh("pull")
    with sandbox_servers(workdir / "view"):
        for code in args.sources:
            if code in skipped:
                report[code] = {"status": "skipped", "reason": skipped[code]}
                progress(f"{code}: skipped ({skipped[code]})")
                continue
            try:
                report[code] = bench_source(sources[code], url, slices[code])
            except Exception as exc:  # one broken source must not hide the others' numbers
                log.exception("%s failed", code)
                report[code] = {"status": "error", "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    if args.profile:
        report["_profile"] = profile_pull(args, workdir, dbs, data, sources[args.profile])
    return report


# ---------------------------------------------------------------------------------------------- profiling


def profile_pull(
    args: argparse.Namespace, workdir: Path, dbs: Databases, data: Path, source: SourceConfig
) -> dict[str, Any]:
    """A pull of ``source`` (``--profile-records`` records, fresh database) under cProfile: top functions."""
    view = workdir / "view-profile"
    piece = make_view(data, view, [source.code], args.profile_records)[source.code]
    url = dbs.fresh("profile")
    progress(f"{source.code}: pulling {piece.truth_rows} source records under cProfile")
    profiler = cProfile.Profile()
    with sandbox_servers(view):
        puller = Puller(source, url)
        started = time.perf_counter()
        profiler.enable()
        try:
            puller.run()
        except QualityGateError:
            pass
        finally:
            profiler.disable()
    seconds = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    return {
        "source": source.code,
        "served": asdict(piece),
        "seconds_under_profiler": round(seconds, 2),
        "note": "main thread only; cumulative includes callees",
        "top_ours_by_cumulative": top_functions(stats, ours=True),
        "top_ours_by_own_time": top_functions(stats, ours=True, key=2),
        "top_all_by_own_time": top_functions(stats, ours=False, key=2),
    }


def top_functions(stats: pstats.Stats, ours: bool, key: int = 3) -> list[dict[str, Any]]:
    """The top entries by cumulative (``key`` 3) or own (2) time; ``ours``: project code only, bench aside."""
    root = str(PROJECT_ROOT) + os.sep
    rows = []
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), entry in raw.items():
        if ours and (not filename.startswith(root) or "/.venv/" in filename or "/bench/" in filename):
            continue
        where = filename.removeprefix(root) if filename.startswith(root) else filename
        rows.append(
            (
                entry[key],
                {
                    "function": f"{where}:{line}({name})",
                    "calls": entry[1],
                    "own_s": round(entry[2], 3),
                    "cumulative_s": round(entry[3], 3),
                },
            )
        )
    rows.sort(key=lambda r: r[0], reverse=True)
    return [row for _, row in rows[:_PROFILE_TOP]]


# -------------------------------------------------------------------------------------- EGISSO test files


def _snils(rng: random.Random) -> str:
    body = f"{rng.randint(2_000_000, 999_999_999):09d}"
    return body + snils_check_digits(body)


def _address(rng: random.Random, district: str) -> EgissoAddress:
    towns, postal = names.DISTRICTS[district]
    return EgissoAddress(
        kind="ActualResidence",
        post_index=f"{postal}{rng.randint(0, 99):02d}",
        region=names.REGION,
        city=rng.choice(towns),
        street=rng.choice(names.STREETS),
        house=str(rng.randint(1, 150)),
        apartment=str(rng.randint(1, 200)),
    )


def _mother(rng: random.Random, surname: str, district: str) -> EgissoPerson:
    born = dt.date(1975, 1, 1) + dt.timedelta(days=rng.randint(0, 9000))
    passport = EgissoIdentityDoc(
        kind="PassportRF",
        series=f"49{rng.randint(0, 25):02d}",
        number=f"{rng.randint(0, 999_999):06d}",
        issue_date=born + dt.timedelta(days=20 * 365 + rng.randint(0, 300)),
        issuer="УМВД России по Новгородской области",
    )
    return EgissoPerson(
        snils=_snils(rng),
        family_name=names.feminine_family_name(surname),
        first_name=rng.choice(list(names.FEMALE_NAMES)),
        patronymic=names.patronymic(rng.choice(list(names.MALE_NAMES)), "female"),
        gender="Female",
        birth_date=born,
        identity_doc=passport,
        phone=f"911{rng.randint(0, 9_999_999):07d}",
        address=_address(rng, district),
    )


def _child(rng: random.Random, surname: str, father: str) -> EgissoPerson:
    born = dt.date(2009, 1, 1) + dt.timedelta(days=rng.randint(0, 6200))
    male = rng.random() < 0.5
    series = (
        f"{rng.choice(['I', 'II', 'III', 'IV', 'V', 'VI', 'VII'])}-{rng.choice('АБВГДЕЖИКЛМН')}"
        f"{rng.choice('ОПРСТУФХЦЧШЭЮЯ')}"
    )
    certificate = EgissoIdentityDoc(
        kind="BirthCertificate",
        series=series,
        number=f"{rng.randint(0, 999_999):06d}",
        issue_date=born + dt.timedelta(days=rng.randint(3, 40)),
        issuer=rng.choice(BIRTH_REGISTRARS),
    )
    return EgissoPerson(
        snils=_snils(rng),
        family_name=surname if male else names.feminine_family_name(surname),
        first_name=rng.choice(list(names.MALE_NAMES if male else names.FEMALE_NAMES)),
        patronymic=names.patronymic(father, "male" if male else "female"),
        gender="Male" if male else "Female",
        birth_date=born,
        identity_doc=certificate,
    )


def make_fact(rng: random.Random) -> EgissoFact:
    """A plausible, XSD-valid EGISSO fact: a mother receiving a regional measure for 1–3 children."""
    district = rng.choice(sorted(names.DISTRICTS))
    measure = rng.choice(list(MEASURES.values()))
    surname, father = rng.choice(names.FAMILY_NAMES), rng.choice(list(names.MALE_NAMES))
    start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 600))
    return EgissoFact(
        uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
        osz_code=osz_code(district),
        receiver=_mother(rng, surname, district),
        lmsz_id=measure.lmsz_id,
        category_id=measure.category_id,
        decision_date=start - dt.timedelta(days=rng.randint(1, 25)),
        date_start=start,
        amount=Decimal(rng.randint(measure.low, measure.high)),
        reason_persons=tuple(_child(rng, surname, father) for _ in range(rng.randint(1, 3))),
    )


def write_egisso(path: Path, facts: int, seed: int) -> dict[str, Any]:
    """Stream an EGISSO 10.06.S 1.0.6 package of ``facts`` facts to ``path``; its size and write time."""
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with path.open("wb") as fh, EgissoFileWriter(fh, uuid.UUID(int=seed, version=4), tz="+03:00") as writer:
        for _ in range(facts):
            writer.write_fact(make_fact(rng))
    return {
        "facts": facts,
        "size_mb": round(path.stat().st_size / 2**20, 1),
        "write_seconds": round(time.perf_counter() - started, 1),
    }


def sample_xsd_errors(seed: int, facts: int = 20) -> list[str]:
    """XSD errors of a small package made like the test files (expected: none)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    return validate(
        render_package(uuid.UUID(int=seed, version=4), [make_fact(rng) for _ in range(facts)], tz="+03:00"),
        "1.0.6",
    )[:5]


# --------------------------------------------------------------------------------------- memory benchmark


def run_child(mode: str, file: Path, url: str | None = None, validation: str = "config") -> dict[str, Any]:
    """Run ``python -m bench.pull --child MODE``: what it printed, with its peak RSS.

    ``peak_rss_mb`` is the child's own ``VmHWM`` (read by the child as it ends: its address space after
    ``exec``). ``ru_maxrss_mb`` from ``wait4`` is kept for reference but is not the child's alone: Linux
    carries the high-water mark of the pre-``exec`` address space into it, i.e. the parent's RSS at
    ``fork``/``vfork`` time, so it is never below this process's size.
    """
    cmd = [sys.executable, "-m", "bench.pull", "--child", mode, "--file", str(file)]
    cmd += ["--validation", validation, *(["--url", url] if url else [])]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, cwd=PROJECT_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode().strip()
    result: dict[str, Any] = json.loads(text.splitlines()[-1]) if text else {}
    result["exit_code"] = proc.returncode
    result["peak_rss_mb"] = result.pop("vm_hwm_mb", None)
    result["ru_maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return result


def bench_xml_memory(args: argparse.Namespace, workdir: Path, dbs: Databases) -> dict[str, Any]:
    """Section ``xml_memory``: N and 10·N facts through the pipeline, the mapper and iterparse."""
    source = configured("social_protection", args.validation)
    reason = skip_reason(source)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    report: dict[str, Any] = {
        "validation": source.validation,
        "sample_xsd_errors": sample_xsd_errors(args.seed),
    }
    files = {}
    for label, facts in (("1x", args.facts), ("10x", 10 * args.facts)):
        files[label] = workdir / "xml_memory" / label / MEMORY_FILE
        progress(f"xml memory: writing {facts} facts")
        report[label] = {"file": write_egisso(files[label], facts, args.seed)}
    report["baseline_imports"] = run_child("baseline", files["1x"])
    for label, path in files.items():
        for mode in ("pipeline", "mapper", "iterparse"):
            progress(f"xml memory: {mode} over {label}")
            url = dbs.fresh(f"mem_{label}") if mode == "pipeline" else None
            report[label][mode] = run_child(mode, path, url, args.validation)
    for mode in ("pipeline", "mapper", "iterparse"):
        small, large = report["1x"][mode].get("peak_rss_mb"), report["10x"][mode].get("peak_rss_mb")
        key = "rss_ratio_10x" if mode == "pipeline" else f"{mode}_rss_ratio_10x"
        report[key] = ratio(large, small)
        report[f"{key}_above_baseline"] = _above_baseline(report, mode)
    return report


def _above_baseline(report: dict[str, Any], mode: str) -> float | None:
    """(10x peak − import-only peak) / (1x peak − import-only peak): the growth the file itself causes."""
    base = report["baseline_imports"].get("peak_rss_mb")
    small, large = report["1x"][mode].get("peak_rss_mb"), report["10x"][mode].get("peak_rss_mb")
    if base is None or small is None or large is None or small - base < MIN_GROWTH_MB:
        return None  # the file barely grows the process: a ratio of two rounding errors says nothing
    return ratio(large - base, small - base)


def child_main(args: argparse.Namespace) -> int:
    """``--child MODE``: one measured job over ``--file``; prints one JSON line."""
    file: Path = args.file
    started = time.perf_counter()
    result: dict[str, Any] = {"mode": args.child}
    if args.child == "iterparse":
        with file.open("rb") as stream:
            result["elements"] = count_xml_elements(stream)
    elif args.child == "mapper":
        source = configured("social_protection", args.validation)
        result.update(map_only(source, [Payload({}, "application/xml", path=file)]))
    elif args.child == "pipeline":
        drop = {"conn_type": "fs", "extra": {"path": str(file.parent)}}
        os.environ["AIRFLOW_CONN_SZN_DROP"] = json.dumps(drop)
        pulled = timed_pull(configured("social_protection", args.validation), args.url)
        result.update(pipeline_summary(pulled))
    result["child_seconds"] = round(time.perf_counter() - started, 3)
    result["vm_hwm_mb"] = vm_hwm_mb()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def vm_hwm_mb() -> float | None:
    """This process's peak resident set (``VmHWM``) from ``/proc``, in MiB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


# ---------------------------------------------------------------------------------------------------- CLI


def machine_info(server_url: str) -> dict[str, Any]:
    """What the numbers were measured on."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(pages / 2**30, 1),
        "lxml": ".".join(map(str, etree.LXML_VERSION)),
        "postgresql": server_version(server_url),
    }


def _sources(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    unknown = sorted(set(codes) - set(SOURCES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown sources {unknown}; known: {', '.join(SOURCES)}")
    return codes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.pull", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--families", type=int, default=48_000, help="families to generate (default 48000)")
    add(
        "--records",
        type=int,
        default=100_000,
        help="source records (truth rows) served per source, in whole chunks; 0: all (default 100000)",
    )
    add("--facts", type=int, default=2_000, help="facts N of the small EGISSO file; the big one has 10·N")
    add("--sources", type=_sources, default=list(SOURCES), help="comma-separated (default: all four)")
    add("--seed", type=int, default=20_261_101)
    add("--data", type=Path, help="reuse the sandbox in this folder (generated there if empty)")
    add(
        "--server-url",
        default=os.environ.get("HUB_BENCH_SERVER_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server to create hub_bench_* databases on",
    )
    add(
        "--validation",
        choices=("config", "strict", "lenient"),
        default="config",
        help="XSD validation of the XML sources (default: as config/sources.yaml says)",
    )
    add("--profile", choices=SOURCES, help="also pull this source under cProfile and list the top functions")
    add("--profile-records", type=int, default=20_000, help="source records of the profiled pull")
    add("--skip-pull", action="store_true", help="skip the throughput section")
    add("--skip-memory", action="store_true", help="skip the XML memory section")
    add("--workdir", type=Path, help="where the temporary folder goes (default: the system's temp dir)")
    add("--keep", action="store_true", help="keep the databases and the temporary folder")
    add("--out", type=Path, help="also write the JSON here")
    add("--child", choices=("baseline", "iterparse", "mapper", "pipeline"), help=argparse.SUPPRESS)
    add("--file", type=Path, help=argparse.SUPPRESS)
    add("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every requested section; cleans up afterwards unless ``--keep``."""
    workdir = Path(tempfile.mkdtemp(prefix="hub_bench_", dir=args.workdir))
    dbs = Databases(args.server_url, args.keep)
    report: dict[str, Any] = {
        "machine": machine_info(args.server_url),
        "options": {
            "families": args.families,
            "records": args.records,
            "facts": args.facts,
            "sources": args.sources,
            "validation": args.validation,
            "seed": args.seed,
        },
    }
    progress(f"working in {workdir}")
    try:
        if not args.skip_pull:
            pull = bench_pulls(args, workdir, dbs)
            report["sandbox"] = pull.pop("_sandbox")
            if "_profile" in pull:
                report["profile"] = pull.pop("_profile")
            report["pull"] = pull
        if not args.skip_memory:
            report["xml_memory"] = bench_xml_memory(args, workdir, dbs)
    finally:
        dbs.close()
        if args.keep:
            progress(f"kept {workdir} and databases {', '.join(dbs.created)}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the JSON report."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger("hub.pull").setLevel(logging.ERROR)  # one warning per quarantined record otherwise
    if args.child:
        return child_main(args)
    text = json.dumps(run(args), indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``hub sandbox``: the simulated agency systems (generate, advance, serve)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from hub.output import emit, json_option
from hub.progress import progress_bar


@click.group()
def sandbox() -> None:
    """Simulated agency systems with realistic noise and ground truth (for the demo, tests, benchmarks)."""


@sandbox.command()
@click.option("--families", type=click.IntRange(min=1), required=True, help="Number of families.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--noise", "noise_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON {source: {kind: rate}} overriding the default noise rates.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: CPU count).")
@json_option
def generate(families: int, seed: int, out: Path, noise_file: Path | None, workers: int | None,
             as_json: bool) -> None:
    """Generate night 1 of the four agencies for FAMILIES families into OUT."""
    from sandbox.generate import generate as run
    from sandbox.noise import NoiseRates

    rates = None
    if noise_file is not None:
        raw = json.loads(noise_file.read_text("utf-8"))
        rates = {source: NoiseRates.from_dict(r) for source, r in raw.items()}
    started = time.monotonic()
    with progress_bar("generating families", families) as advance:
        summary = run(out, families, seed, rates=rates, workers=workers, progress=advance)
    summary["seconds"] = round(time.monotonic() - started, 2)
    emit(summary, as_json, _summary_text)


@sandbox.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: CPU count).")
@json_option
def advance(data: Path, workers: int | None, as_json: bool) -> None:
    """Make the next night in DATA: new families, updates, closed cases, deletions."""
    from sandbox.generate import SandboxConfig
    from sandbox.generate import advance as run

    config = SandboxConfig.load(data)
    started = time.monotonic()
    with progress_bar(f"night {config.night + 1}", config.next_index) as step:
        summary = run(data, workers=workers, progress=step)
    summary["seconds"] = round(time.monotonic() - started, 2)
    emit(summary, as_json, _summary_text)


def _summary_text(summary: dict[str, Any]) -> str:
    lines = [f"night {summary['night']} written to {summary['out']} in {summary['seconds']}s"]
    lines += [f"  {kind:<28} {n:>10,}" for kind, n in sorted(summary["records"].items())]
    return "\n".join(lines)


@sandbox.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--faults", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests meeting a fault (5xx bursts, slow, truncated, malformed, duplicates).")
@click.option("--connections", is_flag=True, help="Also print the AIRFLOW_CONN_… variables for the hub.")
def serve(data: Path, faults: float, connections: bool) -> None:
    """Serve the agencies' HTTP/SOAP systems on 127.0.0.1 until stopped; the ports come first, as JSON."""
    import signal
    import threading

    from sandbox.server.app import serve as start

    handle = start(data, faults=faults)
    line: dict[str, Any] = dict(handle.ports)
    if connections:
        from sandbox.connections import hub_connections

        line["connections"] = hub_connections(data, handle.ports)
    click.echo(json.dumps(line), nl=True)
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    handle.stop()

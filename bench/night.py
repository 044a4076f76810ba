"""``hub bench night``: the scale curve of a whole night — first and incremental — per stage, with a peer.

For each size (source records = the sandbox's truth rows of night 1) a child process generates the sandbox,
serves its four agencies on 127.0.0.1 from a process of their own (they do not share the GIL with the hub),
and runs night 1 (pull every source — each in a process of its own, two at a time, as the nightly pull
DAGs run —, reconcile, push every agency),
advances the sandbox one night and runs night 2 the same way; then a plain Splink dedupe of the same person
records is timed and scored (``bench.plain_splink``). Each size runs in a process of its own so that its
peak RSS (``ru_maxrss``) is its own. The result is one JSON (``--out``) and a PNG of the curve beside it.
Numbers, never assertions; the machine is whatever runs it (2 cores here).

    python -m bench.night --records 10000,100000 --out bench/results/night.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

PULL_WORKERS = 2  # the machine's cores: four pull DAGs, two at a time
RECORDS_PER_FAMILY = 23  # truth rows per sandbox family on night 1 (2,000 families ≈ 46k rows)


def _pull_one(code: str, url: str) -> tuple[str, float]:
    from connectors.config import load_sources
    from connectors.pipeline import Puller

    started = time.monotonic()
    Puller(load_sources()[code], url).run()
    return code, round(time.monotonic() - started, 2)


def _pull_all(url: str, workers: int) -> tuple[float, dict[str, float]]:
    """Every source pulled in a process of its own, ``workers`` at a time, as the nightly pull DAGs run
    (one DAG per source); (wall seconds, each source's own seconds)."""
    from connectors.config import load_sources

    started = time.monotonic()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as pool:  # each source in a fresh process
        done = dict(pool.map(_pull_one, sorted(load_sources()), [url] * len(load_sources())))
    return round(time.monotonic() - started, 2), done


def _night(url: str, sandbox: Path, night: int, workers: int = PULL_WORKERS) -> dict[str, Any]:
    from connectors.config import load_sources
    from connectors.push import push
    from matching.evaluate import evaluate
    from matching.reconcile import reconcile

    pull_seconds, pulls = _pull_all(url, workers)
    t = time.monotonic()
    stats = reconcile(url)
    reconcile_seconds = time.monotonic() - t
    t = time.monotonic()
    for source in load_sources().values():
        if source.push is not None:
            push(source, url)
    push_seconds = time.monotonic() - t
    accuracy = evaluate(sandbox, url)
    return {
        "night": night,
        "stages": {"pull": pull_seconds, **stats["stage_seconds"],
                   "reconcile": round(reconcile_seconds, 2), "push": round(push_seconds, 2)},
        "pull_by_source": pulls,
        "persons_changed": stats["persons"]["records"],
        "persons_phases": {k[len("seconds_"):]: v for k, v in stats["persons"]["extra"].items()
                           if k.startswith("seconds_")},
        "stored_persons_read": stats["persons"]["extra"].get("stored_loaded"),
        "persons": {k: accuracy["persons"][k] for k in ("precision", "recall", "f1")},
        "seconds": round(pull_seconds + reconcile_seconds + push_seconds, 2),
    }


def truth_rows(sandbox: Path, night: int) -> int:
    folder = sandbox / "truth" / f"night-{night:04d}"
    return sum(sum(1 for _ in p.open(encoding="utf-8")) for p in folder.glob("records-*.jsonl"))


def measure(families: int, seed: int, server_url: str) -> dict[str, Any]:
    """One size, in this process: generate, night 1, advance, night 2, plain Splink."""
    from bench.match import fresh_database
    from bench.plain_splink import plain_splink
    from bench.pull import sandbox_servers
    from sandbox.generate import advance, generate

    with tempfile.TemporaryDirectory(prefix="hub-bench-night-") as work:
        sandbox = Path(work) / "sandbox"
        t = time.monotonic()
        generate(sandbox, families, seed)
        generate_seconds = time.monotonic() - t
        with fresh_database(server_url) as url, sandbox_servers(sandbox, rate_limit=10_000.0):
            first = _night(url, sandbox, 1)
            t = time.monotonic()
            advance(sandbox)
            advance_seconds = time.monotonic() - t
            second = _night(url, sandbox, 2)
            plain = plain_splink(url, sandbox)
        records = truth_rows(sandbox, 1)
        changed = truth_rows(sandbox, 2)
    return {
        "families": families, "source_records": records, "changed_records_night_2": changed,
        "changed_share_night_2": round(changed / max(records, 1), 4),
        "generate_seconds": round(generate_seconds, 2), "advance_seconds": round(advance_seconds, 2),
        "first_night": first, "incremental_night": second,
        "splink_plain": {"seconds": plain["seconds"], "persons": plain["persons"]},
        "persons_step_vs_plain": round(first["stages"].get("persons", 0.0) / max(plain["seconds"], 1e-9), 2),
        # This process (reconcile, push, plain Splink); its largest child: one source's pull or the agencies.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_child_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "records_per_second_first_night": round(records / max(first["seconds"], 1e-9), 1),
    }


def run(records: list[int], seed: int, server_url: str, out: Path | None) -> dict[str, Any]:
    """Every size in a child process of its own; the curve as JSON (and PNG beside ``out``)."""
    sizes = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    for n in records:
        families = max(50, round(n / RECORDS_PER_FAMILY))
        # The child's log (progress of each person batch) goes to a file beside the JSON, else to stderr.
        log = out.with_suffix(".log").open("a", encoding="utf-8") if out is not None else None
        child = subprocess.run([sys.executable, "-m", "bench.night", "--child", str(families), "--seed",
                                str(seed), "--server-url", server_url], stdout=subprocess.PIPE,
                               stderr=log, text=True, check=False)
        if log is not None:
            log.close()
        if child.returncode != 0:
            sizes.append({"families": families, "error": f"child exited with {child.returncode}"})
        else:
            sizes.append(json.loads(child.stdout))
        result = {"seed": seed, "sizes": sizes}
        if out is not None:  # after every size: a 1M run that is stopped still leaves the smaller ones
            out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
            plot(result, out.with_suffix(".png"))
    return {"seed": seed, "sizes": sizes}


def _line(ax: Any, done: list[dict[str, Any]], value: Any, **style: Any) -> None:
    """One curve over the sizes that have the value (a size stopped part-way lacks some)."""
    points = [(s["source_records"], v) for s in done if (v := value(s)) is not None]
    if points:
        ax.plot([p[0] for p in points], [p[1] for p in points], **style)


def plot(result: dict[str, Any], png: Path) -> None:
    """Seconds per stage against source records (log-log), first and incremental night, and peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [s for s in result["sizes"] if "error" not in s]
    if not done:
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, night, title in ((axes[0], "first_night", "first night"), (axes[1], "incremental_night",
                                                                      "incremental night")):
        for stage in ("pull", "persons", "families", "care", "golden", "push"):
            _line(ax, done, lambda s, n=night, st=stage: s.get(n, {}).get("stages", {}).get(st), marker="o",
                  label=stage)
        _line(ax, done, lambda s, n=night: s.get(n, {}).get("seconds"), marker="s", color="black",
              label="whole night")
        if night == "first_night":
            _line(ax, done, lambda s: (s.get("splink_plain") or {}).get("seconds"), marker="^",
                  linestyle="--", label="plain Splink (peer)")
        ax.set(xscale="log", yscale="log", xlabel="source records", ylabel="seconds", title=title)
        ax.legend(fontsize=8)
    _line(axes[2], done, lambda s: s.get("peak_rss_mib"), marker="o", label="reconcile, push (this process)")
    _line(axes[2], done, lambda s: s.get("peak_rss_child_mib"), marker="s", label="largest child (a pull)")
    axes[2].legend(fontsize=8)
    axes[2].set(xscale="log", xlabel="source records", ylabel="MiB", title="peak RSS")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="10000,100000", help="Sizes in source records, comma-separated.")
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # one size, this process (families)
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
        print(json.dumps(measure(args.child, args.seed, args.server_url)))
        return
    sizes = [int(s) for s in args.records.split(",") if s.strip()]
    print(json.dumps(run(sizes, args.seed, args.server_url, args.out), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

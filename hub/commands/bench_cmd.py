"""``hub bench``: benchmarks with JSON output (numbers, never pass/fail)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.output import emit, json_option


@click.group()
def bench() -> None:
    """Benchmarks: accuracy and speed, each with a peer measured in the same run."""


@bench.command()
@click.option("--families", type=click.IntRange(min=50), default=10_000, show_default=True)
@click.option(
    "--nights",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Further nights after the first (advance, pull, reconcile, score).",
)
@click.option("--seed", type=int, default=20261101, show_default=True)
@click.option(
    "--server-url",
    default="postgresql://postgres@127.0.0.1:5432/postgres",
    show_default=True,
    help="PostgreSQL server where a throw-away database is created.",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Generate (or reuse) the sandbox here and keep it.",
)
@click.option("--dataset", type=click.Choice(["sandbox", "latin"]), default="sandbox", show_default=True,
              help="sandbox: the four Russian agencies; latin: two agencies of non-Russian names in Latin "
                   "script (bench/latin.py), with the shipped and a fitted model.")
@json_option
def match(families: int, nights: int, seed: int, server_url: str, keep: Path | None, dataset: str,
          as_json: bool) -> None:
    """Precision, recall and F1 of person pairs (and family clusters) vs the truth, and plain Splink."""
    if dataset == "latin":
        from bench.latin import run as run_latin

        emit(run_latin(families, seed, server_url), as_json, _text)
        return
    from bench.match import run

    result = run(families, nights, seed, server_url, keep)
    emit(result, as_json, _text)


@bench.command()
@click.option("--records", default="10000,100000", show_default=True,
              help="Sizes in source records (the sandbox's truth rows), comma-separated.")
@click.option("--seed", type=int, default=20261101, show_default=True)
@click.option("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres", show_default=True,
              help="PostgreSQL server where a throw-away database is created per size.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON here and the plot beside it (.png).")
@json_option
def night(records: str, seed: int, server_url: str, out: Path | None, as_json: bool) -> None:
    """A whole first and incremental night per size, per stage, with peak RSS and plain Splink."""
    from bench.night import run

    try:
        sizes = [int(s) for s in records.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter("sizes are whole numbers, e.g. 10000,100000",
                                 param_hint="--records") from None
    if not sizes or min(sizes) < 1000:
        raise click.BadParameter("each size is at least 1000 source records", param_hint="--records")
    emit(run(sizes, seed, server_url, out), as_json, _text)


def _text(r: dict[str, object]) -> str:
    import json

    return json.dumps(r, indent=2, ensure_ascii=False)

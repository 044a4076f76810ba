"""``hub push``: deliver to each agency what it is entitled to; ``hub push retry --dead``; the disclosures."""

from __future__ import annotations

from typing import Any

import click

from hub.output import emit, fail, json_option


class DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``default`` (``hub push ngo``)."""

    default = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.group("push", cls=DefaultGroup, options_metavar="", subcommand_metavar="[SOURCE | --all] [--json]")
def push_cmd() -> None:
    """Queue registry ids and status for SOURCE (or --all) and deliver them.

    \b
    hub push SOURCE | --all [--json]
    hub push retry SOURCE | --all --dead [--json]   re-queue dead letters, then push
    """


def _sources(source: str | None, push_all: bool) -> list[Any]:
    from connectors.config import load_sources
    from connectors.errors import UnknownSourceError

    sources = load_sources()
    if push_all:
        return [s for s in sources.values() if s.push]
    if not source:
        raise click.UsageError("name a SOURCE or use --all")
    if source not in sources:
        raise UnknownSourceError(f"unknown source {source!r}; configured: {', '.join(sources)}")
    return [sources[source]]


@push_cmd.command("run", hidden=True)
@click.argument("source", required=False)
@click.option("--all", "push_all", is_flag=True, help="Push to every source that has a push configuration.")
@json_option
def run(source: str | None, push_all: bool, as_json: bool) -> None:
    """Queue the changes for SOURCE (or --all) and deliver them."""
    from connectors.push import push

    results = [push(s).as_dict() for s in _sources(source, push_all)]
    _report(results, push_all, as_json)


@push_cmd.command("retry")
@click.argument("source", required=False)
@click.option("--all", "push_all", is_flag=True, help="Every source with a push configuration.")
@click.option("--dead", is_flag=True, required=True, help="Re-queue the dead letters (required).")
@json_option
def retry(source: str | None, push_all: bool, dead: bool, as_json: bool) -> None:
    """Re-queue SOURCE's dead-lettered messages and push again (after fixing what killed them)."""
    from connectors.push import retry_dead

    results = []
    for s in _sources(source, push_all):
        released, stats = retry_dead(s)
        results.append({**stats.as_dict(), "released": released})
    _report(results, push_all, as_json)


def _report(results: list[dict[str, Any]], many: bool, as_json: bool) -> None:
    emit(results if many else results[0], as_json, lambda d: "\n".join(
        f"{r['source']:<18} run {r['run_id']}: {r['entries_changed']} changed, {r['queued']} queued, "
        f"{r['delivered']} delivered ({r['disclosed_fields']} fields disclosed, {r['retracted_fields']} "
        f"retracted), {r['failed']} failed ({r['dead']} dead-lettered)"
        + (f", {r['released']} dead letters released" if "released" in r else "")
        for r in (d if isinstance(d, list) else [d])))
    undelivered = [r for r in results if r["failed"]]
    if undelivered:
        fail(f"{sum(r['failed'] for r in undelivered)} message(s) not delivered to "
             f"{', '.join(r['source'] for r in undelivered)}")


@click.group()
def disclosures() -> None:
    """The disclosure register: which field about which person went to which agency, on which basis."""


@disclosures.command("list")
@click.option("--person", help="A registry person id (P…).")
@click.option("--agency", help="A receiving source code.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--purpose", default="audit", show_default=True, help="Why you look (kept in the audit log).")
@json_option
def list_(person: str | None, agency: str | None, limit: int, purpose: str, as_json: bool) -> None:
    """Disclosures about --person and/or to --agency, newest first (the query is audited)."""
    from dataclasses import asdict

    from registry import audit
    from registry import disclosures as register
    from registry.db import connect

    if not person and not agency:
        raise click.UsageError("name --person or --agency")
    with connect() as conn:
        rows = register.listing(conn, person, agency, limit)
        audit.append(conn, "disclosures.list", "person" if person else "agency", person or agency,
                     {"person": person, "agency": agency, "rows": len(rows), "purpose": purpose[:200]})
    emit([asdict(r) for r in rows], as_json, _text)


def _text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no disclosures"
    lines = [f"{'when':<19}  {'agency':<18} {'person':<11} {'field':<21} {'basis':<10} {'consent':>7} "
             "message"]
    lines += [f"{r['disclosed_at'][:19]:<19}  {r['target_source']:<18} {r['person_id'] or '-':<11} "
              f"{r['field']:<21} {r['basis']:<10} {r['consent_id'] or '-':>7} {r['message_id']}"
              for r in rows]
    return "\n".join(lines)

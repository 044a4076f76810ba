"""``hub reconcile``, ``hub matching train``, ``hub review …`` and ``hub registry unmerge``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hub.output import emit, fail, json_option


@click.command()
@json_option
def reconcile(as_json: bool) -> None:
    """Match tonight's new and changed records into the registry (incremental)."""
    from matching.reconcile import reconcile as run

    emit(run(), as_json, _reconcile_text)


def _reconcile_text(s: dict[str, Any]) -> str:
    p, f, c = s["persons"], s["families"], s["care"]
    return (
        f"run {s['run_id']} ({s['model_version']}) in {s['seconds']}s: {p['records']} person records → "
        f"{p['new_persons']} new persons, {p['rule_links']} rule links, {p['auto_links']} auto links, "
        f"{p['family_supported']} family-supported, {p['review_items']} for review, {p['merges']} merges; "
        f"{f['families']} families ({f['new_families']} new); {c['cases']} cases, {c['services']} services, "
        f"{c['statuses']} statuses, {c['consents']} consents; {c['waiting']} care records waiting for their "
        "person or household" + _model_notes(s)
    )


def _model_notes(s: dict[str, Any]) -> str:
    from matching.drift import describe

    fitted, notes = s.get("model_fitted"), []
    if fitted and fitted["fitted"]:
        notes.append(f"no model was fitted on this registry: fitted {fitted['model']} on {fitted['records']} "
                     f"staged persons in {fitted['seconds']}s and used it")
    elif fitted:
        notes.append(f"the shipped model ran: {fitted['records']} staged persons, {fitted['why']}")
    if s.get("drift"):
        notes.append("drift: " + describe(s["drift"]))
    return "".join(f"\n{n}" for n in notes)


@click.command()
@click.option("--source", help="Only this source.")
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
def waiting(source: str | None, limit: int, as_json: bool) -> None:
    """Care records waiting for their person or household (kept pending; attached the night it arrives)."""
    from dataclasses import asdict

    from registry.db import connect
    from registry.waiting import waiting as query

    with connect() as conn:
        total, rows = query(conn, source, limit)
    emit({"waiting": total, "records": [asdict(r) for r in rows]}, as_json, _waiting_text)


def _waiting_text(d: dict[str, Any]) -> str:
    if not d["records"]:
        return "no care record is waiting"
    lines = [f"{'source':<18} {'kind':<11} {'record':<28} {'waits for':<36} {'missed':>6}  staged at"]
    lines += [f"{r['source_code']:<18} {r['record_kind']:<11} {r['source_record_id'][:28]:<28} "
              f"{r['waits_for'][:36]:<36} {r['reconciles_missed']:>6}  {r['staged_at'][:19]}"
              for r in d["records"]]
    shown = len(d["records"])
    return "\n".join(lines + ([f"… {d['waiting'] - shown} more"] if d["waiting"] > shown else []))


@click.group()
def matching() -> None:
    """The probabilistic person model."""


@matching.command()
@click.option("--max-pairs", type=float, default=2e6, show_default=True, help="Random pairs for u.")
@click.option("--labels", is_flag=True, help="Let the stewards' accepted and rejected reviews move the fit.")
@json_option
def train(max_pairs: float, labels: bool, as_json: bool) -> None:
    """Train the model on the staged persons and write the next person-vN.json (HUB_MODELS_DIR, else
    matching/models/ — commit it)."""
    from matching.training import train_and_save

    path, used, used_labels = train_and_save(max_pairs=max_pairs, labels=labels)
    emit({"model": str(path), "records": used, "labels": used_labels}, as_json, _train_text)


def _train_text(d: dict[str, Any]) -> str:
    lines = [f"wrote {d['model']} ({d['records']} records)"]
    lab = d["labels"]
    if lab is not None:
        lines.append(f"labels: {lab['pairs']} record pairs from steward decisions "
                     f"({lab['matches']} one person, {lab['non_matches']} not)")
        for name in ("unlabelled_fit", "labelled_fit"):
            m, n = lab[name]["matches"], lab[name]["non_matches"]
            lines.append(f"  {name.replace('_', ' ')}: one-person pairs linked {m['linked']}, queued "
                         f"{m['review']}, apart {m['apart']}; not-one-person pairs linked {n['linked']}, "
                         f"queued {n['review']}, apart {n['apart']}")
    return "\n".join(lines)


@click.group()
def review() -> None:
    """Uncertain matches waiting for a data steward."""


@review.command("list")
@click.option(
    "--status", type=click.Choice(["open", "accepted", "rejected"]), default="open", show_default=True
)
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def review_list(status: str, limit: int, as_json: bool) -> None:
    """Review items, strongest first."""
    from matching.steward import list_reviews
    from registry.db import connect

    with connect() as conn:
        rows = list_reviews(conn, status, limit)
    emit(
        rows,
        as_json,
        lambda rs: (
            "\n".join(
                [f"{'review':>6}  source:record  now  candidate  weight"]
                + [f"{r['review_id']:>6}  {r['source']}:{r['source_record_id']}  now {r['current_id']}  "
                   f"candidate {r['candidate_id']}  weight {r['score']}" for r in rs]
            )
            if rs else f"no {status} review items"
        ),
    )


@review.command("show")
@click.argument("review_id", type=int)
@json_option
def review_show(review_id: int, as_json: bool) -> None:
    """The record and the candidate side by side, with the weight of each comparison (audited)."""
    from matching.steward import show_review
    from registry.db import connect

    with connect() as conn:
        data = show_review(conn, review_id)
    emit(data, as_json, _side_by_side)


def _side_by_side(d: dict[str, Any]) -> str:
    lines = [
        f"review {d['review_id']} ({d['status']}), weight {d['score']:.2f}: "
        f"{d['source']}:{d['source_record_id']} vs {d['candidate_id']}",
        f"{'':<14}{'record':<40}{'candidate':<40}",
    ]
    for key in ("family_name", "given_name", "patronymic", "birth_date", "sex"):
        lines.append(
            f"{key:<14}{d['record'].get(key, '')!s:<40}{(d['candidate'] or {}).get(key, '')!s:<40}"
        )
    lines += [f"  {name:<14} {weight:+.2f}" for name, weight in sorted(d["comparisons"].items())]
    return "\n".join(lines)


reason_option = click.option("--reason", help="Why (kept with the decision, never in the audit log).")


def _decide(review_id: int, accept: bool, reason: str | None, as_json: bool) -> None:
    from matching.errors import StewardError
    from matching.steward import decide_review
    from registry.db import connect

    try:
        with connect() as conn:
            result = decide_review(conn, review_id, accept, reason=reason)
    except StewardError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        result, as_json, lambda r: f"review {r['review_id']} {r['decision']} (candidate {r['candidate_id']})"
    )


@review.command("accept")
@click.argument("review_id", type=int)
@reason_option
@json_option
def review_accept(review_id: int, reason: str | None, as_json: bool) -> None:
    """Link the record to the candidate person (kept by every later run)."""
    _decide(review_id, True, reason, as_json)


@review.command("reject")
@click.argument("review_id", type=int)
@reason_option
@json_option
def review_reject(review_id: int, reason: str | None, as_json: bool) -> None:
    """Never link the record to the candidate person (kept by every later run)."""
    _decide(review_id, False, reason, as_json)


@matching.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as FILE.html.")
@json_option
def report(out: Path | None, as_json: bool) -> None:
    """The model's parameters and charts; thresholds as probabilities with expected precision and recall."""
    from matching.model_report import build
    from registry.db import connect

    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        fail(f"--out must end in .html, not {out.suffix or 'nothing'}")
    with connect() as conn:
        data = build(conn)
    if out is not None:
        from web.model_report import report_html

        out.write_text(report_html(data), "utf-8")
    emit({**data, "out": str(out) if out else None}, as_json, _model_text)


def _model_text(d: dict[str, Any]) -> str:
    q = d["quality"]
    lines = [f"model {d['version']}: {q['records']} registry records, {q['scored_pairs']} scored pairs, "
             f"{q['expected_matches']} expected matches"]
    for t in q["thresholds"]:
        lines.append(f"  {t['name']:<22} weight {t['weight']:>5}  probability {t['probability']:.4f}  "
                     f"expected precision {t['expected_precision']}  recall {t['expected_recall']}")
    if d["out"]:
        lines.append(f"wrote {d['out']}")
    return "\n".join(lines)


@click.group()
def registry() -> None:
    """The shared registry of persons and families."""


@registry.command()
@click.argument("registry_id")
@click.argument("source_record", metavar="SOURCE:RECORD_ID")
@reason_option
@json_option
def unmerge(registry_id: str, source_record: str, reason: str | None, as_json: bool) -> None:
    """Take SOURCE:RECORD_ID out of REGISTRY_ID into a new person, and never link them again."""
    from matching.errors import StewardError
    from matching.steward import unmerge as run
    from registry.db import connect

    source, _, sid = source_record.partition(":")
    if not sid:
        raise click.UsageError("SOURCE_RECORD is SOURCE:RECORD_ID, e.g. ngo:12345")
    try:
        with connect() as conn:
            result = run(conn, registry_id, source, sid, reason=reason)
    except StewardError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        result,
        as_json,
        lambda r: (
            f"{r['source']}:{r['source_record_id']} moved from {r['registry_id']} to new person {r['new_id']}"
        ),
    )

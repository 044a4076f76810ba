"""Plain-text renderings of the lineage views for a person at a terminal (``--json`` prints the views)."""

from __future__ import annotations

import json
from typing import Any

_POINTER = {True: "resolves", False: "DOES NOT RESOLVE", None: "not checked"}


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "-"


def _airflow(run: dict[str, Any]) -> str:
    return f"Airflow {run['dag_id']} / {run['airflow_run_id']} / {run['task_id']} try {run['try_number']}"


def _score(score: float | None) -> str:
    return "-" if score is None else f"{score:.2f}"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _head(v: dict[str, Any], kind: str, ident: str) -> list[str]:
    lines = [
        f"{kind} {v[ident]} ({v['status']}, created {v['created_at']})"
        + (f" — as of {v['as_of']}" if v.get("as_of") else "")
    ]
    if v.get("note"):
        lines.append(f"  note: {v['note']}")
    return lines


def trace_lines(t: dict[str, Any], indent: str = "    ") -> list[str]:
    """The lines of one attribute trace."""
    rec, raw, pull, chosen, match = (
        t["source_record"],
        t["raw_payload"],
        t["pull_run"],
        t["chosen_by_run"],
        t["match"],
    )
    lines = [
        f"{indent}from {rec['source']} ({rec['agency']}) record {rec['source_record_id']},"
        f" staged #{rec['staged_id']} at {rec['staged_at']}",
        f"{indent}raw payload sha256 {raw['sha256']} at {json.dumps(raw['position'], ensure_ascii=False)},"
        f" inside {raw['pointer_inside']}",
        f"{indent}mapping {t['mapping']['name']} {t['mapping']['version']}; pulled in run {pull['run_id']}"
        f" ({_airflow(pull)})",
        f"{indent}attached by match decision {match['decision']} (score {_score(match['score'])}, model "
        f"{match['model_version'] or '-'}, run {match['run_id']})",
        f"{indent}{t['attribute']} chosen by {t['survivorship_rule']} in run {chosen['run_id']}"
        f" ({chosen['kind']}, {_airflow(chosen)})"
        f" since {t['since']}",
    ]
    lines += [f"{indent}mapping warning: {w}" for w in rec.get("warnings", [])]
    check = t.get("raw_check")
    if check:
        pointer = _POINTER[check["pointer_resolved"]]
        where = f" (line {check['line']}, byte {check['byte_offset']})" if "line" in check else ""
        lines.append(
            f"{indent}raw bytes: sha256 {'ok' if check['sha256_ok'] else 'MISMATCH'},"
            f" pointer {pointer}{where}"
        )
    return lines


def history_lines(items: list[dict[str, Any]]) -> list[str]:
    out = []
    for h in items:
        what = h["what"]
        detail = {
            "attribute_set": lambda h: (
                f"{h['attribute']} = sha {_short(h['value_sha256'])} from "
                f"{h['source']}:{h['source_record_id']}"
            ),
            "attribute_changed": lambda h: (
                f"{h['attribute']} → sha {_short(h['value_sha256'])} from "
                f"{h['source']}:{h['source_record_id']}"
            ),
            "link_opened": lambda h: (
                f"{h['source']}:{h['source_record_id']} → {h['entity_id']} ({h['decision']})"
            ),
            "link_closed": lambda h: f"{h['source']}:{h['source_record_id']} ✕ {h['entity_id']}",
        }.get(what, lambda h: f"{h['entity_id']} {h.get('other_id') or ''}".strip())(h)
        run = h.get("run") or {}
        out.append(f"  {h['at']}  {what:<18} {detail}  [{h.get('cause')}; run {run.get('run_id')}]")
    return out


def person_text(v: dict[str, Any]) -> str:
    lines = _head(v, "person", "registry_id")
    if not v["existed"]:
        return "\n".join(lines)
    lines.append("golden values:")
    by_record: dict[int, dict[str, Any]] = {}
    for t in v["values"]:
        rec = t["source_record"]
        lines.append(
            f"  {t['attribute']:<18} = {_value(t['value'])}  ← {t['survivorship_rule']} from "
            f"{rec['source']}:{rec['source_record_id']} (staged #{rec['staged_id']})"
        )
        by_record.setdefault(rec["staged_id"], t)
    lines.append("traces (one per source record that supplies a value):")
    for staged_id, t in sorted(by_record.items()):
        lines.append(f"  staged #{staged_id}:")
        lines += trace_lines(t)
    lines.append("source records:")
    for link in v["source_records"]:
        lines.append(
            f"  {link['source']}:{link['source_record_id']}  {link['decision']}"
            f"  score {_score(link['score'])}"
            f"  model {link['model_version'] or '-'}  run {link['run_id']}  since {link['valid_from']}"
        )
    lines.append("history:")
    lines += history_lines(v["history"])
    return "\n".join(lines)


def value_text(v: dict[str, Any]) -> str:
    lines = _head(v, "person", "registry_id")
    t = v["trace"]
    lines.append(f"{v['attribute']} = {_value(v['value'])}" if t else f"{v['attribute']}: no value")
    if t:
        lines += trace_lines(t, "  ")
    lines.append("candidates survivorship saw:")
    for c in v["candidates"]:
        mark = "*" if c["chosen"] else " "
        lines.append(
            f" {mark} {c['source']}:{c['source_record_id']} (staged #{c['staged_id']}, trust rank "
            f"{c['trust_rank']}, {c['staged_at']}) = {_value(c['value'])}"
        )
    if v["recomputed"]:
        r = v["recomputed"]
        lines.append(
            f"recomputed: {r['rule']} picks staged #{r['staged_id']} — "
            f"{'agrees' if r.get('agrees') else 'DISAGREES'} with the registry"
        )
    if v["conflict"]:
        lines.append(
            f"conflict (run {v['conflict']['run_id']}): "
            + "; ".join(
                f"{_value(c['value'])} from {', '.join(c['sources'])}" for c in v["conflict"]["candidates"]
            )
        )
    return "\n".join(lines)


def family_text(v: dict[str, Any]) -> str:
    lines = _head(v, "family", "family_id")
    if not v["existed"]:
        return "\n".join(lines)
    lines.append("source households:")
    lines += [
        f"  {h['source']}:{h['source_record_id']}  {h['decision']}  since {h['valid_from']}"
        for h in v["households"]
    ]
    lines.append("members:")
    for m in v["members"]:
        said = ", ".join(f"{s['source']}:{s['source_record_id']} says {s['role']}" for s in m["said_by"])
        lines.append(f"  {m['person_id']}  {m['role']:<15} from {m['chosen_from']['source']}  ({said})")
    lines.append("categories:")
    lines += [
        f"  {c['category']:<28} from {c['source']}  (said by "
        f"{', '.join(s['source'] + ':' + s['source_record_id'] for s in c['said_by'])})"
        for c in v["categories"]
    ]
    lines.append("cases:")
    lines += [
        f"  {c.get('case_id', '-')}  {c['source']}:{c['source_record_id']}  {c['level']} {c['stage']}"
        f"  opened {c['opened_on']}"
        for c in v["cases"]
    ]
    lines.append("services:")
    lines += [
        f"  {s['source']}:{s['source_record_id']}  {s['kind']}  {s['status']}  from {s['started_on']}"
        for s in v["services"]
    ]
    lines.append("history:")
    lines += history_lines(v["history"])
    return "\n".join(lines)


def source_text(v: dict[str, Any]) -> str:
    lines = [f"{v['source']}:{v['source_record_id']} ({v['agency']}: {v['name']})", "staged versions:"]
    lines += [
        f"  #{s['staged_id']} {s['kind']:<10} {s['staged_at']}  payload {_short(s['payload_sha256'])}"
        f" {s['pointer']}  run {s['run_id']}"
        + ("  superseded by #" + str(s["superseded_by"]) if s["superseded_by"] else "")
        + ("  deleted " + s["deleted_at"] if s["deleted_at"] else "")
        for s in v["staged_versions"]
    ]
    lines.append(
        "registry: "
        + (", ".join(f"{e['kind']} {e['registry_id']}" for e in v["registry_entities"]) or "not linked")
    )
    lines += [
        f"  link {x['kind']} {x['registry_id']} {x['decision']} {x['valid_from']} → {x['valid_to'] or 'now'}"
        for x in v["links"]
    ]
    lines.append(
        "supplies: "
        + (
            ", ".join(f"{a['entity_id']}.{a['attribute']}" for a in v["supplies_attributes"])
            or "no golden attribute"
        )
    )
    lines.append("care rows: " + (", ".join(f"{c['table']} {c['row_id']}" for c in v["care_rows"]) or "none"))
    lines += [f"pushed back in message {p['message_id']} at {p['delivered_at']}" for p in v["pushed_back"]]
    return "\n".join(lines)


def run_text(v: dict[str, Any]) -> str:
    r = v["run"]
    lines = [
        f"run {r['run_id']} {r['kind']} {r['source'] or ''} {r['status']} "
        f"(Airflow {r['dag_id']} / {r['airflow_run_id']} / {r['task_id']} try {r['try_number']})",
        f"  {r['started_at']} → {r['finished_at']}",
    ]
    s = v["staged"]
    lines.append(f"staged: new {s['new']}, updated {s['updated']}, deleted {s['deleted']}")
    lines.append(f"quarantine: {v['quarantine']['by_reason']}")
    lines.append(f"reconciled records: {v['reconciled_records']}")
    lines.append(f"links opened: {v['links']['opened']}; closed: {v['links']['closed_during_run']}")
    lines.append(
        f"golden attributes chosen: {v['golden']['attributes_chosen']} ({v['golden']['entities']} entities)"
    )
    lines.append(f"events: {v['events']['by_event']}")
    lines.append(f"review items: {v['review_items']}; conflicts: {v['conflicts']}")
    lines.append(
        f"outbox: {len(v['outbox']['created'])} created, {len(v['outbox']['delivered_during_run'])} "
        "delivered during the run"
    )
    return "\n".join(lines)

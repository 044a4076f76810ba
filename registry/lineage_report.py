"""``hub report lineage``: one family's lineage as a readable, self-contained HTML page.

One file, inline CSS, no script, no external resource (it is read on an auditor's machine, perhaps
offline, and must not call out). Every piece of text goes through ``html.escape``. Sections: the family
and its members, the timeline (events, link changes, attribute changes, with their runs), the runs
involved (Airflow ids), the source records and match decisions, and each member's values with lineage.
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from typing import Any

import psycopg2.extensions

from registry.lineage_family import family_view
from registry.lineage_views import family_of_person, person_view

Conn = psycopg2.extensions.connection

_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em;color:#222;max-width:80em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}code{font-size:.85em;word-break:break-all}.muted{color:#777}
.note{background:#fff6d5;padding:.5em;border:1px solid #e8d48a}
"""


def build(conn: Conn, entity_id: str) -> tuple[str, dict[str, Any]]:
    """(HTML page, summary) for a family id, or a person id (their current family)."""
    family_id = family_of_person(conn, entity_id) if entity_id.upper().startswith("P") else entity_id
    family = family_view(conn, family_id)
    members = [person_view(conn, m["person_id"]) for m in family["members"]]
    page = render(entity_id, family, members)
    return page, {
        "family_id": family["family_id"],
        "members": len(members),
        "values": sum(len(m["values"]) for m in members),
    }


def _e(value: Any) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return escape(text)


def _table(headers: list[str], rows: list[list[Any]], raw: frozenset[int] = frozenset()) -> str:
    """An HTML table; cells are escaped unless their column index is in ``raw`` (already HTML)."""
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if i in raw else _e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(requested: str, family: dict[str, Any], members: list[dict[str, Any]]) -> str:
    """The page for ``family`` (a ``family_view``) and its members' ``person_view``s."""
    title = f"Lineage of family {family['family_id']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ru"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">Requested {escape(requested)}; generated {escape(_now())}. Confidential: '
        "personal data of a family with children — do not forward.</p>",
    ]
    if family.get("note"):
        parts.append(f'<p class="note">{escape(family["note"])}</p>')
    parts += _family_section(family, {m["registry_id"]: _name(m) for m in members})
    parts += _timeline_section(family, members)
    parts += _runs_section(members)
    parts += _sources_section(family, members)
    parts += _values_section(members)
    parts.append("</body></html>")
    return "\n".join(parts)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _said(items: list[dict[str, Any]], key: str | None = None) -> str:
    """``source:record (role)`` for each source record that says so."""
    return "; ".join(
        f"{i['source']}:{i['source_record_id']}" + (f" ({i[key]})" if key else "") for i in items
    )


def _name(person: dict[str, Any]) -> str:
    golden = person.get("golden") or {}
    return " ".join(str(golden[k]) for k in ("family_name", "given_name", "patronymic") if golden.get(k))


def _family_section(f: dict[str, Any], names: dict[str, str]) -> list[str]:
    return [
        "<h2>Family</h2>",
        f"<p>{escape(f['family_id'])} — status {escape(f['status'])}, created {escape(f['created_at'])}</p>",
        "<h3>Members</h3>",
        _table(
            ["person", "name", "role", "from", "to", "chosen from", "source memberships saying so"],
            [
                [
                    m["person_id"],
                    names.get(m["person_id"]),
                    m["role"],
                    m["period_from"],
                    m["period_to"],
                    f"{m['chosen_from']['source']}:{m['chosen_from']['source_record_id']}",
                    _said(m["said_by"], "role"),
                ]
                for m in f["members"]
            ],
        ),
        "<h3>Categories</h3>",
        _table(
            ["category", "since", "until", "source", "said by"],
            [
                [c["category"], c["since"], c["until"], c["source"], _said(c["said_by"])]
                for c in f["categories"]
            ],
        ),
        "<h3>Accompaniment cases</h3>",
        _table(
            ["case", "source record", "level", "stage", "opened", "closed", "raw payload", "pointer"],
            [
                [
                    c.get("case_id"),
                    f"{c['source']}:{c['source_record_id']}",
                    c["level"],
                    c["stage"],
                    c["opened_on"],
                    c["closed_on"],
                    c["payload_sha256"],
                    c["pointer"],
                ]
                for c in f["cases"]
            ],
        ),
        "<h3>Services</h3>",
        _table(
            ["source record", "person", "kind", "provider", "started", "ended", "status", "raw payload"],
            [
                [
                    f"{s['source']}:{s['source_record_id']}",
                    s.get("person_id"),
                    s["kind"],
                    s["provider_agency"],
                    s["started_on"],
                    s["ended_on"],
                    s["status"],
                    s["payload_sha256"],
                ]
                for s in f["services"]
            ],
        ),
    ]


def _timeline_section(f: dict[str, Any], members: list[dict[str, Any]]) -> list[str]:
    items = [("family", h) for h in f["history"]] + [("person", h) for m in members for h in m["history"]]
    items.sort(key=lambda x: x[1]["at"])
    rows = []
    for kind, h in items:
        what = h.get("attribute") or h.get("other_id") or ""
        source = f"{h['source']}:{h['source_record_id']}" if h.get("source") else None
        run = h.get("run") or {}
        rows.append(
            [
                h["at"],
                f"{kind} {h['entity_id']}",
                h["what"],
                what,
                source,
                h.get("cause"),
                run.get("run_id"),
                run.get("dag_id"),
            ]
        )
    return [
        "<h2>Timeline</h2>",
        _table(["time", "entity", "event", "detail", "source record", "cause", "run", "DAG"], rows),
    ]


def _runs_section(members: list[dict[str, Any]]) -> list[str]:
    runs: dict[Any, dict[str, Any]] = {}
    for m in members:
        for t in m["values"]:
            for run in (t["pull_run"], t["chosen_by_run"]):
                if run["run_id"] is not None:
                    runs[run["run_id"]] = run
    rows = [
        [r["run_id"], r["kind"], r["dag_id"], r["airflow_run_id"], r["task_id"], r["try_number"]]
        for _, r in sorted(runs.items())
    ]
    return ["<h2>Runs</h2>", _table(["run", "kind", "DAG", "Airflow run", "task", "try"], rows)]


def _sources_section(f: dict[str, Any], members: list[dict[str, Any]]) -> list[str]:
    households = [
        [h["source"], h["source_record_id"], h["decision"], h["explanation"], h["run_id"], h["valid_from"]]
        for h in f["households"]
    ]
    decisions = [
        [
            m["registry_id"],
            link["source"],
            link["source_record_id"],
            link["decision"],
            link["score"],
            link["model_version"],
            link["explanation"],
            link["run_id"],
            link["valid_from"],
        ]
        for m in members
        for link in m["source_records"]
    ]
    return [
        "<h2>Sources and decisions</h2>",
        "<h3>Source households</h3>",
        _table(["source", "household", "decision", "explanation", "run", "since"], households),
        "<h3>Person records and match decisions</h3>",
        _table(
            ["person", "source", "record", "decision", "score", "model", "explanation", "run", "since"],
            decisions,
        ),
    ]


def _values_section(members: list[dict[str, Any]]) -> list[str]:
    parts = ["<h2>Values and their lineage</h2>"]
    for m in members:
        parts.append(f"<h3>{escape(m['registry_id'])} {escape(_name(m))}</h3>")
        rows = [
            [
                t["attribute"],
                t["value"],
                t["survivorship_rule"],
                f"{t['source_record']['source']}:{t['source_record']['source_record_id']}",
                f"<code>{escape(t['raw_payload']['sha256'] or '')}</code>",
                t["raw_payload"]["position"],
                t["raw_payload"]["pointer_inside"],
                f"{t['mapping']['name']} {t['mapping']['version']}",
                t["match"]["decision"],
                t["chosen_in_run"],
            ]
            for t in m["values"]
        ]
        parts.append(
            _table(
                [
                    "attribute",
                    "value",
                    "rule",
                    "source record",
                    "raw sha256",
                    "position",
                    "pointer",
                    "mapping",
                    "match",
                    "run",
                ],
                rows,
                raw=frozenset({4}),
            )
        )
    return parts

"""Programme KPIs from the registry: the numbers behind ``hub report kpi`` and the manager's pages.

Every figure counts families (or cases, services) — never a person's value — and every definition is in
``docs/kpi.md``; the SQL below is that definition. A family is *under accompaniment* on a day when one of
its cases is open then (opened on or before it, not closed before it). Counts of 1–4 families are small
cells: ``suppress`` replaces them before a manager sees them (a zero stays a zero).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection
SMALL_CELL = 5
TARGET_POSITIVE_SHARE = 0.30
SUPPRESSED = "<5"


@dataclass
class KpiReport:
    date_from: str
    date_to: str
    accompanied_families: int | str
    by_category: list[dict[str, Any]]
    by_level: list[dict[str, Any]]
    by_stage: list[dict[str, Any]]
    by_commission: list[dict[str, Any]]
    by_working_group: list[dict[str, Any]]
    by_category_level_stage: list[dict[str, Any]]
    cases_by_month: list[dict[str, Any]]
    closure_reasons: list[dict[str, Any]]
    closed_cases: int | str
    closed_positive: int | str
    positive_share: float | None
    services: list[dict[str, Any]]
    durations: dict[str, dict[str, Any]]
    no_curator: int | str
    no_programme: int | str
    one_agency: int | str
    target_positive_share: float = TARGET_POSITIVE_SHARE
    suppressed: bool = field(default=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_OPEN = "c.opened_on <= %(to)s AND (c.closed_on IS NULL OR c.closed_on > %(to)s)"
_ACTIVE_FAMILY = "JOIN registry_family f ON f.registry_id = c.family_id AND f.status = 'active'"


def report(conn: Conn, date_from: dt.date, date_to: dt.date) -> KpiReport:
    """Every KPI for cases and services between ``date_from`` and ``date_to`` (both days included)."""
    p = {"from": date_from, "to": date_to}
    closed = _rows(conn, f"""
        SELECT coalesce(c.closure_reason, 'unknown') AS reason, count(*) AS cases
        FROM accompaniment_case c {_ACTIVE_FAMILY}
        WHERE c.closed_on BETWEEN %(from)s AND %(to)s GROUP BY 1 ORDER BY 2 DESC, 1""", p)
    total_closed = sum(r["cases"] for r in closed)
    positive = sum(r["cases"] for r in closed if r["reason"] == "positive_dynamics")
    return KpiReport(
        date_from=date_from.isoformat(),
        date_to=date_to.isoformat(),
        accompanied_families=_one(conn, f"""
            SELECT count(DISTINCT c.family_id) FROM accompaniment_case c {_ACTIVE_FAMILY}
            WHERE {_OPEN}""", p),
        by_category=_breakdown(conn, "coalesce(fc.category, 'none')", p),
        by_level=_breakdown(conn, "c.level", p),
        by_stage=_breakdown(conn, "c.stage", p),
        by_commission=_breakdown(conn, "coalesce(c.district_commission, 'none')", p),
        by_working_group=_breakdown(conn, "coalesce(c.working_group, 'none')", p),
        by_category_level_stage=_rows(conn, f"""
            SELECT coalesce(fc.category, 'none') AS category, c.level, c.stage,
                   count(DISTINCT c.family_id) AS families
            FROM accompaniment_case c {_ACTIVE_FAMILY}
            LEFT JOIN family_category fc ON fc.family_id = c.family_id
                 AND (fc.since IS NULL OR fc.since <= %(to)s) AND (fc.until IS NULL OR fc.until >= %(to)s)
            WHERE {_OPEN} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""", p),
        cases_by_month=_rows(conn, f"""
            WITH months AS (
                SELECT to_char(m, 'YYYY-MM') AS month FROM generate_series(
                    date_trunc('month', %(from)s::date), date_trunc('month', %(to)s::date), '1 month') m)
            SELECT months.month,
                   (SELECT count(*) FROM accompaniment_case c {_ACTIVE_FAMILY}
                    WHERE to_char(c.opened_on, 'YYYY-MM') = months.month
                      AND c.opened_on BETWEEN %(from)s AND %(to)s) AS opened,
                   (SELECT count(*) FROM accompaniment_case c {_ACTIVE_FAMILY}
                    WHERE to_char(c.closed_on, 'YYYY-MM') = months.month
                      AND c.closed_on BETWEEN %(from)s AND %(to)s) AS closed
            FROM months ORDER BY 1""", p),
        closure_reasons=closed,
        closed_cases=total_closed,
        closed_positive=positive,
        positive_share=round(positive / total_closed, 4) if total_closed else None,
        services=_rows(conn, """
            SELECT s.kind, s.provider_agency AS agency, to_char(s.started_on, 'YYYY-MM') AS month,
                   count(*) AS services, count(DISTINCT s.family_id) AS families
            FROM service s WHERE s.started_on BETWEEN %(from)s AND %(to)s
            GROUP BY 1, 2, 3 ORDER BY 3, 1, 2""", p),
        durations={
            "diagnostic_to_contract": _duration(conn, "c.opened_on", "c.contract_date", "c.contract_date", p),
            "contract_to_closure": _duration(conn, "c.contract_date", "c.closed_on", "c.closed_on", p),
        },
        no_curator=_one(conn, f"""
            SELECT count(DISTINCT c.family_id) FROM accompaniment_case c {_ACTIVE_FAMILY}
            WHERE {_OPEN} AND (c.curator IS NULL OR c.curator = 'null'::jsonb)""", p),
        no_programme=_one(conn, f"""
            SELECT count(DISTINCT c.family_id) FROM accompaniment_case c {_ACTIVE_FAMILY}
            WHERE {_OPEN} AND c.stage <> 'diagnostic'
              AND jsonb_array_length(c.individual_programme) = 0""", p),
        one_agency=_one(conn, f"""
            WITH open_families AS (
                SELECT DISTINCT c.family_id FROM accompaniment_case c {_ACTIVE_FAMILY} WHERE {_OPEN}),
            seen AS (
                SELECT o.family_id, s.agency FROM open_families o
                JOIN entity_link l ON l.family_id = o.family_id AND l.valid_to IS NULL
                JOIN source_system s ON s.code = l.source_code
                UNION
                SELECT o.family_id, s.agency FROM open_families o
                JOIN membership m ON m.family_id = o.family_id
                JOIN entity_link l ON l.person_id = m.person_id AND l.valid_to IS NULL
                JOIN source_system s ON s.code = l.source_code
                UNION
                SELECT o.family_id, sv.provider_agency FROM open_families o
                JOIN service sv ON sv.family_id = o.family_id)
            SELECT count(*) FROM (
                SELECT family_id FROM seen GROUP BY 1 HAVING count(DISTINCT agency) = 1) x""", p),
    )


def _breakdown(conn: Conn, column: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Families under accompaniment on the last day, by one column (a family may count in several rows)."""
    return _rows(conn, f"""
        SELECT {column} AS code, count(DISTINCT c.family_id) AS families
        FROM accompaniment_case c {_ACTIVE_FAMILY}
        LEFT JOIN family_category fc ON fc.family_id = c.family_id
             AND (fc.since IS NULL OR fc.since <= %(to)s) AND (fc.until IS NULL OR fc.until >= %(to)s)
        WHERE {_OPEN} GROUP BY 1 ORDER BY 2 DESC, 1""", p)


def _duration(
    conn: Conn, start: str, end: str, when: str, p: dict[str, Any]
) -> dict[str, float | int | None]:
    """Median and 90th percentile of days from ``start`` to ``end``, cases whose ``when`` is in the period."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {end} - {start}),
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY {end} - {start})
                FROM accompaniment_case c {_ACTIVE_FAMILY}
                WHERE {start} IS NOT NULL AND {end} IS NOT NULL AND {when} BETWEEN %(from)s AND %(to)s""",
            p,
        )
        n, median, p90 = cur.fetchone() or (0, None, None)
    return {"cases": n, "median_days": _num(median), "p90_days": _num(p90)}


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _rows(conn: Conn, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _one(conn: Conn, sql: str, params: dict[str, Any]) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return int(row[0]) if row else 0


_COUNTS = ("families", "services")


def suppress(report: KpiReport) -> KpiReport:
    """The report as a manager may see it: every count of 1–4 families (or cases) becomes ``"<5"``.

    A row about fewer than five families hides its other counts too (10 services of 2 families); a median
    of fewer than five cases is one family's own duration, so it goes too; so does a share of fewer than
    five closed cases.
    """
    def cell(value: Any) -> Any:
        return SUPPRESSED if isinstance(value, int) and 0 < value < SMALL_CELL else value

    def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def small(r: dict[str, Any]) -> bool:  # services to persons only have no family to count
            return cell(r.get("families")) == SUPPRESSED or (
                r.get("families") == 0 and cell(r.get("services")) == SUPPRESSED)

        return [{k: SUPPRESSED if k in _COUNTS and small(r) else v for k, v in r.items()} for r in items]

    def durations(d: dict[str, float | int | None]) -> dict[str, Any]:
        small = cell(d["cases"]) == SUPPRESSED
        return {"cases": cell(d["cases"]), "median_days": None if small else d["median_days"],
                "p90_days": None if small else d["p90_days"]}

    few_closed = cell(report.closed_cases) == SUPPRESSED
    return KpiReport(
        **{
            **asdict(report),
            "accompanied_families": cell(report.accompanied_families),
            "by_category": rows(report.by_category),
            "by_level": rows(report.by_level),
            "by_stage": rows(report.by_stage),
            "by_commission": rows(report.by_commission),
            "by_working_group": rows(report.by_working_group),
            "by_category_level_stage": rows(report.by_category_level_stage),
            "cases_by_month": [{"month": m["month"], "opened": cell(m["opened"]), "closed": cell(m["closed"])}
                               for m in report.cases_by_month],
            "closure_reasons": [{**c, "cases": cell(c["cases"])} for c in report.closure_reasons],
            "closed_cases": cell(report.closed_cases),
            "closed_positive": cell(report.closed_positive),
            "positive_share": None if few_closed else report.positive_share,
            "durations": {k: durations(v) for k, v in report.durations.items()},
            "services": rows(report.services),
            "no_curator": cell(report.no_curator),
            "no_programme": cell(report.no_programme),
            "one_agency": cell(report.one_agency),
            "suppressed": True,
        }
    )

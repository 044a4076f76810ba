"""Programme KPIs: the page, ``hub report kpi`` (.html, .xlsx), suppression — against SQL of our own."""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from registry import kpi
from registry.db import connect
from tests.web_world import Workspace

START, END = dt.date(2020, 1, 1), dt.date(2026, 12, 31)


def _independent(ws: Workspace) -> dict[str, object]:
    """The same KPIs computed another way: rows fetched, counted in Python."""
    cases = ws.sql("""SELECT c.family_id, c.opened_on, c.closed_on, c.closure_reason, c.contract_date,
                             c.curator, c.stage, c.individual_programme
                      FROM accompaniment_case c JOIN registry_family f ON f.registry_id = c.family_id
                      WHERE f.status = 'active'""")
    closed = [c for c in cases if c[2] is not None and START <= c[2] <= END]
    positive = [c for c in closed if c[3] == "positive_dynamics"]
    open_ = {c[0] for c in cases if c[1] <= END and (c[2] is None or c[2] > END)}
    days = [(c[4] - c[1]).days for c in cases if c[4] is not None and START <= c[4] <= END]
    return {"closed": len(closed), "positive": len(positive), "open_families": len(open_),
            "median_to_contract": statistics.median(days) if days else None}


def test_the_report_matches_independent_sql(workspace: Workspace) -> None:
    with connect(workspace.database_url) as conn:
        r = kpi.report(conn, START, END)
    truth = _independent(workspace)
    assert r.closed_cases == truth["closed"]
    assert r.closed_cases > 0
    assert r.closed_positive == truth["positive"]
    assert r.positive_share == round(truth["positive"] / truth["closed"], 4)  # type: ignore[operator]
    assert r.accompanied_families == truth["open_families"]
    assert r.durations["diagnostic_to_contract"]["median_days"] == truth["median_to_contract"]
    assert sum(c["cases"] for c in r.closure_reasons) == r.closed_cases
    services = workspace.sql("SELECT count(*) FROM service WHERE started_on BETWEEN %s AND %s",
                             START, END)[0][0]
    assert sum(s["services"] for s in r.services) == services


def test_small_cells_are_suppressed_for_managers(workspace: Workspace) -> None:
    with connect(workspace.database_url) as conn:
        raw = kpi.report(conn, START, END)
    shown = kpi.suppress(raw)
    small = [i for i, row in enumerate(raw.by_category_level_stage) if 0 < row["families"] < 5]
    assert small, "the sandbox has no small cell to hide"
    for i in small:
        assert shown.by_category_level_stage[i]["families"] == "<5"
    big = [i for i, row in enumerate(raw.by_category_level_stage) if row["families"] >= 5]
    for i in big:
        assert shown.by_category_level_stage[i]["families"] == raw.by_category_level_stage[i]["families"]


def test_the_manager_page_shows_the_numbers(workspace: Workspace) -> None:
    truth = _independent(workspace)
    period = {"date_from": START.isoformat(), "date_to": END.isoformat()}
    page = workspace.session("manager").get(f"{workspace.base}/manager", params=period)
    share = round(100 * truth["positive"] / truth["closed"], 1)  # type: ignore[operator]
    block = page.text[page.text.index('id="kpi-positive"'):][:600]
    assert f"{share} %" in block
    assert f"({truth['positive']} из {truth['closed']})" in block
    assert "не менее 30 %" in block
    assert not re.search(r"P\d{9}", page.text), "a manager's page names a registry person"


@pytest.mark.parametrize("suffix", [".xlsx", ".html"])
def test_hub_report_kpi_writes_the_same_numbers(workspace: Workspace, tmp_path: Path, hub_cli: list[str],
                                                suffix: str) -> None:
    out = tmp_path / f"report{suffix}"
    env = {**os.environ, "HUB_DATABASE_URL": workspace.database_url}
    done = subprocess.run([*hub_cli, "report", "kpi", "--from", START.isoformat(), "--to", END.isoformat(),
                           "--out", str(out), "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    truth = _independent(workspace)
    if suffix == ".xlsx":
        sheet = load_workbook(out)["Сводка"]
        values = {row[0].value: row[1].value for row in sheet.iter_rows()}
        assert values["Закрыто случаев"] == truth["closed"]
        assert values["Из них с положительной динамикой"] == truth["positive"]
    else:
        text = out.read_text("utf-8")
        assert f"({truth['positive']} из {truth['closed']})" in text
        assert "<script" not in text
        assert not re.search(r'(src|href)="(https?:)?//', text), "the report loads something from elsewhere"


def test_a_wrong_output_format_is_one_line(workspace: Workspace, tmp_path: Path, hub_cli: list[str]) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": workspace.database_url}
    done = subprocess.run([*hub_cli, "report", "kpi", "--out", str(tmp_path / "r.pdf")], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: --out must end in .html or .xlsx, not .pdf"


def test_families_by_district_commission_and_working_group(workspace: Workspace) -> None:
    """The sandbox's cases carry them through the export, the XSD, the mapping and reconcile."""
    with connect(workspace.database_url) as conn:
        r = kpi.report(conn, START, END)
    rows = workspace.sql(
        """SELECT c.family_id, c.district_commission, c.working_group FROM accompaniment_case c
           JOIN registry_family f ON f.registry_id = c.family_id AND f.status = 'active'
           WHERE c.opened_on <= %s AND (c.closed_on IS NULL OR c.closed_on > %s)""", END, END)
    assert any(commission for _, commission, _ in rows), "no case reached the registry with its commission"
    for column, found in ((1, r.by_commission), (2, r.by_working_group)):
        expected: dict[str, set[str]] = {}
        for row in rows:
            expected.setdefault(row[column] or "none", set()).add(row[0])
        assert {x["code"]: x["families"] for x in found} == {k: len(v) for k, v in expected.items()}


def test_a_period_with_few_closures_shows_no_share_and_no_median(workspace: Workspace) -> None:
    """Fewer than five closed cases: their count, share and durations would describe single families."""
    day = workspace.sql("""SELECT closed_on FROM accompaniment_case WHERE closed_on IS NOT NULL
                           GROUP BY 1 HAVING count(*) BETWEEN 1 AND 4 ORDER BY 1 LIMIT 1""")[0][0]
    with connect(workspace.database_url) as conn:
        raw = kpi.report(conn, day, day)
    shown = kpi.suppress(raw)
    assert 0 < raw.closed_cases < 5
    assert shown.closed_cases == "<5"
    assert shown.positive_share is None
    assert all(c["cases"] == "<5" for c in shown.closure_reasons)
    closure = shown.durations["contract_to_closure"]
    assert closure["median_days"] is None
    assert closure["p90_days"] is None
    month = [m for m in shown.cases_by_month if m["closed"] != 0]
    assert month
    assert month[0]["closed"] == "<5"
    page = workspace.session("manager").get(f"{workspace.base}/manager",
                                            params={"date_from": day.isoformat(), "date_to": day.isoformat()})
    assert page.status_code == 200
    assert "None" not in page.text


def test_the_default_period_is_a_year_even_from_29_february() -> None:
    from web.kpi_view import default_period

    start, end = default_period(dt.date(2028, 2, 29))
    assert (end - start).days == 364
    assert start == dt.date(2027, 3, 2)

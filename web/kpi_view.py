"""The programme KPIs as people read them: Russian labels, charts, a page, a self-contained HTML report, xlsx.

The numbers come from ``registry.kpi`` already suppressed (``kpi.suppress``): this module only presents.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from registry.kpi import SUPPRESSED, KpiReport
from web import charts
from web.labels import code as label


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last twelve months up to today."""
    end = today or dt.date.today()
    # 365 days ending today; not end.replace(year=…), which fails on 29 February
    return end - dt.timedelta(days=364), end


def _num(value: Any) -> float:
    return 0.0 if value == SUPPRESSED or value is None else float(value)


def context(r: KpiReport) -> dict[str, Any]:
    """What the template needs: the report, its rows with labels, and the charts (SVG)."""
    share = r.positive_share
    services_by_kind: dict[tuple[str, str], float] = defaultdict(float)
    for s in r.services:
        services_by_kind[(s["kind"], s["agency"])] += _num(s["services"])
    kinds = sorted(services_by_kind, key=lambda k: -services_by_kind[k])
    return {
        "r": r,
        "label": label,
        "share_pct": None if share is None else round(share * 100, 1),
        "target_pct": round(r.target_positive_share * 100),
        "meets_target": share is not None and share >= r.target_positive_share,
        "services_by_kind": [(k, a, int(services_by_kind[(k, a)])) for k, a in kinds],
        "charts": {
            "share": charts.bars(
                ["закрыто с положительной динамикой"], [0.0 if share is None else round(share * 100, 1)],
                "Доля случаев, закрытых с положительной динамикой, %", "%",
                target=r.target_positive_share * 100),
            "months": charts.lines(
                [m["month"] for m in r.cases_by_month],
                {"открыто": [_num(m["opened"]) for m in r.cases_by_month],
                 "закрыто": [_num(m["closed"]) for m in r.cases_by_month]},
                "Случаи сопровождения по месяцам", "случаев"),
            "categories": charts.bars(
                [label("category", c["code"]) for c in r.by_category],
                [_num(c["families"]) for c in r.by_category],
                "Семьи на сопровождении по категориям", "семей"),
            "services": charts.bars(
                [f"{label('kind', k)} — {label('agency', a)}" for k, a in kinds],
                [services_by_kind[k] for k in kinds],
                "Услуги по видам и ведомствам", "услуг"),
        },
    }


def write_xlsx(r: KpiReport, out: Path) -> None:
    """One sheet per KPI table, Russian headers, the same (suppressed) numbers as the page."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None  # a new workbook always has its first sheet
    summary.title = "Сводка"
    for row in (
        ("Период", f"{r.date_from} — {r.date_to}"),
        ("Семей на сопровождении (на конец периода)", r.accompanied_families),
        ("Закрыто случаев", r.closed_cases),
        ("Из них с положительной динамикой", r.closed_positive),
        ("Доля с положительной динамикой", r.positive_share),
        ("Целевое значение", r.target_positive_share),
        ("Семей без куратора", r.no_curator),
        ("Семей без индивидуальной программы", r.no_programme),
        ("Семей, известных только одному ведомству", r.one_agency),
        ("Медиана дней от диагностики до договора", r.durations["diagnostic_to_contract"]["median_days"]),
        ("90-й перцентиль дней от диагностики до договора",
         r.durations["diagnostic_to_contract"]["p90_days"]),
        ("Медиана дней от договора до закрытия", r.durations["contract_to_closure"]["median_days"]),
        ("90-й перцентиль дней от договора до закрытия", r.durations["contract_to_closure"]["p90_days"]),
        ("Ячейки менее 5 семей", "скрыты (<5)"),
    ):
        summary.append(list(row))
    _sheet(wb, "Категория × уровень × этап", ["категория", "уровень", "этап", "семей"],
           [[label("category", x["category"]), label("level", x["level"]), label("stage", x["stage"]),
             x["families"]] for x in r.by_category_level_stage])
    _sheet(wb, "Комиссии", ["участковая социальная комиссия", "семей"],
           [[label("commission", x["code"]), x["families"]] for x in r.by_commission])
    _sheet(wb, "Рабочие группы", ["межведомственная рабочая группа", "семей"],
           [[label("group", x["code"]), x["families"]] for x in r.by_working_group])
    _sheet(wb, "Случаи по месяцам", ["месяц", "открыто", "закрыто"],
           [[m["month"], m["opened"], m["closed"]] for m in r.cases_by_month])
    _sheet(wb, "Причины закрытия", ["причина", "случаев"],
           [[label("reason", c["reason"]), c["cases"]] for c in r.closure_reasons])
    _sheet(wb, "Услуги", ["вид", "ведомство", "месяц", "услуг", "семей"],
           [[label("kind", s["kind"]), label("agency", s["agency"]), s["month"], s["services"], s["families"]]
            for s in r.services])
    wb.save(out)


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title[:31])  # Excel's limit on a sheet name
    ws.append(header)
    for row in rows:
        ws.append(row)


def report_html(r: KpiReport) -> str:
    """A self-contained page (styles inline, charts inline SVG): it opens offline, anywhere."""
    from web.app import HERE, templates

    return templates.get_template("kpi_report.html").render(
        **context(r), css=(HERE / "static" / "hub.css").read_text("utf-8"),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


def write_report(r: KpiReport, out: Path) -> str:
    """Write ``out`` as .html or .xlsx (by its suffix); returns the format written."""
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        write_xlsx(r, out)
        return "xlsx"
    if suffix in (".html", ".htm"):
        out.write_text(report_html(r), "utf-8")
        return "html"
    raise ValueError(f"--out must end in .html or .xlsx, not {suffix or 'nothing'}")

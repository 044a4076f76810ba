"""The programme manager's pages: KPIs from the registry, aggregates only, small cells suppressed.

A manager never sees a person: no page of this router names one, and the person pages refuse the role.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from registry import audit, kpi
from web import kpi_view
from web.app import render
from web.auth import User, require
from web.db import registry

router = APIRouter(prefix="/manager")
Signed = Annotated[User, Depends(require("manager"))]


def _period(date_from: str, date_to: str) -> tuple[dt.date, dt.date]:
    start, end = kpi_view.default_period()
    try:
        start = dt.date.fromisoformat(date_from) if date_from else start
        end = dt.date.fromisoformat(date_to) if date_to else end
    except ValueError:
        pass  # a malformed date in the address bar: the default period, not an error page
    start, end = (start, end) if start <= end else (end, start)
    # at most ten years: a period of centuries is thousands of months of work for one page view
    return max(start, end - dt.timedelta(days=3653)), end


def _report(request: Request, user: User, start: dt.date, end: dt.date) -> kpi.KpiReport:
    with registry(request) as conn:
        report = kpi.suppress(kpi.report(conn, start, end))
        audit.append(conn, "web.kpi", "report", f"{start}..{end}", {"role": user.role}, who=user.actor)
    return report


@router.get("", response_class=HTMLResponse, name="manager_kpi")
def page(request: Request, user: Signed, date_from: str = "", date_to: str = "") -> HTMLResponse:
    start, end = _period(date_from, date_to)
    return render(request, "manager_kpi.html", user=user, title="Показатели программы сопровождения",
                  **kpi_view.context(_report(request, user, start, end)))


@router.get("/report", name="manager_report")
def download(request: Request, user: Signed, date_from: str = "", date_to: str = "",
             format: str = "xlsx") -> Response:
    start, end = _period(date_from, date_to)
    report = _report(request, user, start, end)
    suffix = ".html" if format == "html" else ".xlsx"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"kpi{suffix}"
        kpi_view.write_report(report, out)
        data = out.read_bytes()
    media = "text/html; charset=utf-8" if suffix == ".html" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="kpi-{start}-{end}{suffix}"'})

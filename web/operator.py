"""The agency operator's page: the nights per source — pulled, quarantined, waiting, pushed, dead letters.

An operator bound to an agency (``web_user.agency``) sees that agency's sources only. Counts only: a
run's stats never hold a personal value. Each run links to its Airflow DAG run.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from registry.report import source_queues, sources_of_agency
from registry.run_history import list_runs
from schemas.settings import settings
from web import charts
from web.app import render
from web.auth import User, require
from web.db import registry

router = APIRouter(prefix="/operator")
Signed = Annotated[User, Depends(require("operator"))]


def _airflow_link(run: dict[str, Any]) -> str | None:
    if not run.get("dag_id") or not run.get("airflow_run_id"):
        return None
    return (f"{settings().airflow_url.rstrip('/')}/dags/{quote(run['dag_id'], safe='')}"
            f"/runs/{quote(run['airflow_run_id'], safe='')}")


def _target(run: dict[str, Any]) -> str | None:
    return run.get("source_code") or (run.get("stats") or {}).get("source")


@router.get("", response_class=HTMLResponse, name="operator_nights")
def nights(user: Signed, request: Request) -> HTMLResponse:
    with registry(request) as conn:
        queues = source_queues(conn)
        if user.agency:
            mine = sources_of_agency(conn, user.agency)
            queues = {k: v for k, v in queues.items() if k in mine}
        runs = {code: list_runs(conn, "pull", code, limit=30) for code in queues}
        pushes = [r for r in list_runs(conn, "push", None, limit=60)
                  if not user.agency or _target(r) in queues][:20]
    for rs in [*runs.values(), pushes]:
        for r in rs:
            r["airflow_link"] = _airflow_link(r)
    trend = {code: [round(100 * float((r.get("stats") or {}).get("quarantine_rate") or 0), 2)
                    for r in reversed(rs)] for code, rs in runs.items() if rs}
    longest = max((len(v) for v in trend.values()), default=0)
    chart = charts.lines([str(i + 1) for i in range(longest)],
                         {k: [0.0] * (longest - len(v)) + v for k, v in trend.items()},
                         "Доля записей в карантине по последним загрузкам, %", "%") if longest else None
    return render(request, "operator_nights.html", user=user, title="Ночные загрузки по источникам",
                  queues=queues, runs=runs, pushes=pushes, chart=chart)

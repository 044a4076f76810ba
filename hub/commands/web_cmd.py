"""``hub web`` (the workspace in a browser), ``hub web user …`` and ``hub report kpi``."""

from __future__ import annotations

import datetime as dt
import re
import socket
import sys
from pathlib import Path
from typing import Any

import click

from hub.output import emit, fail, json_option

ROLES = ("steward", "auditor", "manager", "operator")
AGENCIES = ("social_protection", "health", "education", "ngo")


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def web(ctx: click.Context, host: str, port: int) -> None:
    """Serve the workspace for stewards, auditors, programme managers and operators (Ctrl-C stops it)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from registry.db import connect
    from registry.maintenance import upgrade_registry
    from registry.web_users import list_users
    from web.app import create_app

    with socket.socket() as probe:  # uvicorn would report a taken port in its own words, exit code 3
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or 'address unavailable'}")
    upgrade_registry()
    with connect() as conn:
        users = list_users(conn)
    if not users:
        click.echo("no workspace users yet: add one with hub web user add NAME --role ROLE", err=True)
    click.echo(f"workspace on http://{host}:{port}/ ({len(users)} user(s)); Ctrl-C stops it", err=True)
    # No access log: addresses carry registry ids and stated purposes, which the audit log keeps already.
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)


@web.group()
def user() -> None:
    """The workspace's users and their roles."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", type=click.Choice(AGENCIES), help="An operator's agency (sees its sources only).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt.")
@json_option
def user_add(username: str, role: str, agency: str | None, password_stdin: bool, as_json: bool) -> None:
    """Create a user (or reset one's role and password); only an Argon2 hash is stored."""
    from registry.db import connect
    from registry.web_users import save_user
    from web.auth import hash_password

    name = username.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_.-]{1,39}", name):
        fail("a user name is 2–40 Latin letters, digits, '_', '.' or '-', starting with a letter")
    if agency and role != "operator":
        fail("--agency is for operators only")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt(
        "password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < 10:
        fail("the password must have at least 10 characters")
    with connect() as conn:
        save_user(conn, name, role, agency, hash_password(password))
    emit({"username": name, "role": role, "agency": agency}, as_json,
         lambda u: f"user {u['username']}: {u['role']}" + (f" of {u['agency']}" if u["agency"] else ""))


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """Every user with role, agency and whether it may sign in (never a hash)."""
    from registry.db import connect
    from registry.web_users import list_users

    with connect() as conn:
        rows = [{"username": u.username, "role": u.role, "agency": u.agency, "active": u.active,
                 "locked": u.locked} for u in list_users(conn)]
    emit(rows, as_json, lambda rs: "\n".join(
        f"{r['username']:<20} {r['role']:<9} {r['agency'] or '':<18} "
        f"{'active' if r['active'] else 'disabled'}{' locked' if r['locked'] else ''}" for r in rs)
        or "no users")


@user.command("disable")
@click.argument("username")
@json_option
def user_disable(username: str, as_json: bool) -> None:
    """Switch a user off (kept, so that the audit log's web:NAME still names someone)."""
    from registry.db import connect
    from registry.web_users import deactivate

    with connect() as conn:
        if not deactivate(conn, username.strip().lower()):
            fail(f"no user {username.strip().lower()}")
    emit({"username": username, "active": False}, as_json, lambda u: f"user {u['username']} disabled")


def kpi_command(report_group: click.Group) -> None:
    """Add ``hub report kpi`` to the ``report`` group."""

    @report_group.command("kpi")
    @click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]),
                  help="First day (default: a year ago).")
    @click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="report.html or report.xlsx")
    @json_option
    def report_kpi(
        date_from: dt.datetime | None, date_to: dt.datetime | None, out: Path, as_json: bool
    ) -> None:
        """Programme KPIs (aggregates only, cells under 5 families hidden) as HTML or xlsx."""
        from registry import audit, kpi
        from registry.db import connect
        from web import kpi_view

        if out.suffix.lower() not in (".html", ".htm", ".xlsx"):
            fail(f"--out must end in .html or .xlsx, not {out.suffix or 'nothing'}")
        start, end = kpi_view.default_period()
        start = date_from.date() if date_from else start
        end = date_to.date() if date_to else end
        if start > end:
            fail("--from is after --to")
        with connect() as conn:
            report = kpi.suppress(kpi.report(conn, start, end))
            audit.append(conn, "report.kpi", "report", f"{start}..{end}", {"out": str(out)})
        fmt = kpi_view.write_report(report, out)
        summary: dict[str, Any] = {
            "out": str(out), "format": fmt, "from": str(start), "to": str(end),
            "closed_cases": report.closed_cases, "positive_share": report.positive_share,
            "accompanied_families": report.accompanied_families,
        }
        emit(summary, as_json, _kpi_text)


def _kpi_text(s: dict[str, Any]) -> str:
    share = "n/a" if s["positive_share"] is None else f"{s['positive_share']:.1%}"
    return (f"wrote {s['out']}: {s['from']}..{s['to']}, {s['closed_cases']} cases closed, "
            f"{share} for positive dynamics (target 30%)")

"""``hub``: the command line of the interagency family data hub.

Every subcommand that reports something takes ``--json``; a failure exits non-zero with a one-line
``error: …`` on stderr (never a personal value, a traceback or a Python repr): ``run`` is the entry point
that makes it so. A ``HubError`` is printed as it is (its messages are written for operators); a usage
mistake as click words it (exit 2); anything else as its class and place in the hub's code only — its text
may quote data. ``HUB_DEBUG=1`` re-raises, for developers.
"""

from __future__ import annotations

import os
import sys

import click
import psycopg2.errors

from hub.commands import (
    bench_cmd,
    db,
    demo,
    lineage_cmd,
    mapping_cmd,
    pull_cmd,
    push_cmd,
    registry_cmd,
    runs_cmd,
    sandbox_cmd,
    schemas_cmd,
    source_cmd,
    validate,
    web_cmd,
)
from hub.output import fail
from schemas.errors import HubError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="family-hub")
def main() -> None:
    """Interagency data-exchange hub for the social accompaniment of families with children.

    Pulls family, person and service records from agency systems, maps them into one canonical model,
    reconciles them into a shared PostgreSQL registry and keeps lineage for auditors.
    """


main.add_command(db.db)
main.add_command(schemas_cmd.schemas)
main.add_command(validate.validate)
main.add_command(mapping_cmd.mapping)
main.add_command(source_cmd.source)
main.add_command(pull_cmd.pull)
main.add_command(pull_cmd.quarantine)
main.add_command(push_cmd.push_cmd)
main.add_command(push_cmd.disclosures)
main.add_command(registry_cmd.reconcile)
main.add_command(registry_cmd.waiting)
main.add_command(registry_cmd.matching)
main.add_command(registry_cmd.review)
main.add_command(registry_cmd.registry)
main.add_command(runs_cmd.runs)
main.add_command(sandbox_cmd.sandbox)
main.add_command(bench_cmd.bench)
main.add_command(demo.demo)
main.add_command(demo.airflow)
main.add_command(lineage_cmd.lineage)
main.add_command(lineage_cmd.report)
main.add_command(lineage_cmd.audit)
main.add_command(web_cmd.web)
web_cmd.kpi_command(lineage_cmd.report)


def run(argv: list[str] | None = None) -> None:
    """The ``hub`` command: ``main`` with every failure turned into one ``error:`` line and an exit code."""
    debug = os.environ.get("HUB_DEBUG") == "1"  # read raw: a malformed setting must still be reported
    try:
        main.main(args=argv, prog_name="hub", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        fail(exc.format_message() + hint, exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except HubError as exc:
        if debug:
            raise
        fail(str(exc), 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except psycopg2.errors.UndefinedTable:
        if debug:
            raise
        fail("the registry database has no schema yet: run `hub db upgrade`", 1)
    except OSError as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        fail(f"{type(exc).__name__}: {exc.strerror or 'failed'}{where}", 1)
    except Exception as exc:
        if debug:
            raise
        from registry.errors import safe_error

        fail(f"unexpected {safe_error(exc)} (HUB_DEBUG=1 shows the traceback)", 1)

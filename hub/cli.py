"""``hub``: the command line of the interagency family data hub.

Every subcommand that reports something takes ``--json``; a failure exits non-zero with a one-line
``error: …`` on stderr (never a personal value).
"""

from __future__ import annotations

from typing import Any

import click

from hub.commands import (
    bench_cmd,
    db,
    demo,
    lineage_cmd,
    mapping_cmd,
    pull_cmd,
    registry_cmd,
    runs_cmd,
    sandbox_cmd,
    schemas_cmd,
    validate,
)
from registry.errors import RegistryError


class HubGroup(click.Group):
    """A click group that turns the hub's own errors into ``error: …`` and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=HubGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
main.add_command(pull_cmd.pull)
main.add_command(pull_cmd.quarantine)
main.add_command(pull_cmd.push_cmd)
main.add_command(registry_cmd.reconcile)
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

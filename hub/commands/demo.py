"""``hub demo`` (the main job behind ``make demo``) and ``hub airflow`` (Airflow with the hub's settings)."""

from __future__ import annotations

import os

import click

from hub.output import emit, json_option


@click.command()
@json_option
def demo(as_json: bool) -> None:
    """Bring up the registry and run the hub's DAGs through Airflow, printing what they did."""
    from hub.demo import run_demo

    summary = run_demo(say=(lambda _s: None) if as_json else click.echo)
    if as_json:
        emit(summary, True)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def airflow(args: tuple[str, ...]) -> None:
    """Run the airflow CLI with the hub's AIRFLOW_HOME, dags/ and registry (e.g. `hub airflow standalone`)."""
    from hub.airflow_env import airflow_bin, airflow_env
    from registry.db import database_url

    env = airflow_env(database_url())
    if args[:1] == ("standalone",):
        port = env.get("AIRFLOW__API__PORT", "8080")
        passwords = f"{env['AIRFLOW_HOME']}/simple_auth_manager_passwords.json.generated"
        click.echo(f"Airflow UI: http://{env['AIRFLOW__API__HOST']}:{port} (the DAG runs of `make demo`)\n"
                   f"sign in as admin; the password is in {passwords} (written on the first start). "
                   "Ctrl-C stops it.", err=True)
    os.execve(airflow_bin(), [airflow_bin(), *args], env)

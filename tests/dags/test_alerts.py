"""A failing task of a hub DAG sends one alert, through Airflow's SMTP notifier, to a real SMTP server.

The DAG is a real ``dag.test()`` run (``hub.airflow_runner``) with the hub's own failure callback
(``hub.dag_support.failure_recorder``); the mail server is a loopback SMTP sink. The task fails with a
message holding a (fake) personal value: the alert must not carry it.
"""

from __future__ import annotations

import email
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dags.smtp_sink import Sink, start

pytestmark = pytest.mark.airflow
SECRET = "Смирнова-12.03.1988"
DAG = f'''
import pendulum
from airflow.sdk import dag, task
from hub.dag_support import failure_recorder


@dag(dag_id="alert_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
     default_args={{"retries": 0, "on_failure_callback": failure_recorder("pull", "alert_probe")}},
     tags=["family-hub"])
def alert_probe():
    @task
    def fails():
        raise RuntimeError("record of {SECRET} could not be mapped")

    fails()


dag = alert_probe()
'''


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = start()
    yield server
    server.stop()


def test_a_failed_task_sends_one_alert_without_personal_values(sink: Sink, tmp_path: Path,
                                                               database_url: str) -> None:
    from hub.airflow_env import airflow_env

    (tmp_path / "dags").mkdir()
    dag_file = tmp_path / "dags" / "alert_probe.py"
    dag_file.write_text(DAG, "utf-8")
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1}}
    env = airflow_env(database_url, home=tmp_path / "airflow", extra={
        "HUB_HOME": str(tmp_path / "hub"), "HUB_ALERT_TO": "duty@region.example",
        "HUB_ALERT_FROM": "hub@region.example", "AIRFLOW_CONN_HUB_SMTP": json.dumps(smtp),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags")})
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                   timeout=300, check=True)
    run = subprocess.run([sys.executable, "-m", "hub.airflow_runner", str(dag_file)], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert "HUB_DAG_RUN dag_id=alert_probe state=failed" in run.stdout, run.stderr[-3000:]
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert message.recipients == ["duty@region.example"]
    parsed = email.message_from_bytes(message.data)
    body = "".join(part.get_payload(decode=True).decode("utf-8", "replace")
                   for part in parsed.walk() if part.get_content_maintype() == "text")
    assert "alert_probe" in str(parsed["Subject"])
    assert "fails" in str(parsed["Subject"])
    assert "alert_probe" in body
    assert SECRET not in body
    assert SECRET not in message.data.decode("utf-8", "replace")

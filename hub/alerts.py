"""Failure and deadline alerts through Airflow's notifier interface (``SmtpNotifier`` of the SMTP provider).

Failures: each hub DAG's failure callback (``notify_failure``). Deadlines: each DAG of the night carries a
``DeadlineAlert`` (``night_deadline``): a run not finished ``nightly.run_deadline_minutes`` after it was
queued sends one message from Airflow's triggerer — the night is late while there is still time to act.

On when ``HUB_ALERT_TO`` names recipients (comma-separated); the mail server is the Airflow Connection
``hub_smtp`` (``AIRFLOW_CONN_HUB_SMTP``: host, port, login, password, ``extra`` for TLS), the sender
``HUB_ALERT_FROM``. A message says which DAG, task, try and run failed and where to look — never the
exception text or any record value (an agency's data can reach an exception; an e-mail leaves the hub).
"""

from __future__ import annotations

import logging
from typing import Any

from schemas.settings import settings

SMTP_CONN_ID = "hub_smtp"
SUBJECT = "[family-hub] {{ ti.dag_id }}.{{ ti.task_id }} failed (try {{ ti.try_number }})"
BODY = (
    "<p>Task <b>{{ ti.task_id }}</b> of DAG <b>{{ ti.dag_id }}</b> failed on try {{ ti.try_number }}"
    " (run {{ run_id }}, logical date {{ ts }}).</p>"
    "<p>Its hub run and error class: <code>hub runs list --failed</code>; its log: the Airflow UI.</p>"
    "<p>This message holds no personal data by design.</p>"
)


def recipients() -> list[str]:
    return settings().alert_to


def notify_failure(context: Any) -> None:
    """Send the failure alert for ``context`` if alerts are configured; never raises."""
    to = recipients()
    if not to:
        return
    try:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifier = SmtpNotifier(to=to, from_email=settings().alert_from,
                                smtp_conn_id=SMTP_CONN_ID, subject=SUBJECT, html_content=BODY)
        notifier(context)
    except Exception:  # an alert that cannot go out must not hide the failure it reports
        logging.getLogger("hub.alerts").exception("could not send the failure alert")


DEADLINE_BODY = (
    "<p>A run of DAG <b>{dag_id}</b> was queued {minutes:g} minutes ago and has not finished: the night is "
    "late (nightly.run_deadline_minutes in config/sources.yaml).</p>"
    "<p>Its state and log: the Airflow UI; the hub's runs: <code>hub runs list</code>.</p>"
    "<p>This message holds no personal data by design.</p>"
)


def night_deadline(dag_id: str) -> Any:
    """The ``DeadlineAlert`` of a night DAG when alerts are on (``HUB_ALERT_TO``), else None.

    Read when the DAG file is parsed (configuration only). The message is fixed text naming the DAG: the
    triggerer sends it without a task context, so nothing of a run's data can reach it.
    """
    to = recipients()
    if not to:
        return None
    from datetime import timedelta

    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    from connectors.config import load_nightly

    minutes = load_nightly().run_deadline_minutes
    kwargs = {"to": to, "from_email": settings().alert_from, "smtp_conn_id": SMTP_CONN_ID,
              "subject": f"[family-hub] {dag_id}: a night run missed its deadline ({minutes:g} min)",
              "html_content": DEADLINE_BODY.format(dag_id=dag_id, minutes=minutes)}
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=minutes),
                         callback=AsyncCallback("airflow.providers.smtp.notifications.smtp.SmtpNotifier",
                                                kwargs=kwargs))

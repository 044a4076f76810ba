"""Failure alerts through Airflow's notifier interface (``SmtpNotifier`` of the SMTP provider).

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

"""
### Pull `{source}` — {name}

Pulls the agency's new payloads into staging: raw bytes kept (sha256, compressed), records mapped by
`{mapping}` into the canonical model, bad records quarantined with their reason, the watermark committed
with the rows it covers. Ends by updating the asset `{asset}` that the reconcile DAG waits for.

A quarantine rate above {threshold:.0%} fails the run loudly (data-quality gate); what arrived stays staged.
Credentials come from the Airflow Connection `{connection_id}`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow import sdk
from airflow.sdk import Asset, get_current_context

from connectors.config import SourceConfig, load_nightly, load_sources
from hub.alerts import night_deadline
from hub.dag_support import DEFAULT_ARGS, airflow_ids, failure_recorder, staging_asset_uri
from hub.openlineage_support import hub_task, pull_lineage


def build(source: SourceConfig, timezone: str) -> Any:
    """The pull DAG of one source (parsed from config only: no database or network at parse time)."""
    asset = Asset(name=f"staging_{source.code}", uri=staging_asset_uri(source.code))

    @sdk.dag(
        dag_id=f"pull_{source.code}",
        schedule=source.schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz=timezone),
        catchup=False,
        max_active_runs=1,
        deadline=night_deadline(f"pull_{source.code}"),
        default_args={**DEFAULT_ARGS, "on_failure_callback": failure_recorder("pull", source.code)},
        tags=["family-hub", "pull", source.agency, source.connector],
        doc_md=(__doc__ or "").format(source=source.code, name=source.name, mapping=source.mapping,
                                      asset=asset.uri, threshold=source.quarantine_threshold,
                                      connection_id=source.connection_id),
    )
    def pull_dag() -> None:
        @hub_task(pull_lineage(source.code), outlets=[asset])
        def pull() -> dict[str, Any]:
            """Pull into staging; counts only in the return value (no personal data in XCom or logs)."""
            from connectors.pipeline import pull as run_pull

            return run_pull(source.code, airflow=airflow_ids(get_current_context())).as_dict()

        pull()

    return pull_dag()


_nightly = load_nightly()
for _code, _source in sorted(load_sources().items()):
    globals()[f"pull_{_code}"] = build(_source, _nightly.timezone)

dag = globals()[f"pull_{sorted(load_sources())[0]}"]  # `python dags/hub_pull.py` runs the first source

if __name__ == "__main__":
    dag.test()

"""OpenLineage for the hub's tasks: named datasets and a run facet of counts — never personal data.

The hub's assets use the ``x-family-hub://`` scheme, which the OpenLineage provider cannot translate, and a
plain ``@task`` reports no datasets at all. ``hub_task(spec)`` is ``@task`` on an operator that implements
the provider's ``get_openlineage_facets_on_start/complete/failure``: the provider's ``DefaultExtractor``
calls them, so every START/COMPLETE/FAIL event names the task's inputs and outputs with stable namespaces,
and COMPLETE carries the ``familyHub`` run facet with the counts the task returned (pulled, quarantined,
linked, pushed …) and the registry run id (``hub lineage run ID`` shows what that run changed).

Datasets (namespace / name):

* pull:      ``x-family-hub://agency`` / ``<source>``  →  ``x-family-hub://staging`` / ``<source>``
* reconcile: ``x-family-hub://staging`` / every source  →  ``x-family-hub://registry`` / ``reconciled``
* push:      ``x-family-hub://registry`` / ``reconciled``  →  ``x-family-hub://agency`` / ``<target>``

Only DAG files import this module (it imports Airflow); the ``hub`` CLI never does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import attr
from airflow.providers.common.compat.sdk import task_decorator_factory
from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from openlineage.client.facet_v2 import RunFacet

from hub.dag_support import ASSET_SCHEME
from schemas.errors import HubError

AGENCY_NAMESPACE = f"{ASSET_SCHEME}://agency"
STAGING_NAMESPACE = f"{ASSET_SCHEME}://staging"
REGISTRY_NAMESPACE = f"{ASSET_SCHEME}://registry"
REGISTRY_NAME = "reconciled"
FACET_NAME = "familyHub"
Counts = Callable[[dict[str, Any]], dict[str, int]]


@attr.define
class FamilyHubRunFacet(RunFacet):
    """What a hub task did, in counts (the task's own return value, which never holds personal data)."""

    kind: str
    hubRunId: int | None = attr.field(default=None)  # noqa: N815 (OpenLineage facets use camelCase)
    counts: dict[str, int] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return "https://family-hub.local/spec/facets/1-0-0/FamilyHubRunFacet.json#/$defs/FamilyHubRunFacet"


@dataclass(frozen=True)
class TaskLineage:
    """A task's datasets as (namespace, name) pairs and how to read its counts from its return value."""

    kind: str
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...]
    counts: Counts = field(compare=False)
    written: str | None = None
    """The count that is the output's row count (OpenLineage ``outputStatistics``)."""


def pull_lineage(source: str) -> TaskLineage:
    """A pull reads the agency's system and writes its staging."""
    return TaskLineage(
        "pull", ((AGENCY_NAMESPACE, source),), ((STAGING_NAMESPACE, source),), _pull_counts, "staged"
    )


def reconcile_lineage(sources: list[str]) -> TaskLineage:
    """Reconcile reads every source's staging and writes the registry."""
    inputs = tuple((STAGING_NAMESPACE, s) for s in sorted(sources))
    return TaskLineage(
        "reconcile", inputs, ((REGISTRY_NAMESPACE, REGISTRY_NAME),), _reconcile_counts, "linked"
    )


def push_lineage(target: str) -> TaskLineage:
    """A push reads the registry and writes to the agency's system."""
    return TaskLineage(
        "push", ((REGISTRY_NAMESPACE, REGISTRY_NAME),), ((AGENCY_NAMESPACE, target),), _push_counts, "pushed"
    )


def _ints(stats: dict[str, Any], names: dict[str, str]) -> dict[str, int]:
    return {out: int(stats[key]) for out, key in names.items() if isinstance(stats.get(key), int | float)}


def _pull_counts(stats: dict[str, Any]) -> dict[str, int]:
    counts = _ints(
        stats,
        {
            "pulled": "records",
            "quarantined": "quarantined",
            "new": "new",
            "updated": "updated",
            "unchanged": "unchanged",
            "deleted": "deleted",
            "payloads": "payloads",
            "retries": "retries",
        },
    )
    counts["staged"] = counts.get("new", 0) + counts.get("updated", 0)
    return counts


def _reconcile_counts(stats: dict[str, Any]) -> dict[str, int]:
    persons, families, care = (stats.get(k) or {} for k in ("persons", "families", "care"))
    counts = _ints(
        persons,
        {
            "person_records": "records",
            "new_persons": "new_persons",
            "merges": "merges",
            "review_items": "review_items",
            "golden_updated": "golden_updated",
            "conflicts": "conflicts",
        },
    )
    counts["linked"] = counts.get("person_records", 0) - int(persons.get("deleted") or 0)
    counts |= _ints(families, {"families": "families", "new_families": "new_families"})
    counts |= _ints(care, {"cases": "cases", "services": "services", "waiting_care": "waiting"})
    return counts


def _push_counts(stats: dict[str, Any]) -> dict[str, int]:
    return _ints(
        stats,
        {
            "pushed": "delivered",
            "queued": "queued",
            "entries_changed": "entries_changed",
            "failed": "failed",
            "dead": "dead",
        },
    )


def lineage_of(spec: TaskLineage, result: Any) -> Any:
    """The provider's ``OperatorLineage`` for ``spec``, with counts when the task's ``result`` is known."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats_facet

    counts = spec.counts(result) if isinstance(result, dict) else None
    output_facets: dict[str, Any] = {}
    if counts is not None and spec.written in counts:
        output_facets["outputStatistics"] = stats_facet.OutputStatisticsOutputDatasetFacet(
            rowCount=counts[spec.written]
        )
    run_facets: dict[str, Any] = {}
    if counts is not None:
        run_id = result.get("run_id")
        run_facets[FACET_NAME] = FamilyHubRunFacet(
            kind=spec.kind, hubRunId=run_id if isinstance(run_id, int) else None, counts=counts
        )
    return OperatorLineage(
        inputs=[InputDataset(namespace=ns, name=name) for ns, name in spec.inputs],
        outputs=[
            OutputDataset(namespace=ns, name=name, outputFacets=output_facets) for ns, name in spec.outputs
        ],
        run_facets=run_facets,
    )


class HubTaskError(HubError):
    """A hub task failed unexpectedly; the message names the class, the place and SQLSTATE — never data."""


def pii_free(exc: Exception) -> Exception:
    """``exc`` itself when its message is ours or Airflow's, else a ``HubTaskError`` that quotes nothing.

    The provider puts a failed task's exception message and stack trace into the FAIL event
    (``errorMessage``) and Airflow logs them; PostgreSQL's DETAIL ("Failing row contains …") and many
    library messages quote the data. Raised ``from None`` so the original is neither logged nor sent.
    """
    from connectors.errors import ConnectorError

    if isinstance(exc, ConnectorError) or type(exc).__module__.split(".")[0] == "airflow":
        return exc  # our connectors' messages are written PII-free; Airflow's steer retries and skips
    from registry.errors import safe_error

    return HubTaskError(safe_error(exc))


class HubTaskOperator(_PythonDecoratedOperator):
    """``@task`` that tells OpenLineage its datasets and counts (read by the provider's DefaultExtractor)."""

    custom_operator_name = "@hub_task"

    def __init__(self, *, hub_lineage: TaskLineage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hub_lineage = hub_lineage
        self._hub_result: Any = None

    def execute(self, context: Any) -> Any:
        try:
            # Kept on the operator: the listener that asks for the facets runs in this process, after execute.
            self._hub_result = super().execute(context)
        except Exception as exc:
            raise pii_free(exc) from None
        return self._hub_result

    def get_openlineage_facets_on_start(self) -> Any:
        return lineage_of(self.hub_lineage, None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return lineage_of(self.hub_lineage, self._hub_result)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return lineage_of(self.hub_lineage, None)


def hub_task(spec: TaskLineage, **kwargs: Any) -> Any:
    """``@task(**kwargs)`` whose OpenLineage events carry ``spec``'s datasets and the returned counts."""
    return task_decorator_factory(decorated_operator_class=HubTaskOperator, hub_lineage=spec, **kwargs)

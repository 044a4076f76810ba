"""DAG integrity: every DAG file imports, has tags, docs and retries, and parses without I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dag_bag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dag_bag) -> None:  # type: ignore[no-untyped-def]
    assert dag_bag.import_errors == {}


def test_expected_dags_are_present(dag_bag) -> None:  # type: ignore[no-untyped-def]
    from connectors.config import load_sources

    pulls = {f"pull_{code}" for code in load_sources()}
    assert {"registry_maintenance", "reconcile", "push", *pulls} == set(dag_bag.dag_ids)


def test_pull_dags_update_their_staging_asset(dag_bag) -> None:  # type: ignore[no-untyped-def]
    from connectors.config import load_sources

    for code in load_sources():
        task = dag_bag.dags[f"pull_{code}"].get_task("pull")
        assert [o.uri for o in task.outlets] == [f"x-family-hub://staging/{code}"]


def test_reconcile_waits_for_every_source_or_the_deadline(dag_bag) -> None:  # type: ignore[no-untyped-def]
    timetable = dag_bag.dags["reconcile"].timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert "x-family-hub://staging/ngo" in str(timetable.asset_condition)


def test_every_dag_has_tags_docs_and_retries(dag_bag) -> None:  # type: ignore[no-untyped-def]
    assert dag_bag.dags
    for dag_id, dag in dag_bag.dags.items():
        assert "family-hub" in dag.tags, dag_id
        assert (dag.doc_md or "").strip(), dag_id
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id}"
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}"


def test_every_dag_file_can_run_itself() -> None:
    for path in DAGS.glob("*.py"):
        text = path.read_text("utf-8")
        assert 'if __name__ == "__main__":\n    dag.test()' in text, path.name

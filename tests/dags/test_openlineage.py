"""OpenLineage from a real DAG run: the hub's datasets and counts — and no personal data in events or logs.

``pull_ngo`` runs through ``dag.test()`` (a subprocess with ``hub.airflow_env``, which turns on the file
transport) against sandbox agencies on 127.0.0.1; the events file and every log line are then searched for
the sandbox's names and identifiers (from its truth world).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import migrate, staging
from registry.db import connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    from sandbox.connections import hub_connections
    from sandbox.generate import generate
    from sandbox.server.app import serve

    out = tmp_path_factory.mktemp("ol") / "sbx"
    generate(out, 30, seed=23, workers=1)
    handle = serve(out, faults=0.0, rate_limit=10_000.0)
    yield out, hub_connections(out, handle.ports)
    handle.stop()


def personal_values(sandbox_dir: Path) -> tuple[set[str], set[str]]:
    """(names, identifiers) of every person in the sandbox's truth world."""
    names, idents = set(), set()
    for chunk in sorted((sandbox_dir / "truth" / "world").glob("chunk-*.jsonl")):
        for line in chunk.read_text("utf-8").splitlines():
            for person in json.loads(line)["persons"]:
                names |= {
                    person.get(k) for k in ("family_name", "given_name", "patronymic", "birth_family_name")
                }
                snils = person.get("snils")
                if snils:
                    idents |= {snils, f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}"}
                idents |= {person.get(k) for k in ("passport", "oms", "phone", "birth_certificate")}
    return {n for n in names if n and len(n) >= 3}, {i for i in idents if i}


def leaks(text: str, names: set[str], idents: set[str]) -> list[str]:
    """The personal values found in ``text`` (names as whole words, in any case)."""
    lowered = text.lower()
    found = [i for i in idents if i in text]
    words = set(re.findall(r"\w+", lowered))
    return found + [n for n in names if n.lower() in words]


@pytest.mark.airflow
def test_pull_dag_reports_datasets_and_counts_without_personal_data(
    sandbox: tuple[Path, dict[str, str]], empty_database_url: str, tmp_path: Path
) -> None:
    from hub.airflow_env import airflow_env

    sandbox_dir, connections = sandbox
    with connect(empty_database_url) as conn:
        migrate.upgrade(conn)
    home = tmp_path / "af"
    env = airflow_env(empty_database_url, home=home, extra={"HUB_HOME": str(tmp_path), **connections})
    airflow = str(Path(sys.executable).parent / "airflow")
    db = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, check=False)
    assert db.returncode == 0, db.stdout[-2000:]
    run = subprocess.run(
        [sys.executable, "-m", "hub.airflow_runner", f"{ROOT / 'dags' / 'hub_pull.py'}:pull_ngo"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    events = [json.loads(line) for line in (home / "openlineage.jsonl").read_text("utf-8").splitlines()]
    task = [e for e in events if e["job"]["name"] == "pull_ngo.pull"]
    assert {e["eventType"] for e in task} == {"START", "COMPLETE"}
    for event in task:
        assert event["job"]["namespace"] == "family-hub"
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("x-family-hub://agency", "ngo")]
        assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [("x-family-hub://staging", "ngo")]
    complete = next(e for e in task if e["eventType"] == "COMPLETE")
    facet = complete["run"]["facets"]["familyHub"]
    with connect(empty_database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT run_id, stats, dag_id, task_id FROM run WHERE kind = 'pull' AND source_code = 'ngo'"
        )
        run_id, stats, dag_id, task_id = cur.fetchone()
    assert (dag_id, task_id) == ("pull_ngo", "pull")
    assert facet["kind"] == "pull"
    assert facet["hubRunId"] == run_id
    assert facet["counts"]["pulled"] == stats["records"] > 0
    assert facet["counts"]["quarantined"] == stats["quarantined"]
    assert (
        complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"]
        == stats["new"] + stats["updated"]
    )
    assert "sourceCode" not in complete["job"]["facets"]

    names, idents = personal_values(sandbox_dir)
    with connect(empty_database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(payload_id) FROM raw_payload WHERE source_code = 'ngo'")
        pulled = b"".join(staging.payload_bytes(conn, cur.fetchone()[0])).decode()
    assert len(leaks(pulled, names, idents)) > 20  # the search finds what the agency sent, so it works
    texts = {
        "events": "\n".join(json.dumps(e, ensure_ascii=False) for e in events),
        "stdout": run.stdout,
        "stderr": run.stderr,
    }
    texts |= {
        str(p): p.read_text("utf-8", errors="replace") for p in (home / "logs").rglob("*") if p.is_file()
    }
    for where, text in texts.items():
        assert leaks(text, names, idents) == [], where


def test_reconcile_and_push_lineage_name_their_datasets_and_counts() -> None:
    from hub.openlineage_support import lineage_of, push_lineage, reconcile_lineage

    stats: dict[str, Any] = {
        "run_id": 7,
        "persons": {"records": 120, "deleted": 2, "new_persons": 30, "merges": 1},
        "families": {"families": 40},
        "care": {"cases": 3, "services": 9},
    }
    ol = lineage_of(reconcile_lineage(["ngo", "health"]), stats)
    assert [(d.namespace, d.name) for d in ol.inputs] == [
        ("x-family-hub://staging", "health"),
        ("x-family-hub://staging", "ngo"),
    ]
    assert [(d.namespace, d.name) for d in ol.outputs] == [("x-family-hub://registry", "reconciled")]
    facet = ol.run_facets["familyHub"]
    assert facet.hubRunId == 7
    assert facet.counts["linked"] == 118
    assert facet.counts["new_persons"] == 30

    ol = lineage_of(push_lineage("education"), {"run_id": 9, "delivered": 2, "queued": 2, "failed": 0})
    assert [(d.namespace, d.name) for d in ol.inputs] == [("x-family-hub://registry", "reconciled")]
    assert [(d.namespace, d.name) for d in ol.outputs] == [("x-family-hub://agency", "education")]
    assert ol.run_facets["familyHub"].counts == {"pushed": 2, "queued": 2, "failed": 0}
    assert lineage_of(push_lineage("ngo"), None).run_facets == {}  # START and FAIL: datasets, no counts


def test_a_failing_task_reports_no_data_from_its_exception() -> None:
    import psycopg2

    from connectors.errors import QualityGateError
    from hub.openlineage_support import HubTaskError, pii_free

    try:
        raise ValueError("Failing row contains (Иванова, 123-456-789 64)")
    except ValueError as exc:
        clean = pii_free(exc)
    assert isinstance(clean, HubTaskError)
    assert "Иванова" not in str(clean)
    assert "123-456" not in str(clean)
    assert str(clean).startswith("ValueError at tests/dags/test_openlineage.py")
    gate = QualityGateError("ngo: 9 of 10 records quarantined")
    assert pii_free(gate) is gate
    assert isinstance(pii_free(psycopg2.OperationalError("x")), HubTaskError)

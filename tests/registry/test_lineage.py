"""Record-level lineage end to end: a sandbox registry built through the real pipeline, then traced back.

One registry for the module, built — like production — by a login that is a member of ``hub_app`` (so
pulling, reconciling, pushing and answering lineage questions all work within the role's grants): 80 sandbox
families served on 127.0.0.1, every source pulled, one reconcile, one push. Tests run in file order; the
last ones change the registry on purpose (a steward's unmerge and re-merge) to exercise tombstones, history
and ``--as-of``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner

from connectors.config import load_sources
from connectors.pipeline import Puller
from connectors.push import push
from hub.cli import main
from matching.reconcile import reconcile
from matching.steward import decide_review, unmerge
from registry import audit, migrate, raw_pointer
from registry.db import connect, drop_database, ensure_database, with_database
from registry.lineage import trace_values
from sandbox.connections import hub_connections
from sandbox.generate import generate
from sandbox.server.app import serve

ACTOR = "auditor.ivanova"


def as_user(url: str, user: str) -> str:
    """``url`` logging in as ``user`` (trust authentication on the test servers)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def _now(url: str) -> str:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT now()::text")
        return str(cur.fetchone()[0])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Iterator[dict[str, Any]]:
    sandbox = tmp_path_factory.mktemp("lineage") / "sbx"
    generate(sandbox, 80, seed=11, workers=1)
    name, login = f"hub_lineage_{os.getpid()}", f"hub_lineage_app_{os.getpid()}"
    ensure_database(pg_server_url, name)
    owner_url = with_database(pg_server_url, name)
    with connect(owner_url, owner=True) as conn:
        migrate.upgrade(conn)
    with connect(owner_url, owner=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP ROLE IF EXISTS {login}")
        cur.execute(f"CREATE ROLE {login} LOGIN IN ROLE hub_app")
    url = as_user(owner_url, login)
    handle = serve(sandbox, faults=0.0, rate_limit=10_000.0)
    saved = dict(os.environ)
    os.environ.update({**hub_connections(sandbox, handle.ports), "HUB_DATABASE_URL": url, "HUB_ACTOR": ACTOR})
    try:
        before = _now(url)
        for source in load_sources().values():
            Puller(source, url).run()
        stats = reconcile(url)
        pushed = push(load_sources()["ngo"], url)
        yield {
            "url": url,
            "owner_url": owner_url,
            "sandbox": sandbox,
            "before": before,
            "after": _now(url),
            "reconcile": stats,
            "pushed": pushed,
        }
    finally:
        handle.stop()
        os.environ.clear()
        os.environ.update(saved)
        drop_database(pg_server_url, name)
        with connect(pg_server_url, owner=True) as conn, conn.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {login}")


def _scalar(url: str, sql: str, *args: Any) -> Any:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row[0] if row else None


def hub(*args: str) -> Any:
    """Run ``hub ARGS --json`` in process; return the parsed output."""
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _persons(url: str) -> list[tuple[str, dict[str, Any]]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT registry_id, golden FROM registry_person WHERE status = 'active' ORDER BY 1")
        return [(str(r[0]), r[1]) for r in cur.fetchall()]


def _node_is_record(node: Any, source_record_id: str) -> bool:
    if not isinstance(node, dict):
        return False
    return source_record_id in {str(node.get("id")), f"{node.get('resourceType')}/{node.get('id')}"}


def test_every_golden_value_traces_to_its_raw_bytes(world: dict[str, Any]) -> None:
    persons = _persons(world["url"])
    assert len(persons) > 150
    checked = 0
    with connect(world["url"]) as conn:
        cache = raw_pointer.PayloadCache(conn)
        for pid, golden in persons:
            traces = {t["attribute"]: t for t in trace_values(conn, pid)}
            assert set(traces) == set(golden) - {"sources"}, pid
            for attribute, t in traces.items():
                assert t["value"] == golden[attribute], (pid, attribute)
                assert t["value_matches_sha256"], (pid, attribute)
                raw, rec = t["raw_payload"], t["source_record"]
                assert hashlib.sha256(cache.data(raw["payload_id"])).hexdigest() == raw["sha256"]
                doc = cache.document(raw["payload_id"], raw["content_type"])
                if "json" in raw["content_type"]:
                    node = raw_pointer.resolve_json_pointer(doc, raw["pointer_inside"])
                    assert _node_is_record(node, rec["source_record_id"]), (
                        pid,
                        attribute,
                        raw["pointer_inside"],
                    )
                else:
                    assert raw_pointer.resolve_xpath(doc[0], raw["pointer_inside"]) is not None, raw[
                        "pointer_inside"
                    ]
                assert t["mapping"]["version"]
                assert t["pull_run"]["run_id"]
                assert t["chosen_by_run"]["kind"]
                assert t["match"]["decision"] in (
                    "rule",
                    "auto",
                    "new_entity",
                    "steward_link",
                    "review_accepted",
                )
                checked += 1
    assert checked > 1000


def _busiest_person(url: str) -> str:
    return str(
        _scalar(
            url,
            """SELECT person_id FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL GROUP BY 1
               ORDER BY count(DISTINCT source_code) DESC, count(*) DESC, 1 LIMIT 1""",
        )
    )


def test_person_value_family_source_and_run_commands(world: dict[str, Any]) -> None:
    pid = _busiest_person(world["url"])
    person = hub("lineage", "person", pid, "--verify-raw")
    assert person["registry_id"] == pid
    assert person["golden_matches_registry"]
    assert {t["raw_check"]["sha256_ok"] for t in person["values"]} == {True}
    assert {t["raw_check"]["pointer_resolved"] for t in person["values"]} == {True}
    assert len({link["source"] for link in person["source_records"]}) >= 2
    assert next(h["what"] for h in person["history"]) == "created"
    assert {"link_opened", "attribute_set"} <= {h["what"] for h in person["history"]}

    value = hub("lineage", "value", pid, "family_name")
    assert value["value"] == person["golden"]["family_name"]
    assert sum(c["chosen"] for c in value["candidates"]) == 1
    assert len(value["candidates"]) == len(person["source_records"])
    assert value["recomputed"]["agrees"]

    family = hub("lineage", "family", person["families"][0]["family_id"])
    member = next(m for m in family["members"] if m["person_id"] == pid)
    assert member["said_by"]
    assert all(s["role"] for s in member["said_by"])
    assert family["households"]
    assert all(h["decision"] == "family_inferred" for h in family["households"])

    record = person["values"][0]["source_record"]
    source = hub("lineage", "source", record["source"], record["source_record_id"])
    assert source["registry_entities"] == [{"kind": "person", "registry_id": pid, "status": "active"}]
    assert {a["attribute"] for a in source["supplies_attributes"] if a["entity_id"] == pid} >= {
        t["attribute"] for t in person["values"] if t["source_record"]["staged_id"] == record["staged_id"]
    }

    run = hub("lineage", "run", str(world["reconcile"]["run_id"]))
    assert run["golden"]["entities"] == world["reconcile"]["persons"]["golden_updated"]
    assert sum(run["links"]["opened"].values()) > 0
    assert run["events"]["by_event"]["person/created"] > 0
    pull = hub("lineage", "run", str(person["values"][0]["pull_run"]["run_id"]))
    assert pull["run"]["kind"] == "pull"
    assert sum(pull["staged"]["new"].values()) > 0


def test_the_real_cli_answers_too(world: dict[str, Any]) -> None:
    pid = _busiest_person(world["url"])
    env = {**os.environ, "HUB_DATABASE_URL": world["url"]}
    out = subprocess.run(
        [sys.executable, "-m", "hub", "lineage", "value", pid, "birth_date", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["trace"]["raw_check"]["sha256_ok"] is True
    bad = subprocess.run(
        [sys.executable, "-m", "hub", "lineage", "value", pid, "no_such_field"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "unknown attribute" in bad.stderr


def test_as_of_before_the_first_run_shows_nothing_and_after_shows_the_values(world: dict[str, Any]) -> None:
    pid = _busiest_person(world["url"])
    now = hub("lineage", "person", pid)
    for before in (world["before"], "2001-01-01"):
        then = hub("lineage", "person", pid, "--as-of", before)
        assert then["existed"] is False
        assert then["golden"] == {}
        assert then["source_records"] == []
    after = hub("lineage", "person", pid, "--as-of", world["after"])
    assert after["golden"] == now["golden"]
    assert {x["link_id"] for x in after["source_records"]} == {x["link_id"] for x in now["source_records"]}

    fid = now["families"][0]["family_id"]
    assert hub("lineage", "family", fid, "--as-of", world["before"])["members"] == []
    family_now, family_then = (
        hub("lineage", "family", fid),
        hub("lineage", "family", fid, "--as-of", world["after"]),
    )
    assert {(m["person_id"], m["role"]) for m in family_then["members"]} == {
        (m["person_id"], m["role"]) for m in family_now["members"]
    }
    assert {c["category"] for c in family_then["categories"]} == {
        c["category"] for c in family_now["categories"]
    }


def test_raw_bytes_are_written_and_the_view_is_audited(world: dict[str, Any], tmp_path: Path) -> None:
    pid = _busiest_person(world["url"])
    sha = hub("lineage", "person", pid)["values"][0]["raw_payload"]["sha256"]
    out = tmp_path / "payload.bin"
    result = CliRunner().invoke(main, ["lineage", "raw", sha, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == sha
    to_stdout = CliRunner().invoke(main, ["lineage", "raw", sha], catch_exceptions=False)
    assert hashlib.sha256(to_stdout.stdout_bytes).hexdigest() == sha
    with connect(world["url"]) as conn, conn.cursor() as cur:
        cur.execute("""SELECT actor, object_id, details FROM audit_log WHERE action = 'lineage.raw'
                       ORDER BY audit_id DESC LIMIT 2""")
        rows = cur.fetchall()
        cur.execute("SELECT DISTINCT action FROM audit_log")
        actions = {r[0] for r in cur.fetchall()}
    assert [(r[0], r[1]) for r in rows] == [(ACTOR, sha), (ACTOR, sha)]
    assert {r[2]["to"] for r in rows} == {"stdout", str(out)}
    assert all(r[2]["verified"] for r in rows)
    assert {
        "lineage.person",
        "lineage.value",
        "lineage.family",
        "lineage.source",
        "lineage.run",
        "push.delivered",
    } <= actions
    assert hub("audit", "verify")["ok"] is True


def test_push_deliveries_are_audited_without_personal_data(world: dict[str, Any]) -> None:
    assert world["pushed"].delivered >= 1
    with connect(world["url"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT object_id, details FROM audit_log WHERE action = 'push.delivered'")
        rows = cur.fetchall()
        cur.execute(
            "SELECT message_id, idempotency_key, jsonb_array_length(entries) FROM outbox "
            "WHERE status = 'delivered'"
        )
        delivered = cur.fetchall()
    assert sorted((int(d["message_id"]), d["idempotency_key"], d["entries"]) for _, d in rows) == sorted(
        delivered
    )
    assert all(set(d) == {"target", "message_id", "idempotency_key", "entries", "fields_disclosed"}
               for _, d in rows)


def test_report_is_self_contained_html(world: dict[str, Any], tmp_path: Path) -> None:
    pid = _busiest_person(world["url"])
    out = tmp_path / "family.html"
    summary = hub("report", "lineage", pid, "--out", str(out))
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert summary["members"] >= 2
    assert pid in page
    assert "Timeline" in page
    assert "Values and their lineage" in page
    for forbidden in ("<script", "src=", "href=", "<link", "url(", "@import"):
        assert forbidden not in page


def test_report_escapes_everything() -> None:
    from registry.lineage_report import render

    evil = "<script>alert(1)</script>"
    family = {
        "family_id": "F1",
        "status": "active",
        "created_at": "t",
        "note": evil,
        "members": [
            {
                "person_id": evil,
                "role": "child",
                "period_from": None,
                "period_to": None,
                "chosen_from": {"source": evil, "source_record_id": "1"},
                "said_by": [],
            }
        ],
        "categories": [],
        "cases": [],
        "services": [],
        "history": [],
        "households": [],
    }
    page = render(evil, family, [])
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_tombstones_history_and_as_of_after_a_steward_unmerge_and_remerge(world: dict[str, Any]) -> None:
    url, pid = world["url"], _busiest_person(world["url"])
    record = hub("lineage", "person", pid)["source_records"][-1]
    with connect(url) as conn:
        split = unmerge(conn, pid, record["source"], record["source_record_id"])
    new_id, between = split["new_id"], _now(url)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO review_item (entity_kind, source_code, source_record_id, candidate_id, score)
                       VALUES ('person', %s, %s, %s, 9.0) RETURNING review_id""",
            (record["source"], record["source_record_id"], pid),
        )
        review_id = cur.fetchone()[0]
    with connect(url) as conn:
        decide_review(conn, review_id, True)

    back = hub("lineage", "person", new_id)
    assert back["registry_id"] == pid
    assert back["note"] == f"{new_id} was replaced by {pid}"
    assert back["replaced"] == [{"id": new_id, "replaced_by": pid}]
    events = {(h["entity_id"], h["what"]) for h in back["history"]}
    assert {(pid, "unmerged"), (new_id, "created"), (new_id, "merged_into"), (pid, "linked")} <= events

    then = hub("lineage", "person", new_id, "--as-of", between)
    assert then["registry_id"] == new_id
    assert then["existed"]
    assert not then["replaced"]
    assert [x["source_record_id"] for x in then["source_records"]] == [record["source_record_id"]]
    assert then["golden"]
    assert {t["source_record"]["source"] for t in then["values"]} == {record["source"]}
    with connect(url) as conn:
        assert audit.verify(conn)["ok"]

"""The steward's pages: the queue, a pair with its explanation and family context, decisions as the CLI's."""

from __future__ import annotations

import json
import os
import re
import subprocess

from tests.web_world import Workspace, open_review


def test_the_queue_lists_open_items_strongest_first(workspace: Workspace) -> None:
    page = workspace.session("steward").get(workspace.base + "/steward").text
    shown = [int(n) for n in re.findall(r'/steward/review/(\d+)"', page)]
    expected = [r[0] for r in workspace.sql(
        "SELECT review_id FROM review_item WHERE status = 'open' ORDER BY score DESC, review_id LIMIT 200")]
    assert shown == expected
    assert shown


def test_a_pair_shows_every_comparison_as_a_waterfall_and_is_audited(workspace: Workspace) -> None:
    review = open_review(workspace, status="any")
    explanation = workspace.sql("SELECT explanation FROM review_item WHERE review_id = %s", review)[0][0]
    page = workspace.session("steward").get(f"{workspace.base}/steward/review/{review}").text
    assert '<img class="chart" alt="Из чего сложился вес' in page
    assert "data:image/svg+xml;base64," in page
    table = page[page.index('id="comparisons"'):]
    for name, weight in explanation["comparisons"].items():
        cell = re.escape(f"{weight:+.2f}")
        row = rf'<td data-code="{name}">[^<]+</td><td>[^<]*</td><td class="num">{cell}</td>'
        assert re.search(row, table), name
    audited = workspace.sql("SELECT actor FROM audit_log WHERE action = 'review.show' AND object_id = %s",
                            str(review))
    assert ("web:steward",) in audited


def test_accepting_a_pair_links_it_with_the_stewards_name_and_reason(workspace: Workspace) -> None:
    review = open_review(workspace)
    source, sid, candidate = workspace.sql(
        "SELECT source_code, source_record_id, candidate_id FROM review_item WHERE review_id = %s", review)[0]
    s = workspace.session("steward")
    r = s.post(f"{workspace.base}/steward/review/{review}", data={
        "decision": "accept", "reason": "same SNILS on paper", "csrf": workspace.csrf(s, "/steward")})
    assert r.status_code == 200
    assert "пара принята" in r.text
    assert workspace.sql("SELECT status, decided_by FROM review_item WHERE review_id = %s", review) == [
        ("accepted", "web:steward")]
    assert workspace.sql("SELECT kind, actor, reason FROM steward_decision WHERE review_id = %s", review) == [
        ("link", "web:steward", "same SNILS on paper")]
    linked = workspace.sql("SELECT person_id FROM entity_link WHERE source_code = %s "
                           "AND source_record_id = %s AND record_kind = 'person' AND valid_to IS NULL",
                           source, sid)
    assert linked == [(candidate,)]
    details = workspace.sql("SELECT actor, details FROM audit_log WHERE action = 'review.accept' "
                            "AND object_id = %s", str(review))
    assert details[0][0] == "web:steward"
    assert "SNILS" not in str(details[0][1]), "the steward's words went into the audit log"


def test_rejecting_and_unmerging(workspace: Workspace) -> None:
    review = open_review(workspace)
    s = workspace.session("steward")
    s.post(f"{workspace.base}/steward/review/{review}",
           data={"decision": "reject", "csrf": workspace.csrf(s, "/steward")})
    assert workspace.sql("SELECT status FROM review_item WHERE review_id = %s", review) == [("rejected",)]
    person, source, sid = workspace.sql(
        """SELECT person_id, source_code, source_record_id FROM entity_link WHERE record_kind = 'person'
           AND valid_to IS NULL AND person_id IN (SELECT person_id FROM entity_link WHERE valid_to IS NULL
           AND record_kind = 'person' GROUP BY 1 HAVING count(*) > 1) ORDER BY 1, 2, 3 LIMIT 1""")[0]
    r = s.post(f"{workspace.base}/steward/unmerge", data={
        "registry_id": person, "source": source, "source_record_id": sid, "reason": "twins",
        "csrf": workspace.csrf(s, "/steward")})
    assert r.status_code == 200
    assert "выделена" in r.text
    now = workspace.sql("SELECT person_id FROM entity_link WHERE source_code = %s AND source_record_id = %s "
                        "AND record_kind = 'person' AND valid_to IS NULL", source, sid)[0][0]
    assert now != person
    assert workspace.sql("SELECT actor FROM audit_log WHERE action = 'registry.unmerge' AND object_id = %s",
                         person) == [("web:steward",)]


def test_a_decision_on_a_closed_item_says_why(workspace: Workspace) -> None:
    closed = workspace.sql("SELECT review_id FROM review_item WHERE status <> 'open' LIMIT 1")[0][0]
    s = workspace.session("steward")
    r = s.post(f"{workspace.base}/steward/review/{closed}",
               data={"decision": "accept", "csrf": workspace.csrf(s, "/steward")})
    assert r.status_code == 400
    assert "already" in r.text


def test_the_cli_keeps_a_reason_as_the_page_does(workspace: Workspace, hub_cli: list[str]) -> None:
    review = open_review(workspace)
    env = {**os.environ, "HUB_DATABASE_URL": workspace.database_url, "HUB_ACTOR": "anna"}
    args = ["review", "reject", str(review), "--reason", "different mothers", "--json"]
    done = subprocess.run([*hub_cli, *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] == "rejected"
    assert workspace.sql("SELECT kind, actor, reason FROM steward_decision WHERE review_id = %s", review) == [
        ("never_link", "anna", "different mothers")]

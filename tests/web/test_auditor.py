"""The auditor's pages: a value traced down to the raw bytes, purpose asked and audited, bytes by reason."""

from __future__ import annotations

import hashlib
import re

from tests.web_world import Workspace


def _person(ws: Workspace) -> str:
    return str(ws.sql("""SELECT person_id FROM entity_link WHERE valid_to IS NULL AND record_kind = 'person'
                         GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1""")[0][0])


def test_no_person_is_shown_before_a_purpose_is_given(workspace: Workspace) -> None:
    person = _person(workspace)
    s = workspace.session("auditor")
    r = s.get(f"{workspace.base}/auditor/entity/{person}", allow_redirects=False)
    assert r.status_code == 303
    assert "/auditor?q=" in r.headers["location"]
    family = workspace.sql("SELECT golden->>'family_name' FROM registry_person WHERE registry_id = %s",
                           person)[0][0]
    assert family not in s.get(f"{workspace.base}/auditor/entity/{person}").text


def test_a_value_is_traced_to_its_raw_bytes_run_and_mapping(workspace: Workspace) -> None:
    person = _person(workspace)
    s = workspace.session("auditor")
    r = s.get(f"{workspace.base}/auditor", params={"q": person.lower(), "purpose": "complaint 17/2026"})
    assert r.status_code == 200
    assert f"/auditor/entity/{person}" in r.url
    page = r.text
    traced = workspace.sql(
        """SELECT l.attribute, p.sha256, s.mapping_name, s.mapping_version FROM attribute_lineage l
           JOIN staged_record s ON s.staged_id = l.staged_id JOIN raw_payload p ON p.payload_id = s.payload_id
           WHERE l.entity_kind = 'person' AND l.entity_id = %s AND l.valid_to IS NULL""", person)
    assert traced
    for attribute, sha, mapping, version in traced:
        section = page[page.index(f'data-attribute="{attribute}"'):]
        assert sha in section[:6000], attribute
        assert f"{mapping} {version}" in section[:6000], attribute
    assert "байты проверены, указатель найден" in page
    logged = workspace.sql("SELECT actor, details->>'purpose' FROM audit_log "
                           "WHERE action = 'web.lineage.person' AND object_id = %s", person)
    assert logged[-1] == ("web:auditor", "complaint 17/2026")


def test_raw_bytes_need_a_reason_and_are_the_bytes_sent(workspace: Workspace) -> None:
    sha = workspace.sql("SELECT sha256 FROM raw_payload ORDER BY payload_id LIMIT 1")[0][0]
    s = workspace.session("auditor")
    token = workspace.csrf(s, "/auditor")
    refused = s.post(f"{workspace.base}/auditor/raw", data={"sha256": sha, "reason": "  ", "csrf": token})
    assert refused.status_code == 400
    r = s.post(f"{workspace.base}/auditor/raw",
               data={"sha256": sha, "reason": "court request", "csrf": token})
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    assert hashlib.sha256(r.content).hexdigest() == sha
    logged = workspace.sql("SELECT actor, details FROM audit_log WHERE action = 'lineage.raw' "
                           "AND object_id = %s", sha)
    assert logged[-1][0] == "web:auditor"
    assert logged[-1][1]["purpose"] == "court request"


def test_a_source_record_and_a_family_page(workspace: Workspace) -> None:
    source, sid, family = workspace.sql(
        "SELECT source_code, source_record_id, family_id FROM entity_link WHERE valid_to IS NULL "
        "AND record_kind = 'family' ORDER BY 1, 2 LIMIT 1")[0]
    s = workspace.session("auditor")
    r = s.get(f"{workspace.base}/auditor", params={"q": f"{source}:{sid}", "purpose": "check"})
    assert r.status_code == 200
    assert family in r.text
    page = s.get(f"{workspace.base}/auditor/entity/{family}", params={"purpose": "check"}).text
    members = {m for (m,) in workspace.sql("SELECT person_id FROM membership WHERE family_id = %s", family)}
    assert members
    assert members <= set(re.findall(r"P\d{9}", page))


def test_the_audit_log_status_is_shown(workspace: Workspace) -> None:
    page = workspace.session("auditor").get(f"{workspace.base}/auditor/audit").text
    rows = workspace.sql("SELECT count(*) FROM audit_log")[0][0]
    found = re.search(r"Журнал цел: (\d+) записей", page)
    assert found, re.findall(r"<li>([^<]{0,300})</li>", page)[:3]
    assert rows - 5 <= int(found.group(1)) <= rows

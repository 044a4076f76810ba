"""Attacks on the workspace (``hub web``): stored markup, forged sessions, open redirects, injected ids,
header splitting, path traversal, oversized input — each ends refused or inert, nothing leaks."""

from __future__ import annotations

import json
import re

import requests

from registry import web_users
from registry.db import connect
from tests.web_world import Workspace, open_review
from web.auth import hash_password

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_in_a_registry_value_is_shown_as_text(workspace: Workspace) -> None:
    review = open_review(workspace, status="any")  # showing it decides nothing
    candidate = workspace.sql("SELECT candidate_id FROM review_item WHERE review_id = %s", review)[0][0]
    with connect(workspace.database_url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE registry_person SET golden = jsonb_set(golden, '{family_name}', %s::jsonb) "
                    "WHERE registry_id = %s", (json.dumps(SCRIPT), candidate))
    page = workspace.session("steward").get(f"{workspace.base}/steward/review/{review}").text
    assert "<script>alert" not in page
    assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;" in page


def test_a_tampered_session_cookie_is_a_signed_out_visitor(workspace: Workspace) -> None:
    s = workspace.session("operator")
    cookie = s.cookies.get("hub_session")
    assert cookie
    payload, _, signature = cookie.rpartition(".")
    for forged in (payload + ".AAAA" + signature, "e30=.x.y", cookie[:-2] + "zz"):
        r = requests.get(workspace.base + "/operator", cookies={"hub_session": forged}, allow_redirects=False)
        assert r.status_code == 303, forged
        assert "/login" in r.headers["location"]


def test_a_session_of_one_role_cannot_be_relabelled(workspace: Workspace) -> None:
    """The session holds a name only; the role is read from the database on every request."""
    s = workspace.new_user("turncoat", "manager", "turncoat-password")
    assert s.get(workspace.base + "/manager", allow_redirects=False).status_code == 200
    with connect(workspace.database_url) as conn:
        web_users.save_user(conn, "turncoat", "operator", None, hash_password("another-password"))
    assert s.get(workspace.base + "/manager", allow_redirects=False).status_code == 403


def test_sign_in_keeps_no_state_of_the_anonymous_session(workspace: Workspace) -> None:
    """Session fixation: the token of the page before sign-in is not the token after it."""
    s = requests.Session()
    before = workspace.csrf(s, "/login")
    s.post(workspace.base + "/login", data={"csrf": before, "username": "auditor",
                                            "password": workspace.password("auditor")})
    after = workspace.csrf(s, "/auditor")
    assert before != after


def test_injected_ids_and_purposes_are_inert(workspace: Workspace) -> None:
    s = workspace.session("auditor")
    for q in ("P1' OR '1'='1", "health:x'; DROP TABLE audit_log; --", "../../etc/passwd", "P" + "9" * 5000):
        r = s.get(workspace.base + "/auditor", params={"q": q, "purpose": "probe"})
        assert r.status_code in (200, 400, 404), (q[:40], r.status_code)
        assert "Traceback" not in r.text
    assert workspace.sql("SELECT count(*) FROM audit_log")[0][0] > 0
    person = workspace.sql("SELECT registry_id FROM registry_person WHERE status = 'active' LIMIT 1")[0][0]
    s.get(f"{workspace.base}/auditor/entity/{person}", params={"purpose": "x" * 10_000 + "\n\r<b>"})
    purpose = workspace.sql("SELECT details->>'purpose' FROM audit_log WHERE action = 'web.lineage.person' "
                            "ORDER BY audit_id DESC LIMIT 1")[0][0]
    assert len(purpose) <= 200
    assert "\n" not in purpose


def test_raw_download_refuses_a_malformed_digest(workspace: Workspace) -> None:
    s = workspace.session("auditor")
    token = workspace.csrf(s, "/auditor")
    for sha in ("../../etc/passwd", "a" * 63, "g" * 64, 'a"\r\nSet-Cookie: x=1'):
        r = s.post(workspace.base + "/auditor/raw", data={"sha256": sha, "reason": "probe", "csrf": token})
        assert r.status_code == 400, sha
        assert "x=1" not in r.headers.get("set-cookie", "")


def test_static_files_stay_in_their_folder(workspace: Workspace) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fauth.py", "/static//etc/passwd"):
        r = requests.get(workspace.base + path)
        assert r.status_code == 404, path
        assert "create_app" not in r.text


def test_error_pages_name_no_personal_value(workspace: Workspace) -> None:
    s = workspace.session("steward")
    r = s.get(workspace.base + "/steward/review/999999999")
    assert r.status_code == 400
    assert re.search(r"no review item 999999999", r.text)


def test_a_record_id_with_url_characters_stays_whole(workspace: Workspace) -> None:
    s = workspace.session("auditor")
    for record in ("x?purpose=forged", "a#b", "50%41", "Patient/../../etc"):
        r = s.get(workspace.base + "/auditor", params={"q": f"health:{record}", "purpose": "probe"})
        assert r.status_code == 404, (record, r.status_code, r.url)
        assert f"no staged record health:{record}" in r.text.replace("&#34;", '"'), record

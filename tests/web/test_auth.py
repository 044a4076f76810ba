"""Sign-in, sessions, CSRF and roles of the workspace, over real HTTP on loopback."""

from __future__ import annotations

import requests

from registry import web_users
from registry.db import connect
from tests.web_world import ROLES, Workspace
from web.auth import hash_password

PAGES = {
    "steward": ["/steward", "/steward/model"],
    "auditor": ["/auditor", "/auditor/audit", "/auditor/disclosures"],
    "manager": ["/manager"],
    "operator": ["/operator"],
}


def test_every_page_needs_a_sign_in(workspace: Workspace) -> None:
    for paths in PAGES.values():
        for path in paths:
            r = requests.get(workspace.base + path, allow_redirects=False)
            assert r.status_code == 303, path
            assert r.headers["location"].endswith(f"/login?next={path}"), path


def test_each_role_opens_its_own_pages_and_no_other(workspace: Workspace) -> None:
    for role in ROLES:
        s = workspace.session(role)
        for owner, paths in PAGES.items():
            for path in paths:
                r = s.get(workspace.base + path, allow_redirects=False)
                assert r.status_code == (200 if owner == role else 403), (role, path, r.status_code)


def test_a_manager_cannot_open_a_person_page(workspace: Workspace) -> None:
    person = workspace.sql("SELECT registry_id FROM registry_person WHERE status = 'active' LIMIT 1")[0][0]
    s = workspace.session("manager")
    for path in (f"/auditor/entity/{person}?purpose=curiosity", "/steward/review/1"):
        r = s.get(workspace.base + path, allow_redirects=False)
        assert r.status_code == 403, path
        assert person not in r.text


def test_a_wrong_password_is_refused_and_five_lock_the_name(workspace: Workspace) -> None:
    with connect(workspace.database_url) as conn:
        web_users.save_user(conn, "guessed", "auditor", None, hash_password("right-password-1"))
    s = requests.Session()
    for _ in range(5):
        r = s.post(workspace.base + "/login", data={
            "csrf": workspace.csrf(s, "/login"), "username": "guessed", "password": "wrong-password"})
        assert r.status_code == 401
    r = s.post(workspace.base + "/login", data={"csrf": workspace.csrf(s, "/login"), "username": "guessed",
                                                "password": "right-password-1"})
    assert r.status_code == 401, "a locked name signed in"
    stored = workspace.sql("SELECT password_hash FROM web_user WHERE username = 'guessed'")[0][0]
    assert stored.startswith("$argon2")
    assert "right-password-1" not in stored


def test_a_post_without_the_session_csrf_token_is_refused(workspace: Workspace) -> None:
    s = workspace.session("steward")
    before = workspace.sql("SELECT count(*) FROM steward_decision")[0][0]
    review = workspace.sql("SELECT review_id FROM review_item WHERE status = 'open' LIMIT 1")[0][0]
    for token in (None, "forged-token"):
        data = {"decision": "accept", **({"csrf": token} if token else {})}
        r = s.post(f"{workspace.base}/steward/review/{review}", data=data, allow_redirects=False)
        assert r.status_code == 403
    # a token from another session does not fit this one
    other = workspace.session("steward")
    r = s.post(f"{workspace.base}/steward/review/{review}",
               data={"decision": "accept", "csrf": workspace.csrf(other, "/steward")}, allow_redirects=False)
    assert r.status_code == 403
    assert workspace.sql("SELECT count(*) FROM steward_decision")[0][0] == before


def test_sign_in_never_redirects_to_another_origin(workspace: Workspace) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        s = requests.Session()
        r = s.post(workspace.base + "/login", allow_redirects=False, data={
            "csrf": workspace.csrf(s, "/login"), "username": "auditor",
            "password": workspace.password("auditor"), "next": target})
        assert r.status_code == 303
        assert r.headers["location"] == "/auditor", target


def test_the_session_cookie_and_headers(workspace: Workspace) -> None:
    s = requests.Session()
    r = s.get(workspace.base + "/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "http://" not in r.text.replace(workspace.base, ""), "the page loads something from elsewhere"


def test_a_disabled_user_loses_an_open_session(workspace: Workspace) -> None:
    s = workspace.new_user("leaver", "operator", "leaver-password")
    assert s.get(workspace.base + "/operator", allow_redirects=False).status_code == 200
    with connect(workspace.database_url) as conn:
        web_users.deactivate(conn, "leaver")
    assert s.get(workspace.base + "/operator", allow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(workspace: Workspace) -> None:
    s = workspace.session("operator")
    s.post(workspace.base + "/logout", data={"csrf": workspace.csrf(s, "/operator")})
    assert s.get(workspace.base + "/operator", allow_redirects=False).status_code == 303

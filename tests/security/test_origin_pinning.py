"""Agency credentials stay with their agency: every connector kind against a recorder on a second port.

Each test scripts the agency's server to point the hub elsewhere — a ``next`` link, a redirect, a token
endpoint's redirect, an absolute token URL, an environment proxy — at the *recorder*, a second loopback
server. The recorder must receive no request at all (and so none carrying the credential); the agency's
answer is kept and quarantined with a reason naming both origins, and the pull goes on where the protocol
allows. Same-origin redirects and explicitly allowed origins still work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import OriginViolationError
from connectors.http import BearerAuth, HttpClient
from connectors.smev.helpers import SOAP
from tests.security.servers import Answer, ScriptedServer, Seen
from tests.sources import SECRET, MakeSource, http_connection

GOLDEN = Path(__file__).resolve().parents[1] / "mappings" / "golden"
_NGO = json.loads((GOLDEN / "ngo" / "participants_page.json").read_bytes())
NGO_PAGE = json.dumps({"data": _NGO["data"][:10], "next_cursor": None}).encode()  # ten good participants
NGO_IDS = {str(p["id"]) for p in json.loads(NGO_PAGE)["data"]}
PATIENTS = json.loads((GOLDEN / "health" / "patients_page.json").read_bytes())
EMPTY_BUNDLE = json.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0}).encode()


def _json(body: bytes | dict[str, Any]) -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return Answer(200, data, {"Content-Type": "application/json"})


def _redirect(status: int, location: str) -> Any:
    return lambda _seen: Answer(status, b"", {"Location": location})


def _assert_untouched(recorder: ScriptedServer) -> None:
    assert recorder.seen == [], f"the foreign origin received {len(recorder.seen)} request(s)"
    assert recorder.carrying(SECRET) == []


def _ngo(make_source: MakeSource, agency: ScriptedServer, **extra: Any) -> Any:
    return make_source("rest_cursor", "mappings/ngo.yaml", http_connection(agency, auth="api_key", **extra),
                       options={"endpoints": ["/api/v1/participants", "/api/v1/more"], "page_size": 200})


def test_rest_redirect_to_another_origin_is_refused_and_the_next_endpoint_is_pulled(
    make_source: MakeSource, agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    agency.routes["/api/v1/participants"] = _redirect(302, f"{recorder.url}/steal")
    agency.routes["/api/v1/more"] = lambda _s: _json(NGO_PAGE)
    source = _ngo(make_source, agency)
    stats = source.pull()
    _assert_untouched(recorder)
    [(code, reason)] = source.quarantine()
    assert code == "origin_violation"
    assert recorder.url.replace("http://", "") in reason
    assert f"127.0.0.1:{agency.port}" in reason
    assert source.staged() == NGO_IDS  # the second endpoint went on
    assert stats.quarantined == 1
    assert all(s.headers.get("X-API-Key") == SECRET for s in agency.seen)


def test_rest_same_origin_redirect_is_followed_with_the_credential(
    make_source: MakeSource, agency: ScriptedServer
) -> None:
    agency.routes["/api/v1/participants"] = _redirect(307, "/api/v2/participants")
    agency.routes["/api/v2/participants"] = lambda _s: _json(NGO_PAGE)
    agency.routes["/api/v1/more"] = lambda _s: _json({"data": [], "next_cursor": None})
    source = _ngo(make_source, agency)
    source.pull()
    assert source.staged() == NGO_IDS
    assert [s.path for s in agency.seen][:2] == ["/api/v1/participants", "/api/v2/participants"]
    assert agency.seen[1].headers.get("X-API-Key") == SECRET
    assert source.quarantine() == []


def _patients_with_next(next_url: str) -> bytes:
    return json.dumps({**PATIENTS, "link": [{"relation": "next", "url": next_url}]}).encode()


def _fhir(make_source: MakeSource, agency: ScriptedServer, **extra: Any) -> Any:
    return make_source("fhir", "mappings/health.yaml", http_connection(agency, auth="bearer", **extra),
                       agency="health", options={"resources": ["Patient", "Condition"]})


def test_fhir_next_link_to_another_origin_is_not_followed(
    make_source: MakeSource, agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    agency.routes["/fhir/Patient"] = lambda _s: _json(_patients_with_next(f"{recorder.url}/fhir/Patient?p=2"))
    agency.routes["/fhir/Condition"] = lambda _s: _json(EMPTY_BUNDLE)
    source = _fhir(make_source, agency)
    source.pull()
    _assert_untouched(recorder)
    [(code, reason)] = source.quarantine()
    assert code == "origin_violation"
    assert "next link" in reason
    assert len(source.staged()) == len(PATIENTS["entry"])  # the agency's own page is staged
    assert [s.path for s in agency.seen] == ["/fhir/Patient", "/fhir/Condition"]  # went on


def test_fhir_next_link_to_an_allowed_origin_is_followed(
    make_source: MakeSource, agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    agency.routes["/fhir/Patient"] = lambda _s: _json(_patients_with_next(f"{recorder.url}/fhir/Patient"))
    agency.routes["/fhir/Condition"] = lambda _s: _json(EMPTY_BUNDLE)
    recorder.routes["/fhir/Patient"] = lambda _s: _json(EMPTY_BUNDLE)
    source = _fhir(make_source, agency, allowed_origins=[recorder.url])
    source.pull()
    assert [s.path for s in recorder.seen] == ["/fhir/Patient"]
    assert recorder.seen[0].headers.get("Authorization") == f"Bearer {SECRET}"
    assert source.quarantine() == []


def test_oauth2_token_endpoint_redirect_never_reposts_the_secret(
    make_source: MakeSource, agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    agency.routes["/oauth/token"] = _redirect(307, f"{recorder.url}/oauth/token")
    source = make_source("fhir", "mappings/health.yaml",
                         {**http_connection(agency, auth="oauth2", token_url="/oauth/token"), "login": "hub"},
                         agency="health", options={"resources": ["Patient"]})
    source.pull()
    _assert_untouched(recorder)
    assert [s.path for s in agency.seen] == ["/oauth/token"]
    [(code, reason)] = source.quarantine()
    assert code == "origin_violation"
    assert "/oauth/token" in reason
    assert "pinned to" in reason


def test_oauth2_token_url_on_another_origin_is_refused_before_sending(
    make_source: MakeSource, agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    connection = {**http_connection(agency, auth="oauth2", token_url=f"{recorder.url}/oauth/token"),
                  "login": "hub"}
    source = make_source("fhir", "mappings/health.yaml", connection, agency="health",
                         options={"resources": ["Patient"]})
    source.pull()
    _assert_untouched(recorder)
    assert agency.seen == []
    [(code, _reason)] = source.quarantine()
    assert code == "origin_violation"


def test_smev_get_response_redirect_is_refused(
    make_source: MakeSource, agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    agency.routes["/smev"] = _redirect(308, f"{recorder.url}/smev")
    source = make_source("smev", "mappings/education.yaml", http_connection(agency, auth="bearer"),
                         agency="education", options={"path": "/smev"})
    source.pull()
    _assert_untouched(recorder)
    [(code, _reason)] = source.quarantine()
    assert code == "origin_violation"


def test_environment_proxies_and_netrc_are_ignored(
    agency: ScriptedServer, recorder: ScriptedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HTTP_PROXY", recorder.url)
    monkeypatch.setenv("http_proxy", recorder.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login x password {SECRET}-netrc\n")
    monkeypatch.setenv("NETRC", str(netrc))
    agency.routes["/x"] = lambda _s: Answer(200, b"ok")
    client = HttpClient(agency.url, BearerAuth(SECRET))
    assert client.get("/x").body == b"ok"
    _assert_untouched(recorder)
    assert agency.carrying(f"{SECRET}-netrc") == []


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://127.0.0.1:1/x",
                                    "http://localhost.localdomain/x", "//127.0.0.2/x"])
def test_any_url_off_the_pinned_origin_is_refused_unsent(target: str, agency: ScriptedServer) -> None:
    client = HttpClient(agency.url, BearerAuth(SECRET))
    with pytest.raises(OriginViolationError):
        client.get(target)
    assert agency.seen == []


def test_push_redirect_to_another_origin_is_not_delivered_there(
    agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    agency.routes["/hub/registry-links"] = _redirect(307, f"{recorder.url}/hub/registry-links")
    client = HttpClient(agency.url, BearerAuth(SECRET), max_attempts=1)
    with pytest.raises(OriginViolationError):
        client.post("/hub/registry-links", data=b'{"registry_person_id": "P1"}')
    _assert_untouched(recorder)


def test_a_soap_envelope_redirected_keeps_its_body_home(
    agency: ScriptedServer, recorder: ScriptedServer
) -> None:
    def answer(seen: Seen) -> Answer:
        if seen.method != "POST":
            return Answer(404)
        return Answer(302, b"", {"Location": f"{recorder.url}/smev"})

    agency.routes["/smev"] = answer
    client = HttpClient(agency.url, BearerAuth(SECRET), max_attempts=1)
    with pytest.raises(OriginViolationError):
        client.post("/smev", data=f"<Envelope xmlns='{SOAP}'/>".encode())
    _assert_untouched(recorder)

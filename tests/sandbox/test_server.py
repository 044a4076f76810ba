"""The simulated agency servers over a real small sandbox, on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree  # type: ignore[import-untyped]

from sandbox.emit import stable_uuid
from sandbox.formats import smev
from sandbox.formats.smev import (
    FaultCode,
    Gender,
    MessageKind,
    RegistryCrosswalk,
    RegistryLink,
    School,
    SmevMessage,
    Student,
    StudentsBatch,
)
from sandbox.generate import SandboxConfig, advance, generate
from sandbox.server.app import RunningServers, serve
from schemas.identifiers import normalize_snils

SEED = 20261
FAMILIES = 150
NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
XML = {"Content-Type": "text/xml; charset=utf-8"}
EXTRA_CHUNK = 99999  # tiny batch files written by the tests sort after every generated one


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("server") / "sandbox"
    generate(out, FAMILIES, SEED, workers=1)
    return out


@pytest.fixture(scope="module")
def config(sandbox_dir: Path) -> SandboxConfig:
    return SandboxConfig.load(sandbox_dir)


@pytest.fixture(scope="module")
def servers(sandbox_dir: Path) -> Iterator[RunningServers]:
    running = serve(sandbox_dir, rate_limit=0)  # paging tests must not trip the rate limit
    yield running
    running.stop()


@pytest.fixture
def copy_dir(sandbox_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the sandbox (for tests that ack, push or advance)."""
    return Path(shutil.copytree(sandbox_dir, tmp_path / "sandbox"))


@pytest.fixture
def started() -> Iterator[Callable[..., RunningServers]]:
    """``start(dir, **kwargs)``: servers stopped at the end of the test."""
    running: list[RunningServers] = []

    def start(data_dir: Path, **kwargs: Any) -> RunningServers:
        running.append(serve(data_dir, **kwargs))
        return running[-1]

    yield start
    for handle in running:
        handle.stop()


@pytest.fixture
def edu_dir(copy_dir: Path) -> Path:
    """A sandbox copy whose night 1 has at least three education batch files."""
    folder = copy_dir / "education" / "night-0001"
    folder.mkdir(parents=True, exist_ok=True)
    for batch in range(max(0, 3 - len(list(folder.glob("batch-*.xml"))))):
        student = Student(f"STU-TEST{batch}", "Тестова", "Анна", dt.date(2015, 3, 1), Gender.FEMALE,
                          School("0001", "МБОУ СШ № 1"), "5А", NOW)
        element = smev.render_students_batch(StudentsBatch(NOW, (student,)))
        path = folder / f"batch-{batch:04d}-{EXTRA_CHUNK:05d}.xml"
        path.write_bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))
    return copy_dir


# ------------------------------------------------------------------------------------------------ helpers


def read_latest(root: Path, agency: str, pattern: str, key: Callable[[dict[str, Any]], Any],
                nights: int = 1) -> dict[Any, dict[str, Any]]:
    """The latest version of each record in the files, read the way the server is specified to."""
    latest: dict[Any, dict[str, Any]] = {}
    for night in range(1, nights + 1):
        for path in sorted((root / agency / f"night-{night:04d}").glob(pattern)):
            for line in path.read_text("utf-8").splitlines():
                record = json.loads(line)
                latest[key(record)] = record
    return latest


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def fhir_get(url: str, token: str, **params: Any) -> requests.Response:
    return requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def fhir_walk(base: str, token: str, resource_type: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """All resources of a search, following ``next``; and the ``total`` of the first page."""
    response = fhir_get(f"{base}/fhir/{resource_type}", token, **params)
    bundle = response.json()
    total, resources = bundle["total"], []
    while True:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/fhir+json")
        resources += [entry["resource"] for entry in bundle.get("entry", [])]
        next_url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        if next_url is None:
            return resources, total
        response = fhir_get(next_url, token)
        bundle = response.json()


def ngo_walk(base: str, key: str, collection: str, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = None
    while True:
        page_params = {**params, "cursor": cursor} if cursor else params
        response = requests.get(f"{base}/api/v1/{collection}", params=page_params,
                                headers={"X-API-Key": key}, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return records


def soap(base: str, body: bytes) -> tuple[int, SmevMessage]:
    response = requests.post(f"{base}/smev", data=body, headers=XML, timeout=10)
    assert response.headers["Content-Type"].startswith("text/xml")
    return response.status_code, smev.parse_envelope(response.content)


def get_response(base: str, node: str | None = None) -> SmevMessage:
    status, message = soap(base, smev.get_response_request(NOW, node_id=node))
    assert status == 200
    assert message.kind is MessageKind.GET_RESPONSE_RESPONSE
    return message


def ack(base: str, message_id: str) -> tuple[int, SmevMessage]:
    return soap(base, smev.ack_request(message_id))


def batch_names(root: Path, night: int = 1) -> list[str]:
    """Batch file names in queue order: chunk, then batch number."""
    names = [p.name for p in (root / "education" / f"night-{night:04d}").glob("batch-*.xml")]
    return sorted(names, key=lambda n: (int(n[11:16]), int(n[6:10])))


def message_id(name: str, night: int = 1) -> str:
    return stable_uuid(SEED, "education", "smev-message", f"{night:04d}", name)


def crosswalk_request(msg_id: str) -> bytes:
    links = (RegistryLink("STU-TEST0", "P000000001"),)
    return smev.send_request_request(msg_id, smev.render_registry_crosswalk(RegistryCrosswalk(NOW, links)))


def stats(base: str) -> dict[str, Any]:
    response = requests.get(f"{base}/_sandbox/stats", timeout=10)
    assert response.status_code == 200
    return dict(response.json())


# ------------------------------------------------------------------------------------------------ health


def test_fhir_paging_walks_all_patients(servers: RunningServers, sandbox_dir: Path,
                                        config: SandboxConfig) -> None:
    resources, total = fhir_walk(servers.urls["health"], config.credentials["health_token"], "Patient",
                                 _count=37)
    files = read_latest(sandbox_dir, "health", "resources-*.ndjson", lambda r: (r["resourceType"], r["id"]))
    expected = {rid for rtype, rid in files if rtype == "Patient"}
    ids = [r["id"] for r in resources]
    assert len(ids) == len(set(ids)) == total == len(expected) > 37
    assert set(ids) == expected
    keys = [(instant(r["meta"]["lastUpdated"]), r["id"]) for r in resources]
    assert keys == sorted(keys)


def test_fhir_last_updated_filters(servers: RunningServers, sandbox_dir: Path, config: SandboxConfig) -> None:
    files = read_latest(sandbox_dir, "health", "resources-*.ndjson", lambda r: (r["resourceType"], r["id"]))
    stamps = sorted(r["meta"]["lastUpdated"] for (t, _), r in files.items() if t == "Condition")
    cut = stamps[len(stamps) // 2]
    expected = {i for (t, i), r in files.items()
                if t == "Condition" and instant(r["meta"]["lastUpdated"]) > instant(cut)}
    token = config.credentials["health_token"]
    resources, total = fhir_walk(servers.urls["health"], token, "Condition", _lastUpdated=f"gt{cut}")
    assert {r["id"] for r in resources} == expected
    assert total == len(expected)
    # An unencoded "+" of the offset arrives as a space; the server reads it back.
    raw = requests.get(f"{servers.urls['health']}/fhir/Condition?_lastUpdated=gt{cut}&_count=500",
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert raw.json()["total"] == len(expected)
    bad = fhir_get(f"{servers.urls['health']}/fhir/Condition", token, _lastUpdated="gtyesterday")
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"


def test_fhir_requires_token(servers: RunningServers) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{servers.urls['health']}/fhir/Patient", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["resourceType"] == "OperationOutcome"


# ------------------------------------------------------------------------------------------------ ngo


@pytest.mark.parametrize("collection", ["participants", "participations"])
def test_ngo_cursor_paging_returns_each_id_once(servers: RunningServers, sandbox_dir: Path,
                                                config: SandboxConfig, collection: str) -> None:
    records = ngo_walk(servers.urls["ngo"], config.credentials["ngo_api_key"], collection, limit=29)
    expected = read_latest(sandbox_dir, "ngo", f"{collection}-*.jsonl", lambda r: r["id"])
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == len(expected) > 29
    assert set(ids) == set(expected)
    keys = [(instant(r["updated_at"]), r["id"]) for r in records]
    assert keys == sorted(keys)


def test_ngo_updated_since_filters(servers: RunningServers, sandbox_dir: Path, config: SandboxConfig) -> None:
    files = read_latest(sandbox_dir, "ngo", "participants-*.jsonl", lambda r: r["id"])
    cut = sorted(r["updated_at"] for r in files.values())[len(files) // 3]
    expected = {i for i, r in files.items() if instant(r["updated_at"]) > instant(cut)}
    records = ngo_walk(servers.urls["ngo"], config.credentials["ngo_api_key"], "participants",
                       updated_since=cut, limit=50)
    assert {r["id"] for r in records} == expected
    response = requests.get(f"{servers.urls['ngo']}/api/v1/participants", params={"updated_since": "soon"},
                            headers={"X-API-Key": config.credentials["ngo_api_key"]}, timeout=10)
    assert response.status_code == 400


def test_ngo_requires_key(servers: RunningServers) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = requests.get(f"{servers.urls['ngo']}/api/v1/participants", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_ngo_rate_limit(sandbox_dir: Path, config: SandboxConfig,
                        started: Callable[..., RunningServers]) -> None:
    running = started(sandbox_dir)  # the default limit, 20 requests per second
    url = f"{running.urls['ngo']}/api/v1/participations"
    headers = {"X-API-Key": config.credentials["ngo_api_key"]}
    with requests.Session() as session:
        answers = [session.get(url, params={"limit": 1}, headers=headers, timeout=10) for _ in range(60)]
        limited = [r for r in answers if r.status_code == 429]
        assert limited
        assert all(r.headers["Retry-After"] == "1" for r in limited)
        assert {r.status_code for r in answers} == {200, 429}
        time.sleep(1.05)
        assert session.get(url, headers=headers, timeout=10).status_code == 200
    assert stats(running.urls["ngo"])["rate_limited"] == len(limited)


# ------------------------------------------------------------------------------------------------ education


def test_smev_get_ack_next(edu_dir: Path, config: SandboxConfig,
                           started: Callable[..., RunningServers]) -> None:
    base = started(edu_dir).urls["education"]
    first_name, second_name = batch_names(edu_dir)[:2]
    first = get_response(base, node=config.credentials["education_node"])
    assert first.message_id == message_id(first_name)
    assert first.payload is not None
    assert smev.read_students_batch(first.payload).students
    assert ack(base, first.message_id)[1].kind is MessageKind.ACK_RESPONSE
    second = get_response(base)
    assert second.message_id == message_id(second_name)


def test_smev_unacked_message_is_redelivered(edu_dir: Path, started: Callable[..., RunningServers]) -> None:
    base = started(edu_dir).urls["education"]
    assert get_response(base).message_id == get_response(base).message_id


def test_smev_acks_persist_across_restart(edu_dir: Path, started: Callable[..., RunningServers]) -> None:
    running = started(edu_dir)
    first = get_response(running.urls["education"]).message_id
    assert first is not None
    ack(running.urls["education"], first)
    running.stop()
    base = started(edu_dir).urls["education"]
    assert get_response(base).message_id == message_id(batch_names(edu_dir)[1])
    assert ack(base, first)[1].kind is MessageKind.ACK_RESPONSE  # again: acknowledged already, still fine
    status, fault = ack(base, str(uuid.uuid4()))
    assert status == 500
    assert fault.fault_code == FaultCode.TARGET_MESSAGE_NOT_FOUND
    assert len((edu_dir / "education" / "acks.jsonl").read_text().splitlines()) == 1


def test_smev_empty_queue_and_bad_soap(edu_dir: Path, started: Callable[..., RunningServers]) -> None:
    base = started(edu_dir).urls["education"]
    while (message := get_response(base)).message_id is not None:
        ack(base, message.message_id)
    assert message.payload is None
    status, fault = soap(base, b"<not-soap/>")
    assert status == 500
    assert fault.fault_code == FaultCode.CLIENT
    status, fault = soap(base, smev.get_response_request(NOW, node_id="somebody-else"))
    assert status == 500
    assert fault.fault_code == FaultCode.CLIENT


def test_smev_send_request_duplicate_message_id(edu_dir: Path,
                                                started: Callable[..., RunningServers]) -> None:
    running = started(edu_dir)
    msg_id = str(uuid.uuid4())
    status, answer = soap(running.urls["education"], crosswalk_request(msg_id))
    assert status == 200
    assert answer.kind is MessageKind.SEND_REQUEST_RESPONSE
    assert answer.message_id == msg_id
    status, fault = soap(running.urls["education"], crosswalk_request(msg_id))
    assert status == 500
    assert fault.fault_code == FaultCode.DUPLICATE_MESSAGE_ID
    running.stop()
    status, fault = soap(started(edu_dir).urls["education"], crosswalk_request(msg_id))
    assert status == 500
    assert fault.fault_code == FaultCode.DUPLICATE_MESSAGE_ID
    sent = [json.loads(line) for line in (edu_dir / "pushes" / "education.jsonl").read_text().splitlines()]
    assert [(s["message_id"], s["links"][0]["registry_person_id"]) for s in sent] == [(msg_id, "P000000001")]


# ------------------------------------------------------------------------------------------------ pushes


@pytest.mark.parametrize(("agency", "path", "auth"), [
    ("health", "/hub/registry-links", lambda c: {"Authorization": f"Bearer {c['health_token']}"}),
    ("ngo", "/api/v1/registry-links", lambda c: {"X-API-Key": c["ngo_api_key"]}),
])
def test_pushes_recorded_once_per_idempotency_key(copy_dir: Path, config: SandboxConfig, agency: str,
                                                  path: str, auth: Callable[[dict[str, str]], dict[str, str]],
                                                  started: Callable[..., RunningServers]) -> None:
    url = started(copy_dir).urls[agency] + path
    body = {"links": [{"source_record_id": "x-1", "registry_person_id": "P000000001"}]}
    headers = {**auth(config.credentials), "Idempotency-Key": "key-1"}
    first = requests.post(url, json=body, headers=headers, timeout=10)
    again = requests.post(url, json=body, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = requests.post(url, json=body, headers={**headers, "Idempotency-Key": "key-2"}, timeout=10)
    assert other.status_code == 201
    changed = requests.post(url, json={"links": []}, headers=headers, timeout=10)
    assert changed.status_code == 422
    no_key = requests.post(url, json=body, headers=auth(config.credentials), timeout=10)
    assert no_key.status_code == 400
    assert requests.post(url, json=body, headers={"Idempotency-Key": "key-3"}, timeout=10).status_code == 401
    lines = [json.loads(line) for line in (copy_dir / "pushes" / f"{agency}.jsonl").read_text().splitlines()]
    assert [entry["idempotency_key"] for entry in lines] == ["key-1", "key-2"]
    assert lines[0]["body"] == body


# ------------------------------------------------------------------------------------------------ faults


def _attempt(call: Callable[[], requests.Response]) -> requests.Response | None:
    """The response, or ``None`` when the transport failed (a truncated body)."""
    try:
        response = call()
        response.content  # noqa: B018 - reading the whole body is what fails on truncation
    except requests.RequestException:
        return None
    return response


def _malformed_health(resource: dict[str, Any]) -> bool:
    return resource.get("birthDate") == "31.02.2015" or (
        resource["resourceType"] in ("Patient", "RelatedPerson") and "name" not in resource)


def _malformed_ngo(record: dict[str, Any]) -> bool:
    if record.get("birth_date") == "not a date":
        return True
    try:
        record["snils"] and normalize_snils(record["snils"])
    except ValueError:
        return True
    return False


def test_faults_are_injected(copy_dir: Path, config: SandboxConfig,
                             started: Callable[..., RunningServers]) -> None:
    running = started(copy_dir, faults=0.5, seed=7, slow_max=0.02, rate_limit=0)
    health, ngo = running.urls["health"], running.urls["ngo"]
    token, key = config.credentials["health_token"], config.credentials["ngo_api_key"]
    answers: list[requests.Response | None] = []
    malformed = 0
    for _ in range(40):
        fhir = _attempt(lambda: fhir_get(f"{health}/fhir/Patient", token, _count=20))
        rest = _attempt(lambda: requests.get(f"{ngo}/api/v1/participants", params={"limit": 20},
                                             headers={"X-API-Key": key}, timeout=10))
        answers += [fhir, rest]
        if fhir is not None and fhir.status_code == 200:
            malformed += sum(_malformed_health(e["resource"]) for e in fhir.json()["entry"])
        if rest is not None and rest.status_code == 200:
            malformed += sum(map(_malformed_ngo, rest.json()["data"]))
    assert any(a is None for a in answers)
    assert any(a is not None and a.status_code == 503 for a in answers)
    assert malformed > 0
    counts = [stats(running.urls[name])["faults"] for name in ("health", "ngo")]
    for kind in ("burst", "unavailable", "slow", "truncated", "malformed"):
        assert sum(c[kind] for c in counts) > 0, kind
    assert sum(c["malformed"] for c in counts) == malformed


def _smev_attempt(base: str, body: bytes) -> SmevMessage | None:
    """The SOAP answer, or ``None`` when the request met a 503 or a truncated body."""
    response = _attempt(lambda: requests.post(f"{base}/smev", data=body, headers=XML, timeout=10))
    return None if response is None or response.status_code == 503 else smev.parse_envelope(response.content)


def test_smev_redelivers_acknowledged_messages_under_faults(
    edu_dir: Path, started: Callable[..., RunningServers]
) -> None:
    base = started(edu_dir, faults=0.5, seed=3, slow_max=0.02).urls["education"]
    acked: set[str] = set()
    redelivered = 0
    for _ in range(40):
        message = _smev_attempt(base, smev.get_response_request(NOW))
        if message is None or message.message_id is None:
            continue  # a fault, or the queue is empty (an acknowledged message may still come back)
        redelivered += message.message_id in acked
        answer = _smev_attempt(base, smev.ack_request(message.message_id))
        if answer is not None and answer.kind is MessageKind.ACK_RESPONSE:
            acked.add(message.message_id)
    assert redelivered > 0
    assert stats(base)["faults"]["duplicate_message_id"] == redelivered


def test_no_faults_at_rate_zero(servers: RunningServers, config: SandboxConfig) -> None:
    for _ in range(20):
        response = fhir_get(f"{servers.urls['health']}/fhir/Patient", config.credentials["health_token"])
        assert response.status_code == 200
        assert not any(_malformed_health(e["resource"]) for e in response.json()["entry"])
    for name in ("health", "education", "ngo"):
        assert set(stats(servers.urls[name])["faults"].values()) == {0}


# ------------------------------------------------------------------------------------------------ nights


def test_running_server_serves_the_next_night(copy_dir: Path, config: SandboxConfig,
                                              started: Callable[..., RunningServers]) -> None:
    running = started(copy_dir)
    token, key = config.credentials["health_token"], config.credentials["ngo_api_key"]
    night_1 = config.night_of(1).timestamp
    assert fhir_walk(running.urls["health"], token, "Patient", _lastUpdated=f"gt{night_1}")[1] == 0
    advance(copy_dir, workers=1)
    files = read_latest(copy_dir, "health", "resources-*.ndjson", lambda r: (r["resourceType"], r["id"]), 2)
    expected = {i for (t, i), r in files.items()
                if t == "Patient" and instant(r["meta"]["lastUpdated"]) > instant(night_1)}
    resources, _ = fhir_walk(running.urls["health"], token, "Patient", _lastUpdated=f"gt{night_1}")
    assert {r["id"] for r in resources} == expected
    assert expected
    night_2 = read_latest(copy_dir, "ngo", "participants-*.jsonl", lambda r: r["id"], 2)
    records = ngo_walk(running.urls["ngo"], key, "participants", updated_since=night_1)
    assert {r["id"] for r in records} == {i for i, r in night_2.items()
                                          if instant(r["updated_at"]) > instant(night_1)}
    assert stats(running.urls["health"])["night"] == 2


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_prints_ports_and_serves_until_terminated(sandbox_dir: Path, config: SandboxConfig) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.server", "--data", str(sandbox_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ports = json.loads(proc.stdout.readline())
        assert list(ports) == ["health", "education", "ngo"]
        for port in ports.values():
            assert requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=10).status_code == 200
        health = f"http://127.0.0.1:{ports['health']}"
        response = fhir_get(f"{health}/fhir/Patient", config.credentials["health_token"])
        assert response.status_code == 200
        assert response.json()["total"] > 0
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert stderr == ""  # no per-request log lines by default

"""Property: whatever happens, the agency ends up holding the registry's state, each message applied once.

A real JSON agency on loopback (it deduplicates by ``Idempotency-Key``, as its protocol says, and keeps the
last entry per source record) and a real registry. Hypothesis draws sequences of steps: registry changes
(cases opened and closed, links moved and dropped), pushes in-process, pushes in a ``hub push`` subprocess
that the agency SIGKILLs at its k-th request — before applying it or after applying it but before
answering — and two ``hub push`` subprocesses at once. After a last clean push the agency's state must
equal what ``entitlement.current`` says now, and no idempotency key may have been applied twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.config import SourceConfig
from connectors.push import push
from connectors.push.entitlement import current
from registry import migrate
from registry.db import connect, drop_database
from registry.errors import RunBusyError
from registry.runs import ensure_source_system
from tests.security.servers import Answer, ScriptedServer, Seen

PERSONS = [f"P00000000{i}" for i in range(1, 7)]
RECORDS = [f"R{i}" for i in range(1, 7)]


class Agency:
    """The agency's side: applied messages by key, state by source record, and a kill switch."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[str, int] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.kill: tuple[int, str, int] | None = None  # (pid, "before" | "after", at request n)
        self.requests = 0
        self.server = ScriptedServer({"/links": self.handle})

    def handle(self, seen: Seen) -> Answer:
        with self.lock:
            self.requests += 1
            kill = self.kill if self.kill and self.kill[2] == self.requests else None
            if kill and kill[1] == "before":
                os.kill(kill[0], signal.SIGKILL)
                return Answer(503)
            key = seen.headers.get("Idempotency-Key", "")
            if key not in self.applied:
                for link in json.loads(seen.body)["links"]:
                    self.state[link["source_record_id"]] = link
            self.applied[key] = self.applied.get(key, 0) + (key not in self.applied)
            if kill:
                os.kill(kill[0], signal.SIGKILL)
            return Answer(200, b"{}", {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Any:
    from tests.conftest import _create_database

    agency = Agency()
    folder = tmp_path_factory.mktemp("push-property")
    entry = {"agency": "ngo", "name": "property test", "connector": "rest_cursor",
             "connection_id": "prop_api", "mapping": "mappings/ngo.yaml", "options": {"endpoints": ["/x"]},
             "push": {"format": "json", "endpoint": "/links", "batch_size": 2, "max_attempts": 50,
                      "fields": ["registry_person_id", "registry_family_id", "accompaniment_status"]}}
    sources = folder / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": {"prop": entry}}), "utf-8")
    env = {"HUB_SOURCES": str(sources),
           "AIRFLOW_CONN_PROP_API": json.dumps({"conn_type": "http", "host": "127.0.0.1",
                                                "port": agency.server.port, "password": "k",
                                                "extra": {"auth": "api_key"}})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the in-process pushes read the connection from the environment too
    yield agency, SourceConfig.model_validate({**entry, "code": "prop"}), env, pg_server_url, _create_database
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    agency.server.stop()


CRASH = st.tuples(st.just("crash"), st.sampled_from(["before", "after"]), st.integers(1, 4))
STEP = st.one_of(
    CRASH, CRASH,
    st.tuples(st.just("close"), st.integers(0, 2)),
    st.tuples(st.just("open"), st.integers(0, 2)),
    st.tuples(st.just("move"), st.integers(0, 5), st.integers(0, 5)),
    st.tuples(st.just("drop"), st.integers(0, 5)),
    st.tuples(st.just("push"),),
    st.tuples(st.just("concurrent"),),
)


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEP, min_size=3, max_size=8))
def test_any_sequence_of_changes_crashes_and_concurrent_pushes_converges(
    world: Any, steps: list[Any]
) -> None:
    _converges(world, steps)


@pytest.mark.parametrize("moment", ["before", "after"])
@pytest.mark.parametrize("at", [1, 2, 3, 4])
def test_a_push_killed_at_any_request_converges(world: Any, moment: str, at: int) -> None:
    """SIGKILL at every step of a push of four messages (batch 2 × 6 records, then changes)."""
    _converges(world, [("crash", moment, at), ("close", 1), ("move", 0, 3), ("crash", moment, at),
                       ("open", 1), ("crash", moment, 1), ("push",)])


def _push_when_free(source: SourceConfig, url: str) -> None:
    """A push once the killed one's lock is gone: PostgreSQL frees a dead client's advisory lock when its
    backend notices the closed socket, a few milliseconds after the SIGKILL, not at once."""
    deadline = time.monotonic() + 15
    while True:
        try:
            push(source, url)
            return
        except RunBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _converges(world: Any, steps: list[Any]) -> None:
    agency, source, env, server_url, create = world
    url = create(server_url, "hub_push_prop")
    with connect(url) as conn:
        migrate.upgrade(conn)
        ensure_source_system(conn, "prop", "ngo", "property test", "rest_cursor")
        _seed(conn)
    agency.applied.clear()
    agency.state.clear()
    full_env = {**os.environ, **env, "HUB_DATABASE_URL": url}
    try:
        for step in steps:
            _do(step, url, source, agency, full_env)
        agency.kill = None
        _push_when_free(source, url)
        with connect(url) as conn:
            want = {e.source_record_id: e.visible for e in current(conn, source)}
            with conn.cursor() as cur:
                cur.execute("SELECT idempotency_key FROM outbox WHERE status = 'delivered'")
                delivered = {r[0] for r in cur.fetchall()}
    finally:
        drop_database(server_url, url.rsplit("/", 1)[1].split("?")[0])
    held = {sid: e for sid, e in agency.state.items()
            if any(v is not None for k, v in e.items() if k != "source_record_id")}
    assert held == want
    assert all(n == 1 for n in agency.applied.values())
    assert set(agency.applied) == delivered  # nothing the agency applied is forgotten by the hub


def _seed(conn: Any) -> None:
    with conn.cursor() as cur:
        for i in range(3):
            cur.execute("INSERT INTO registry_family (registry_id) VALUES (%s)", (f"F00000000{i}",))
            cur.execute("""INSERT INTO accompaniment_case (family_id, source_code, source_record_id, level,
                           stage, opened_on) VALUES (%s, 'prop', %s, 'crisis', 'activity', '2026-01-10')""",
                        (f"F00000000{i}", f"C{i}"))
        for i, (pid, sid) in enumerate(zip(PERSONS, RECORDS, strict=True)):
            cur.execute("INSERT INTO registry_person (registry_id) VALUES (%s)", (pid,))
            cur.execute("INSERT INTO membership (family_id, person_id, role) VALUES (%s, %s, 'child')",
                        (f"F00000000{i % 3}", pid))
            cur.execute("""INSERT INTO entity_link (source_code, record_kind, source_record_id, person_id,
                           decision) VALUES ('prop', 'person', %s, %s, 'rule')""", (sid, pid))


def _do(step: tuple[Any, ...], url: str, source: SourceConfig, agency: Agency, env: dict[str, str]) -> None:
    kind = step[0]
    if kind in ("close", "open"):
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("UPDATE accompaniment_case SET closed_on = %s WHERE source_record_id = %s",
                        ("2026-11-01" if kind == "close" else None, f"C{step[1]}"))
    elif kind in ("move", "drop"):
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("UPDATE entity_link SET valid_to = now() WHERE source_record_id = %s "
                        "AND valid_to IS NULL", (RECORDS[step[1]],))
            if kind == "move":
                cur.execute("""INSERT INTO entity_link (source_code, record_kind, source_record_id, person_id,
                               decision) VALUES ('prop', 'person', %s, %s, 'rule')""",
                            (RECORDS[step[1]], PERSONS[step[2]]))
    elif kind == "push":
        _push_when_free(source, url)
    elif kind == "crash":
        child = subprocess.Popen([sys.executable, "-m", "hub", "push", "prop"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        agency.kill, agency.requests = (child.pid, step[1], step[2]), 0
        child.wait(timeout=120)
        agency.kill = None
    else:
        children = [subprocess.Popen([sys.executable, "-m", "hub", "push", "prop"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    for _ in range(2)]
        for child in children:
            _, err = child.communicate(timeout=120)
            assert child.returncode == 0 or "another push of prop is running" in err, err

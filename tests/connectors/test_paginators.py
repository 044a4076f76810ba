"""Pluggable REST paginators against a real HTTP server: a new REST agency is config only.

Each API serves five participants in pages of two, paged its own way; the pull must stage all five, ask
for each page once and stop. A next link to another origin is refused (quarantined) without a request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.security.servers import Answer, ScriptedServer, Seen
from tests.sources import MakeSource, http_connection

PEOPLE = [{"id": f"p{i}", "last_name": "Иванова", "first_name": name, "birth_date": "2015-03-0" + str(i),
           "updated_at": f"2026-11-0{i}T10:00:00Z"} for i, name in enumerate(
               ["Анна", "Мария", "Ольга", "Вера", "Нина"], start=1)]
SIZE = 2
ROOT = Path(__file__).resolve().parents[2]


def _json(doc: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
    return Answer(200, json.dumps(doc, ensure_ascii=False).encode(),
                  {"Content-Type": "application/json", **(headers or {})})


def _q(seen: Seen) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(seen.query).items()}


def _slice(start: int) -> list[dict[str, Any]]:
    return PEOPLE[start:start + SIZE]


def _cursor(seen: Seen) -> Answer:
    start = int(_q(seen).get("after", "0"))
    more = start + SIZE < len(PEOPLE)
    return _json({"items": _slice(start), "paging": {"next": str(start + SIZE) if more else None}})


def _next_link(seen: Seen) -> Answer:
    start = int(_q(seen).get("from", "0"))
    nxt = f"/api/people?from={start + SIZE}&limit={SIZE}" if start + SIZE < len(PEOPLE) else None
    return _json({"data": _slice(start), "links": {"next": nxt}})


def _link_header(seen: Seen) -> Answer:
    start = int(_q(seen).get("from", "0"))
    headers = ({"Link": f'</api/people?from={start + SIZE}>; rel="next", </api/people>; rel="first"'}
               if start + SIZE < len(PEOPLE) else {})
    return _json({"data": _slice(start)}, headers)


def _page_number(seen: Seen) -> Answer:
    page = int(_q(seen)["page"])
    return _json({"data": _slice((page - 1) * SIZE), "meta": {"total_pages": 3}})


def _offset(seen: Seen) -> Answer:
    return _json({"data": _slice(int(_q(seen)["offset"]))})


APIS = {
    "cursor": (_cursor, {"type": "cursor", "cursor_field": "paging.next", "cursor_param": "after"},
               {"records_field": "items"}),
    "next_link": (_next_link, {"type": "next_link", "next_field": "links.next"}, {}),
    "link_header": (_link_header, {"type": "link_header"}, {}),
    "page_number": (_page_number, {"type": "page_number", "total_pages_field": "meta.total_pages"}, {}),
    "offset": (_offset, {"type": "offset"}, {}),
}


@pytest.mark.parametrize("kind", APIS)
def test_each_paginator_pulls_every_page_once(kind: str, make_source: MakeSource, agency: ScriptedServer,
                                              tmp_path: Path) -> None:
    handler, pagination, extra = APIS[kind]
    agency.routes["/api/people"] = handler
    mapping = "mappings/ngo.yaml"
    if extra.get("records_field") == "items":  # an API that calls its list "items": the mapping says so
        text = (ROOT / mapping).read_text("utf-8").replace('"data[*]"', '"items[*]"')
        mapping = str(tmp_path / "ngo_items.yaml")
        Path(mapping).write_text(text, "utf-8")
    source = make_source("rest_cursor", mapping, http_connection(agency, auth="api_key"),
                         options={"endpoints": ["/api/people"], "page_size": SIZE, "pagination": pagination,
                                  **extra})
    stats = source.pull()
    assert source.staged() == {p["id"] for p in PEOPLE}
    assert source.quarantine() == []
    assert len(agency.seen) == 3, [s.query for s in agency.seen]
    assert len({s.query for s in agency.seen}) == 3  # each page asked for once
    assert stats.payloads == 3


def test_a_next_link_to_another_origin_is_refused_unsent(make_source: MakeSource, agency: ScriptedServer,
                                                          recorder: ScriptedServer) -> None:
    foreign = {"data": _slice(0), "links": {"next": f"{recorder.url}/x"}}
    agency.routes["/api/people"] = lambda _s: _json(foreign)
    source = make_source("rest_cursor", "mappings/ngo.yaml", http_connection(agency, auth="api_key"),
                         options={"endpoints": ["/api/people"], "page_size": SIZE,
                                  "pagination": {"type": "next_link"}})
    source.pull()
    assert recorder.seen == []
    assert [c for c, _ in source.quarantine()] == ["origin_violation"]
    assert source.staged() == {"p1", "p2"}  # the page before the bad link is kept


def test_a_paginator_that_loops_is_stopped(make_source: MakeSource, agency: ScriptedServer) -> None:
    agency.routes["/api/people"] = lambda _s: _json({"data": _slice(0), "links": {"next": "/api/people?x=1"}})
    source = make_source("rest_cursor", "mappings/ngo.yaml", http_connection(agency, auth="api_key"),
                         options={"endpoints": ["/api/people"], "page_size": SIZE,
                                  "pagination": {"type": "next_link"}})
    source.pull()
    assert len(agency.seen) <= 3
    assert [c for c, _ in source.quarantine()] == ["protocol_violation"]


def test_an_unknown_paginator_is_a_config_error() -> None:
    from pydantic import ValidationError

    from connectors.config import SourceConfig

    with pytest.raises(ValidationError, match="pagination"):
        SourceConfig.model_validate({"agency": "ngo", "name": "t", "connector": "rest_cursor",
                                     "connection_id": "t", "mapping": "mappings/ngo.yaml",
                                     "options": {"endpoints": ["/a"], "pagination": {"type": "scroll"}}})

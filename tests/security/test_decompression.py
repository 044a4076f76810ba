"""Bounded decompression: a 600 KB gzip body that inflates to 600 MiB is refused before memory grows.

Over HTTP (``Content-Encoding: gzip``) and as a ``.gz`` file in a drop folder, the bomb is quarantined with
its compressed bytes and a reason naming the ratio, and the pull goes on. What the inflater held when it
refused is bounded by its floor plus one step, whatever the body claims. (Peak RSS of the whole process is
measured by ``python -m bench.decompress``, not asserted here.)
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from connectors import inflate
from connectors.errors import HostileBodyError
from connectors.http import HttpClient
from tests.security.servers import Answer, ScriptedServer
from tests.sources import MakeSource, Source, http_connection

MIB = 1 << 20


def bomb(inflated_mib: int = 600) -> bytes:
    """A gzip stream of ``inflated_mib`` MiB of zeros, made block by block (never whole in memory)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block, out = bytes(MIB), bytearray()
    for _ in range(inflated_mib):
        out += z.compress(block)
    out += z.flush()
    return bytes(out)


@pytest.fixture(scope="module")
def bomb_600() -> bytes:
    return bomb(600)


def _person_page(pid: int) -> bytes:
    return json.dumps({"data": [{"id": pid, "last_name": "Петрова", "first_name": "Мария",
                                 "birth_date": "2015-03-04", "gender": "F",
                                 "updated_at": "2026-11-01T00:00:00+03:00"}], "next_cursor": None},
                      ensure_ascii=False).encode()


def test_the_inflater_refuses_a_bomb_holding_no_more_than_its_floor(bomb_600: bytes) -> None:
    assert len(bomb_600) < 700_000
    inflater = inflate.Inflater("gzip", 256 * MIB)
    held = 0

    def feed_all() -> None:
        nonlocal held
        for i in range(0, len(bomb_600), 64 << 10):
            for piece in inflater.feed(bomb_600[i:i + (64 << 10)]):
                held += len(piece)

    with pytest.raises(HostileBodyError, match="inflates more than"):
        feed_all()
    assert held <= inflate.RATIO_FLOOR + inflate.STEP
    assert inflater.out <= inflate.RATIO_FLOOR + inflate.STEP


def test_a_gzip_bomb_over_http_is_quarantined_and_the_pull_goes_on(
    make_source: MakeSource, agency: ScriptedServer, bomb_600: bytes
) -> None:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    agency.routes["/api/v1/participants"] = lambda _s: Answer(200, bomb_600, headers)
    agency.routes["/api/v1/more"] = lambda _s: Answer(200, gzip.compress(_person_page(7)), headers)
    source = make_source("rest_cursor", "mappings/ngo.yaml", http_connection(agency, auth="api_key"),
                         options={"endpoints": ["/api/v1/participants", "/api/v1/more"]})
    source.pull()
    assert source.staged() == {"7"}  # a legitimately compressed page is read
    [(code, reason)] = source.quarantine()
    assert code == "hostile_input"
    assert "decompression bomb" in reason
    kept = [raw for raw in source.raw_payloads() if raw.startswith(inflate.GZIP_MAGIC)]
    assert kept
    assert bomb_600.startswith(kept[0])  # the bytes as sent, not what they inflate to


def test_an_http_body_over_the_size_cap_is_refused(agency: ScriptedServer) -> None:
    body = gzip.compress(b'{"data": [' + b'"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",' * 200_000 + b'1]}')
    agency.routes["/big"] = lambda _s: Answer(200, body, {"Content-Encoding": "gzip"})
    client = HttpClient(agency.url, body_limit=2 * MIB)
    with pytest.raises(HostileBodyError, match="limit"):
        client.get("/big")


@pytest.mark.parametrize(("encoding", "body", "match"), [
    ("br", b"\x8b\x02\x80hello\x03", "not accepted"),
    ("gzip", gzip.compress(b'{"data": []}', mtime=0)[:-9], "truncated"),
    ("gzip", gzip.compress(b'{"data": []}', mtime=0) + b"trailing junk", "after the end"),
], ids=["brotli", "truncated", "trailing"])
def test_odd_encodings_are_refused(agency: ScriptedServer, encoding: str, body: bytes, match: str) -> None:
    agency.routes["/x"] = lambda _s: Answer(200, body, {"Content-Encoding": encoding})
    with pytest.raises(HostileBodyError, match=match):
        HttpClient(agency.url).get("/x")


def test_deflate_zlib_and_raw_and_multi_member_gzip_are_read(agency: ScriptedServer) -> None:
    text = b'{"data": []}'
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    cases: dict[str, tuple[bytes, str]] = {
        "/zlib": (zlib.compress(text), "deflate"),
        "/raw": (raw.compress(text) + raw.flush(), "deflate"),
        "/multi": (gzip.compress(text[:5]) + gzip.compress(text[5:]), "gzip"),
    }
    for path, (body, encoding) in cases.items():
        agency.routes[path] = lambda _s, b=body, e=encoding: Answer(200, b, {"Content-Encoding": e})
    for path in cases:
        assert HttpClient(agency.url).get(path).body == text


def _drop(tmp_path: Path, make_source: MakeSource, pattern: str) -> tuple[Source, Path]:
    folder = tmp_path / "drop"
    folder.mkdir()
    connection: dict[str, Any] = {"conn_type": "fs", "extra": {"path": str(folder)}}
    return make_source("file_drop", "mappings/ngo.yaml", connection, options={"patterns": [pattern]}), folder


def test_a_gz_bomb_in_a_drop_folder_is_quarantined_and_the_next_file_read(
    tmp_path: Path, make_source: MakeSource, bomb_600: bytes
) -> None:
    source, folder = _drop(tmp_path, make_source, "*.json.gz")
    (folder / "a.json.gz").write_bytes(bomb_600)
    (folder / "b.json.gz").write_bytes(gzip.compress(_person_page(9)))
    source.pull()
    assert source.staged() == {"9"}
    [(code, reason)] = source.quarantine()
    assert code == "hostile_input"
    assert "inflates" in reason


def test_a_gzipped_xml_file_is_streamed(tmp_path: Path) -> None:
    text = b"<?xml version='1.0'?><r>" + b"<p>x</p>" * 100_000 + b"</r>"
    path = tmp_path / "a.xml.gz"
    path.write_bytes(gzip.compress(text))
    with inflate.InflatingReader(path.open("rb"), 64 * MIB) as reader:
        out = bytearray()
        while block := reader.read(1 << 16):
            assert len(block) <= 1 << 16
            out += block
    assert bytes(out) == text

"""ZIP archives in a drop folder: each data member is its own payload; a hostile member costs itself.

A real pull of a real drop folder into the real registry, per case: two members staged and skipped on the
rerun, a deflate bomb, an encrypted member, a nested archive, a damaged member (CRC), a file that is not an
archive, an archive listing too many entries, member names that climb out of the folder (they are labels:
nothing is ever extracted), and a read-me beside the data (skipped, not quarantined).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from connectors.file_drop import archive
from tests.sources import MakeSource, Source, query

MIB = 1 << 20


def _page(*ids: int) -> bytes:
    return json.dumps({"data": [{"id": i, "last_name": "Петрова", "first_name": "Мария",
                                 "birth_date": "2015-03-04", "gender": "F"} for i in ids]},
                      ensure_ascii=False).encode()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _zeros_zip(name: str, mib: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w") as member:
        block = bytes(MIB)
        for _ in range(mib):
            member.write(block)
    return out.getvalue()


def _drop(tmp_path: Path, make_source: MakeSource, *patterns: str, **options: Any) -> tuple[Source, Path]:
    folder = tmp_path / "drop"
    folder.mkdir()
    connection: dict[str, Any] = {"conn_type": "fs", "extra": {"path": str(folder)}}
    source = make_source("file_drop", "mappings/ngo.yaml", connection,
                         options={"patterns": list(patterns or ("*.zip",)), **options})
    return source, folder


def test_each_member_is_a_payload_and_a_rerun_reads_nothing_again(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source)
    (folder / "night.zip").write_bytes(_zip({"district1/a.json": _page(1, 2), "district2/b.json": _page(3)}))
    stats = source.pull()
    assert source.staged() == {"1", "2", "3"}
    assert (stats.payloads, stats.quarantined) == (2, 0)
    positions = [r[0] for r in query(source.url, "SELECT position FROM raw_payload WHERE source_code = %s "
                                     "ORDER BY payload_id", (source.code,))]
    assert [(p["file"], p["member"]) for p in positions] == [("night.zip", "district1/a.json"),
                                                            ("night.zip", "district2/b.json")]
    assert sorted(source.raw_payloads()) == sorted([_page(1, 2), _page(3)])  # each member's bytes, as zipped
    again = source.pull()
    assert (again.payloads_skipped, again.new, again.quarantined) == (2, 0, 0)


def test_a_deflate_bomb_member_is_quarantined_and_its_neighbour_read(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source)
    bomb = _zeros_zip("a.json", 64)
    assert len(bomb) < 200_000
    (folder / "a.zip").write_bytes(bomb)
    (folder / "b.zip").write_bytes(_zip({"b.json": _page(9)}))
    source.pull()
    assert source.staged() == {"9"}
    [(code, reason)] = source.quarantine()
    assert code == "hostile_input"
    assert "a.zip: the member inflates more than" in reason
    source.pull()
    assert len(source.quarantine()) == 1  # the rerun adds no second row


def test_encrypted_nested_and_damaged_members_are_quarantined_one_by_one(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source)
    members = {"a.json": _page(1, 11, 12, 13), "b.json": _page(2), "c.json": _page(3), "inner.zip": b"PK"}
    data = bytearray(_zip(members, zipfile.ZIP_STORED))
    # b.json is flagged as encrypted (bit 0 of the flags) in both of its headers; c.json's bytes are damaged
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        infos, central = {i.filename: i for i in zf.infolist()}, zf.start_dir
    data[infos["b.json"].header_offset + 6] |= 0x01
    while data[central + 46:central + 52] != b"b.json":  # walk the central directory to b.json's entry
        lengths = [int.from_bytes(data[central + k:central + k + 2], "little") for k in (28, 30, 32)]
        central += 46 + sum(lengths)
    data[central + 8] |= 0x01
    c_data = infos["c.json"].header_offset + 30 + len("c.json") + 5
    data[c_data] ^= 0xFF
    (folder / "mixed.zip").write_bytes(bytes(data))
    source.pull()
    assert source.staged() == {"1", "11", "12", "13"}
    reasons = sorted(reason for _code, reason in source.quarantine())
    assert len(reasons) == 3, reasons
    assert any("encrypted" in r for r in reasons)
    assert any("an archive inside the archive" in r for r in reasons)
    assert any("CRC" in r for r in reasons)


def test_a_file_that_is_no_archive_is_quarantined_and_the_next_read(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source)
    (folder / "a.zip").write_bytes(b"PK\x03\x04 this is not really an archive" * 10)
    (folder / "b.zip").write_bytes(_zip({"b.json": _page(5)}))
    source.pull()
    assert source.staged() == {"5"}
    [(code, reason)] = source.quarantine()
    assert (code, reason.startswith("a.zip: not a readable ZIP archive")) == ("hostile_input", True)


def test_an_archive_listing_too_many_entries_is_refused_unread(
    tmp_path: Path, make_source: MakeSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBERS", 50)  # the cap's value, not its mechanism, is lowered
    source, folder = _drop(tmp_path, make_source)
    (folder / "many.zip").write_bytes(_zip({f"p{i}.json": _page(i) for i in range(51)}))
    source.pull()
    assert source.staged() == set()
    [(_code, reason)] = source.quarantine()
    assert "lists 51 entries" in reason


def test_member_names_are_labels_nothing_is_extracted(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source)
    (folder / "evil.zip").write_bytes(_zip({"../../escaped.json": _page(7), "/etc/cron.d/x.json": _page(8)}))
    before = {p for p in tmp_path.rglob("*")}
    source.pull()
    assert source.staged() == {"7", "8"}
    assert {p for p in tmp_path.rglob("*")} == before  # not a byte written anywhere
    assert not (tmp_path.parent / "escaped.json").exists()


def test_a_readme_beside_the_data_is_skipped_not_quarantined(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source, "*.zip", "*.json")
    members = {"README.txt": b"hello", "__MACOSX/._a.json": b"x", "a.json": _page(4)}
    (folder / "a.zip").write_bytes(_zip(members))
    stats = source.pull()
    assert source.staged() == {"4"}
    assert source.quarantine() == []
    assert stats.refused == 1  # README.txt, by name; the resource fork is not the agency's data


def test_processed_archives_move_after_their_last_member(
    tmp_path: Path, make_source: MakeSource
) -> None:
    source, folder = _drop(tmp_path, make_source, after="move")
    (folder / "a.zip").write_bytes(_zip({"a.json": _page(1), "b.json": _page(2)}))
    source.pull()
    assert source.staged() == {"1", "2"}
    assert sorted(p.name for p in folder.iterdir()) == ["processed"]
    assert [p.name for p in (folder / "processed").iterdir()] == ["a.zip"]

"""Nothing outside the drop folder is read: links, devices, FIFOs, hard links and swaps are refused unread.

Each test puts an outside file (standing for ``/etc/passwd``) beside the folder, with a secret marker in it,
and tricks an entry of the folder into pointing at it. The pull must stage the folder's good file, count
and log the refused entry by name, and keep no byte of the outside file anywhere — no raw payload, no
quarantine row — so ``hub lineage raw`` of its sha256 finds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path

import pytest

from connectors.errors import ConnectionConfigError
from connectors.file_drop import FileDropConnector
from connectors.file_drop.helpers import DropFolder, RefusedEntryError
from tests.sources import MakeSource, Source, query

OUTSIDE = b'{"data": [{"id": 1, "last_name": "SECRET-OUTSIDE-MARKER"}], "next_cursor": null}'
GOOD = json.dumps({"data": [{"id": 7, "last_name": "Петрова", "first_name": "Мария", "birth_date":
                            "2015-03-04", "gender": "F", "updated_at": "2026-11-01T00:00:00+03:00"}],
                   "next_cursor": None}, ensure_ascii=False).encode()


@pytest.fixture
def drop(tmp_path: Path, make_source: MakeSource) -> tuple[Source, Path, Path]:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "zz_good.json").write_bytes(GOOD)
    outside = tmp_path / "passwd"
    outside.write_bytes(OUTSIDE)
    connection = {"conn_type": "fs", "extra": {"path": str(folder)}}
    source = make_source("file_drop", "mappings/ngo.yaml", connection, options={"patterns": ["*.json"]})
    return source, folder, outside


def _nothing_of(source: Source, outside: Path) -> None:
    assert all(b"SECRET-OUTSIDE-MARKER" not in raw for raw in source.raw_payloads())
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    assert query(source.url, "SELECT count(*) FROM raw_payload WHERE sha256 = %s", (digest,)) == [(0,)]
    assert query(source.url, "SELECT count(*) FROM quarantine WHERE raw_sha256 = %s", (digest,)) == [(0,)]


def _pull_refusing(source: Source, caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.WARNING, "hub.connectors.file_drop"):
        stats = source.pull()
    assert stats.refused == 1
    assert source.staged() == {"7"}
    assert any(name in r.getMessage() and "refused" in r.getMessage() for r in caplog.records)


def test_a_symlink_to_a_file_outside_is_never_read(
    drop: tuple[Source, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    source, folder, outside = drop
    (folder / "a_passwd.json").symlink_to(outside)
    _pull_refusing(source, caplog, "a_passwd.json")
    _nothing_of(source, outside)


def test_a_symlink_by_relative_path_is_never_read(
    drop: tuple[Source, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    source, folder, outside = drop
    (folder / "a_dots.json").symlink_to(Path("..") / outside.name)
    _pull_refusing(source, caplog, "a_dots.json")
    _nothing_of(source, outside)


def test_a_hard_link_to_a_file_outside_is_never_read(
    drop: tuple[Source, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    source, folder, outside = drop
    os.link(outside, folder / "a_hard.json")
    _pull_refusing(source, caplog, "a_hard.json")
    _nothing_of(source, outside)


def test_a_fifo_does_not_block_the_pull(
    drop: tuple[Source, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    source, folder, _outside = drop
    os.mkfifo(folder / "a_fifo.json")
    _pull_refusing(source, caplog, "a_fifo.json")


def test_a_folder_or_a_device_named_like_a_file_is_refused(
    drop: tuple[Source, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    source, folder, _outside = drop
    (folder / "a_dir.json").mkdir()
    (folder / "a_dev.json").symlink_to("/dev/zero")
    with caplog.at_level(logging.WARNING, "hub.connectors.file_drop"):
        stats = source.pull()
    assert stats.refused == 2
    assert source.staged() == {"7"}


def test_an_entry_swapped_for_a_link_after_listing_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.json").write_bytes(GOOD)
    outside = tmp_path / "passwd"
    outside.write_bytes(OUTSIDE)
    drop = DropFolder(str(folder))
    try:
        [entry], refused = drop.scan(["*.json"])
        assert refused == []
        (folder / "a.json").unlink()
        (folder / "a.json").symlink_to(outside)  # the race: between listing and reading
        with pytest.raises(RefusedEntryError):
            drop.open(entry)
        (folder / "a.json").unlink()
        os.link(outside, folder / "a.json")  # a second name for the outside file
        with pytest.raises(RefusedEntryError, match="hard link"):
            drop.open(entry)
    finally:
        drop.close()


def _swap(folder: Path) -> bool:
    replacement = folder / ".a.json.part"
    replacement.write_bytes(OUTSIDE)
    os.replace(replacement, folder / "a.json")
    return True


def test_reading_a_payload_after_a_rename_swap_still_gives_the_hashed_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.json").write_bytes(GOOD)
    for payload in FileDropConnector(folder, ["*.json"]).payloads({}):
        _swap(folder)
        assert payload.open is not None
        with payload.open() as stream:
            data = stream.read()
        assert data == GOOD
        assert hashlib.sha256(data).hexdigest() == payload.meta["sha256"]


@pytest.mark.parametrize("pattern", ["../*.json", "sub/*.json", "..", "/etc/*"])
def test_patterns_cannot_reach_outside_the_folder(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ConnectionConfigError):
        FileDropConnector(tmp_path, [pattern])


def test_a_connection_without_a_folder_is_refused_not_the_working_directory(make_source: MakeSource) -> None:
    source = make_source("file_drop", "mappings/ngo.yaml", {"conn_type": "fs"},
                         options={"patterns": ["*.json"]})
    with pytest.raises(ConnectionConfigError, match="drop folder"):
        source.pull()


def test_hub_lineage_raw_of_an_outside_file_finds_nothing(
    drop: tuple[Source, Path, Path], hub_cli: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    source, folder, outside = drop
    (folder / "a_passwd.json").symlink_to(outside)
    source.pull()
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    env = {**os.environ, "HUB_DATABASE_URL": source.url}
    done = subprocess.run([*hub_cli, "lineage", "raw", digest], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode != 0
    assert "SECRET-OUTSIDE-MARKER" not in done.stdout + done.stderr
    assert done.stderr.startswith("error:")
    assert len(done.stderr.strip().splitlines()) == 1

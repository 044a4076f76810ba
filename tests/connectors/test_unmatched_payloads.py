"""No silent zero: a payload holding nothing the mapping reads is a warning on the run, and fails a strict
source (an empty export in a known format, a document in a namespace the mapping does not know)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.errors import QualityGateError
from tests.sources import MakeSource, Source, query

EMPTY_EXPORT = b'<?xml version="1.0"?><export xmlns="urn://region-szn/accompaniment/1.0"/>'
OTHER_FORMAT = b'<?xml version="1.0"?><cards xmlns="urn://district/cards/2.0"><card id="1"/></cards>'


def _drop(tmp_path: Path, make_source: MakeSource, validation: str, data: bytes) -> Source:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "SZN_20261203_cases_00000.xml").write_bytes(data)
    connection: dict[str, Any] = {"conn_type": "fs", "extra": {"path": str(folder)}}
    return make_source("file_drop", "mappings/social_protection.yaml", connection, agency="social_protection",
                       validation=validation, options={"patterns": ["SZN_*.xml"]})


def _run(source: Source) -> tuple[str, str | None]:
    [(status, error)] = query(source.url, "SELECT status, error FROM run WHERE kind = 'pull' "
                              "AND source_code = %s", (source.code,))
    return str(status), error


@pytest.mark.parametrize("data", [EMPTY_EXPORT, OTHER_FORMAT], ids=["empty export", "other namespace"])
def test_a_strict_source_fails_on_a_payload_with_nothing_to_read(
    tmp_path: Path, make_source: MakeSource, data: bytes
) -> None:
    source = _drop(tmp_path, make_source, "strict", data)
    held_nothing = r"1 payload\(s\) held no record of mapping 'social_protection'"
    with pytest.raises(QualityGateError, match=held_nothing):
        source.pull()
    status, error = _run(source)
    assert status == "failed"
    assert error is not None
    assert "strict source" in error


def test_a_lenient_source_notes_an_empty_export_and_goes_on(tmp_path: Path, make_source: MakeSource) -> None:
    source = _drop(tmp_path, make_source, "lenient", EMPTY_EXPORT)
    stats = source.pull()
    assert stats.payloads_unmatched == 1
    assert any("no record in this document" in w for w in stats.warnings), stats.warnings
    assert _run(source) == ("succeeded", None)

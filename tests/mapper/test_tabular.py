"""JSON Lines and CSV readers; undeclared XML prefixes; the mapping language's JSON Schema."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mapper import Mapping, MappingSpecError, load_mapping
from mapper.readers import PayloadFailure, SourceRecord
from mapper.tabular import read_csv, read_jsonl

ROOT = Path(__file__).resolve().parents[2]
PERSON = """
records:
  - name: row
    select: "*"
    emit:
      - kind: person
        id: {path: id}
        fields:
          family_name: {path: last}
          given_name: {path: first}
"""


def load(tmp_path: Path, head: str) -> Mapping:
    path = tmp_path / "t.yaml"
    path.write_text(f"mapping: t\nversion: 1.0.0\nsource: tt\n{head}{PERSON}", "utf-8")
    return load_mapping(path)


def names(items: list[SourceRecord | PayloadFailure]) -> list[str]:
    return [str(getattr(r.record, "family_name", "")) for i in items if isinstance(i, SourceRecord)
            for r in i.result.records]


def test_jsonl_maps_each_line_and_refuses_broken_or_flawed_lines_alone(tmp_path: Path) -> None:
    m = load(tmp_path, "format: jsonl\n")
    lines = [json.dumps({"id": "1", "last": "Иванова", "first": "Анна"}, ensure_ascii=False), "",
             '{"id": "2", "last": ', '{"id": "3", "id": "4", "last": "Б", "first": "В"}',
             json.dumps({"id": "5", "last": "Петров", "first": "Иван"}, ensure_ascii=False)]
    items = list(read_jsonl(io.BytesIO("\n".join(lines).encode()), m))
    assert names(items) == ["Иванова", "Петров"]
    errors = [i.result.error for i in items if isinstance(i, SourceRecord) and i.result.error]
    assert [e.reason_code for e in errors if e] == ["parse_error", "hostile_input"]
    assert [i.position["line"] for i in items] == [1, 3, 4, 5]


def test_csv_in_windows_1251_with_a_header(tmp_path: Path) -> None:
    m = load(tmp_path, 'format: csv\ncsv: {delimiter: ";", encoding: windows-1251}\n')
    data = "id;last;first\n1;Иванова;Анна\n;;\n2;\"Петров\";\"Иван\"\n".encode("cp1251")
    items = list(read_csv(io.BytesIO(data), m))
    assert names(items) == ["Иванова", "Петров"]
    assert [i.raw for i in items if isinstance(i, SourceRecord)][-1] == '2;"Петров";"Иван"\n'.encode("cp1251")


def test_csv_without_header_names_columns_c1_c2(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("mapping: t\nversion: 1.0.0\nsource: tt\nformat: csv\ncsv: {header: false}\n"
                    + PERSON.replace("path: id", "path: c1").replace("path: last", "path: c2")
                    .replace("path: first", "path: c3"), "utf-8")
    items = list(read_csv(io.BytesIO("7,Сидорова,Мария\n".encode()), load_mapping(path)))
    assert names(items) == ["Сидорова"]


def test_csv_text_not_in_its_encoding_stops_the_file_keeping_earlier_rows(tmp_path: Path) -> None:
    m = load(tmp_path, "format: csv\n")  # utf-8
    data = "id,last,first\n1,Иванова,Анна\n".encode() + "2,Петров,Иван\n".encode("cp1251")
    items = list(read_csv(io.BytesIO(data), m))
    assert names(items) == ["Иванова"]
    assert isinstance(items[-1], PayloadFailure)
    assert "utf-8" in items[-1].reason


def test_a_row_with_more_cells_than_the_header_is_refused_alone(tmp_path: Path) -> None:
    m = load(tmp_path, "format: csv\n")
    items = list(read_csv(io.BytesIO("id,last,first\n1,А,Б,extra\n2,В,Г\n".encode()), m))
    assert names(items) == ["В"]


def test_jsonl_and_csv_records_select_the_whole_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("mapping: t\nversion: 1.0.0\nsource: tt\nformat: jsonl\n" + PERSON.replace('"*"', "data"))
    with pytest.raises(MappingSpecError, match='select "\\*"'):
        load_mapping(path)


def test_an_undeclared_prefix_fails_the_mapping_check(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("mapping: x\nversion: 1.0.0\nsource: xx\nformat: xml\nnamespaces: {a: 'urn:a'}\n"
                    + PERSON.replace('"*"', "a:row").replace("path: last", "path: b:last"), "utf-8")
    with pytest.raises(MappingSpecError, match="prefix 'b' is not declared"):
        load_mapping(path)


def test_hub_mapping_schema_describes_the_language() -> None:
    done = subprocess.run([sys.executable, "-m", "hub", "mapping", "schema"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)
    schema = json.loads(done.stdout)
    assert {"mapping", "format", "on_error", "records", "csv"} <= set(schema["properties"])
    assert set(schema["properties"]["format"]["enum"]) == {"xml", "json", "jsonl", "csv"}
    rule = schema["$defs"]["ValueRule"]["properties"]
    assert {"on_error", "on_unknown", "regex", "code", "date"} <= set(rule)

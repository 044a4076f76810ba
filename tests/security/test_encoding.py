"""Text decoded with the wrong code page is quarantined with the suspected encoding named, never staged.

For each confusion of the Russian code pages (koi8-r, windows-1251, cp866, mac-cyrillic, iso-8859-5) an XML
file declares one encoding while its bytes are in another: the whole payload is quarantined as
``encoding_mismatch`` with a reason naming the real encoding, nothing of it is staged, and a correct file
beside it is. The same file declared correctly is staged. A UTF-8 mojibake value in one JSON record costs
that record only. Names in other languages and scripts pass. (The false-positive rate over a whole
sandbox is measured by ``python -m bench.encoding``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapper.encoding import misdecoding
from tests.sources import MakeSource, Source

PAGES = ("windows-1251", "koi8-r", "cp866", "mac-cyrillic", "iso-8859-5")
XML_NAME = {"mac-cyrillic": "MacCyrillic"}  # what libxml2 calls it in a declaration
PEOPLE = [("Соколова", "Анастасия", "Игоревна"), ("Кузнецов", "Пётр", "Ильич"),
          ("Щукина", "Юлия", "Олеговна"), ("Воробьёв", "Эдуард", "Фёдорович"),
          ("Жукова", "Ярослава", "Андреевна")]
MAPPING = """\
mapping: encoding_xml
version: 1.0.0
source: encoding_xml
format: xml
records:
  - name: person
    select: person
    emit:
      - kind: person
        id: {path: "@id"}
        fields:
          family_name: {path: family}
          given_name: {path: given}
          patronymic: {path: patronymic}
          birth_date: {path: birth, date: [iso]}
"""


def document(encoding: str, people: list[tuple[str, str, str]] = PEOPLE, prefix: str = "p") -> str:
    rows = "".join(f'<person id="{prefix}{i}"><family>{f}</family><given>{g}</given><patronymic>{p}'
                   f"</patronymic><birth>2015-03-04</birth></person>\n" for i, (f, g, p) in enumerate(people))
    return f'<?xml version="1.0" encoding="{XML_NAME.get(encoding, encoding)}"?>\n<root>\n{rows}</root>\n'


@pytest.fixture
def xml_drop(tmp_path: Path, make_source: MakeSource) -> tuple[Source, Path]:
    folder = tmp_path / "drop"
    folder.mkdir()
    mapping = tmp_path / "encoding.yaml"
    mapping.write_text(MAPPING, "utf-8")
    source = make_source("file_drop", str(mapping), {"conn_type": "fs", "extra": {"path": str(folder)}},
                         agency="social_protection", options={"patterns": ["*.xml"]})
    return source, folder


CONFUSIONS = [(declared, actual) for declared in PAGES for actual in PAGES if declared != actual]


@pytest.mark.parametrize(("declared", "actual"), CONFUSIONS, ids=[f"{a}-as-{d}" for d, a in CONFUSIONS])
def test_a_file_in_one_code_page_declared_as_another_is_quarantined(
    xml_drop: tuple[Source, Path], declared: str, actual: str
) -> None:
    source, folder = xml_drop
    (folder / "a.xml").write_bytes(document(declared).encode(actual.replace("-", "_")))
    (folder / "b.xml").write_bytes(document("utf-8", prefix="ok").encode("utf-8"))
    source.pull()
    assert source.staged() == {f"ok{i}" for i in range(len(PEOPLE))}
    [(code, reason)] = source.quarantine()
    assert code == "encoding_mismatch"
    assert f"{actual} text read as {declared}" in reason
    assert not any(name in reason for person in PEOPLE for name in person)


@pytest.mark.parametrize("encoding", PAGES)
def test_a_file_declared_correctly_is_staged(xml_drop: tuple[Source, Path], encoding: str) -> None:
    source, folder = xml_drop
    (folder / "a.xml").write_bytes(document(encoding).encode(encoding.replace("-", "_")))
    source.pull()
    assert source.quarantine() == []
    assert len(source.staged()) == len(PEOPLE)


def test_utf8_mojibake_in_one_json_record_costs_that_record(tmp_path: Path, make_source: MakeSource) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    connection = {"conn_type": "fs", "extra": {"path": str(folder)}}
    source = make_source("file_drop", "mappings/ngo.yaml", connection, options={"patterns": ["*.json"]})
    people = [{"id": i, "last_name": f, "first_name": g, "middle_name": p, "birth_date": "2015-03-04",
               "gender": "F", "updated_at": "2026-11-01T00:00:00+03:00"}
              for i, (f, g, p) in enumerate(PEOPLE)]
    people[2]["last_name"] = "Щукина".encode().decode("cp1251")  # "Р©СѓРєРёРЅР°"
    (folder / "a.json").write_text(json.dumps({"data": people, "next_cursor": None}, ensure_ascii=False))
    source.pull()
    assert source.staged() == {"0", "1", "3", "4"}
    [(code, reason)] = source.quarantine()
    assert code == "encoding_mismatch"
    assert "UTF-8 text read as windows-1251" in reason


@pytest.mark.parametrize("names", [
    ["Олексій", "Шевченко", "Їжаківна"], ["Ґанна", "Євгенія", "Коваль"], ["Нұрсұлтан", "Әбішұлы"],
    ["Қайрат", "Жұмабаев"], ["Ўткир", "Ғайратов"], ["Ҷамшед", "Раҳмонов"], ["Ашот", "Мкртчян", "Гагикович"],
    ["Гиви", "Цхакая"], ["Мзия", "Бердзенишвили"], ["Айаал", "Кэскил"], ["Цой", "Ким", "Ен"],
    ["Nguyen", "Thi", "Hoa"], ["Wojciechowski", "Elżbieta"], ["José", "Muñoz"], ["Björn", "Jensen"],
    ["Д'Артаньян", "Шарль"], ["Мухаммад-Али", "Абдурахмонзода"], ["Хож-Ахмед", "Нухаев"],
])
def test_names_of_other_languages_and_scripts_pass(names: list[str]) -> None:
    assert misdecoding(names) is None

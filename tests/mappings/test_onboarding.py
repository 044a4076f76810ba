"""Three new sources onboarded by YAML only, inside the test, and pulled and reconciled by the real CLI.

None of the formats resembles a mapping in ``mappings/``:

* district family cards: XML in a default namespace with Cyrillic element and attribute names — the
  mapping is the tutorial's, read from ``docs/mapping.md`` (so the tutorial is tested as written);
* a school register: CSV in windows-1251, ``;``-separated, one ``fio`` column holding the whole name, dates
  as DD.MM.YYYY, an unknown code and a bad SNILS in some rows;
* a charity's case list: JSON Lines, English keys, ISO dates, one broken line.

Each goes through a drop folder (``hub pull``), then ``hub reconcile``: the same mother and child known to
two or three of the new agencies become one registry person each, and the new agencies (codes no code
list names) are registry sources like the others.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.identifiers import format_snils, snils_check_digits
from tests.sources import query

ROOT = Path(__file__).resolve().parents[2]


def snils(first_nine: str) -> str:
    return format_snils(first_nine + snils_check_digits(first_nine))


MOTHER, CHILD, OTHER = snils("112233445"), snils("123456789"), snils("987654321")

CARDS_XML = f"""<?xml version="1.0" encoding="utf-8"?>
<Карточки xmlns="urn://district/cards/1.0" район="Чудовский">
  <Карточка номер="К-0001">
    <Фамилия>Смирнова</Фамилия><Имя>Ольга</Имя><Отчество>Ивановна</Отчество>
    <ДатаРождения>12.03.1988</ДатаРождения><СНИЛС>{MOTHER}</СНИЛС>
    <Категория>многодетная</Категория>
  </Карточка>
  <Карточка номер="К-0002">
    <Фамилия>Орлова</Фамилия><Имя>Нина</Имя>
    <ДатаРождения>31.02.1990</ДатаРождения><СНИЛС>{OTHER}</СНИЛС>
    <Категория>нет такой</Категория>
  </Карточка>
</Карточки>
"""

SCHOOL_MAPPING = """\
mapping: school_register
version: 1.0.0
source: school_register
format: csv
csv: {delimiter: ";", encoding: windows-1251}
tables:
  sex: {М: male, Ж: female}
records:
  - name: pupil
    select: "*"
    emit:
      - kind: person
        id: {path: nomer}
        fields:
          family_name: {path: fio, regex: "^(\\\\S+)", required: true}
          given_name: {path: fio, regex: "^\\\\S+\\\\s+(\\\\S+)"}
          patronymic: {path: fio, regex: "^\\\\S+\\\\s+\\\\S+\\\\s+(\\\\S+)"}
          birth_date: {path: dr, date: [ru]}
          sex: {path: pol, code: sex}
          identifiers:
            - {kind: snils, value: {path: snils}}
            - {kind: local, system: school_register, value: {path: nomer}}
          addresses:
            - {kind: residence, text: {path: adres}}
"""
SCHOOL_CSV = (
    "nomer;fio;dr;pol;snils;adres\n"
    f"У-17;Смирнов Артём Олегович;05.09.2014;М;{CHILD};г. Чудово, ул. Луговая, д. 30\n"
    f"У-18;Петрова Вера Андреевна;01.02.2013;X;123-456-789 00;г. Чудово, ул. Лесная, д. 2\n"
).encode("cp1251")

CHARITY_MAPPING = """\
mapping: charity_cases
version: 1.0.0
source: charity_cases
format: jsonl
tables:
  relation: {mother: mother, son: child, daughter: child}
records:
  - name: client
    select: "*"
    when: {path: status, not_in: [test]}
    emit:
      - kind: person
        id: {path: client_id}
        fields:
          family_name: {path: name.last}
          given_name: {path: name.first}
          birth_date: {path: dob, date: [iso]}
          identifiers:
            - {kind: snils, value: {path: snils}}
      - kind: family
        id: {path: family}
      - kind: membership
        id: {template: "{family}/{client_id}"}
        fields:
          family_ref: {path: family}
          person_ref: {path: client_id}
          role: {path: relation, code: relation}
"""
CHARITY_JSONL = "\n".join([
    json.dumps({"client_id": "c1", "family": "fam-9", "relation": "mother", "status": "open",
                "name": {"last": "Смирнова", "first": "Ольга"}, "dob": "1988-03-12", "snils": MOTHER},
               ensure_ascii=False),
    json.dumps({"client_id": "c2", "family": "fam-9", "relation": "son", "status": "open",
                "name": {"last": "Смирнов", "first": "Артём"}, "dob": "2014-09-05", "snils": CHILD},
               ensure_ascii=False),
    '{"client_id": "c3", "name": ',  # cut off mid-write
    json.dumps({"client_id": "t1", "status": "test", "name": {"last": "Тест", "first": "Тест"}}),
]) + "\n"


def tutorial_mapping() -> str:
    """The mapping of the tutorial in docs/mapping.md, as written there."""
    doc = (ROOT / "docs" / "mapping.md").read_text("utf-8")
    tutorial = doc[doc.index("## Tutorial"):]
    return re.search(r"```yaml\n(mapping: district_cards.*?)```", tutorial, re.S).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> dict[str, Any]:
    from registry import migrate
    from registry.db import connect, drop_database, ensure_database, with_database

    home = tmp_path_factory.mktemp("onboarding")
    name = f"hub_onboarding_{os.getpid()}"
    ensure_database(pg_server_url, name)
    url = with_database(pg_server_url, name)
    with connect(url, owner=True) as conn:
        migrate.upgrade(conn)
    files = {"district_cards": ("cards.xml", CARDS_XML.encode(), tutorial_mapping(), "district_commission"),
             "school_register": ("pupils.csv", SCHOOL_CSV, SCHOOL_MAPPING, "school"),
             "charity_cases": ("clients.jsonl", CHARITY_JSONL.encode(), CHARITY_MAPPING, "charity")}
    sources: dict[str, Any] = {}
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_HOME": str(home / "hub")}
    for code, (file, data, mapping, agency) in files.items():
        (home / code).mkdir()
        (home / code / file).write_bytes(data)
        (home / f"{code}.yaml").write_text(mapping, "utf-8")
        sources[code] = {"agency": agency, "agency_name": f"агентство {agency}", "name": code,
                         "connector": "file_drop", "connection_id": f"{code}_drop",
                         "mapping": str(home / f"{code}.yaml"), "quarantine_threshold": 1.0,
                         "options": {"patterns": [f"*{Path(file).suffix}"]}}
        env[f"AIRFLOW_CONN_{code.upper()}_DROP"] = json.dumps({"conn_type": "fs",
                                                              "extra": {"path": str(home / code)}})
    sources["school_register"]["trust_rank"] = 1
    (home / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), "utf-8")
    env["HUB_SOURCES"] = str(home / "sources.yaml")

    def hub(*args: str) -> Any:
        done = subprocess.run([sys.executable, "-m", "hub", *args, "--json"], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    checks = {code: subprocess.run([sys.executable, "-m", "hub", "mapping", "check",
                                    str(home / f"{code}.yaml")],
                                   capture_output=True, text=True, env=env, cwd=ROOT, check=False)
              for code in files}
    pulls = {code: hub("pull", code) for code in files}
    reconciled = hub("reconcile")
    yield {"url": url, "pulls": pulls, "reconcile": reconciled, "checks": checks, "hub": hub}
    drop_database(pg_server_url, name)


def test_every_mapping_checks(onboarded: dict[str, Any]) -> None:
    for code, done in onboarded["checks"].items():
        assert done.returncode == 0, (code, done.stdout, done.stderr)


def test_each_format_stages_its_people(onboarded: dict[str, Any]) -> None:
    staged = dict(query(onboarded["url"], "SELECT source_code, count(*) FROM staged_record "
                        "WHERE record_kind = 'person' GROUP BY 1"))
    assert staged == {"district_cards": 2, "school_register": 2, "charity_cases": 2}


def test_bad_values_cost_the_value_not_the_person(onboarded: dict[str, Any]) -> None:
    warnings = dict(query(onboarded["url"], "SELECT source_record_id, warnings::text FROM staged_record "
                          "WHERE warnings <> '[]'::jsonb AND record_kind = 'person'"))
    assert "birth_date" in warnings["К-0002"]  # 31.02.1990
    assert "sex" in warnings["У-18"]
    assert "snils" in warnings["У-18"]
    assert "Петрова" not in warnings["У-18"]


def test_lineage_shows_what_the_mapping_dropped(onboarded: dict[str, Any]) -> None:
    forward = onboarded["hub"]("lineage", "source", "school_register", "У-18")
    [person] = [v for v in forward["staged_versions"] if v["kind"] == "person"]
    assert any("sex" in w for w in person["warnings"]), person
    [[registry_id]] = query(onboarded["url"], "SELECT person_id FROM entity_link WHERE source_record_id = "
                            "'У-18' AND record_kind = 'person' AND valid_to IS NULL")
    back = onboarded["hub"]("lineage", "person", registry_id)
    traced = [t["source_record"]["warnings"] for t in back["values"]
              if t["source_record"]["source_record_id"] == "У-18"]
    assert traced, back["values"]
    assert all(any("snils" in w for w in ws) for ws in traced)
    assert not any("Петрова" in w for ws in traced for w in ws)  # shapes, never the value


def test_only_the_broken_line_is_quarantined(onboarded: dict[str, Any]) -> None:
    rows = query(onboarded["url"], "SELECT source_code, reason_code FROM quarantine ORDER BY 1")
    assert rows == [("charity_cases", "parse_error")]


def test_the_cyrillic_names_and_the_fio_column_are_read(onboarded: dict[str, Any]) -> None:
    names = {(r[0], r[1], r[2]) for r in query(
        onboarded["url"], "SELECT canonical->>'family_name', canonical->>'given_name', "
        "canonical->>'patronymic' FROM staged_record WHERE record_kind = 'person' "
        "AND source_code IN ('district_cards', 'school_register')")}
    assert ("Смирнова", "Ольга", "Ивановна") in names
    assert ("Смирнов", "Артём", "Олегович") in names


def test_reconcile_joins_the_same_people_across_the_new_agencies(onboarded: dict[str, Any]) -> None:
    persons = query(onboarded["url"], """
        SELECT person_id, array_agg(source_code || ':' || source_record_id ORDER BY source_code)
        FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL GROUP BY person_id""")
    groups = sorted(sorted(members) for _, members in persons)
    assert ["charity_cases:c1", "district_cards:К-0001"] in groups
    assert ["charity_cases:c2", "school_register:У-17"] in groups
    assert len(groups) == 4  # and Орлова, Петрова on their own


def test_the_new_agencies_are_registry_sources(onboarded: dict[str, Any]) -> None:
    agencies = dict(query(onboarded["url"], "SELECT code, agency FROM source_system"))
    assert agencies == {"district_cards": "district_commission", "school_register": "school",
                        "charity_cases": "charity"}

"""The mapping language's scoping constructs: ``within`` (a base path), named ``blocks`` and ``ref`` ids.

A household file carries a head of household and members, each with the same person layout at two depths
and two addresses of the same shape: one block for the person, one for the address, ids referred to by name.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mapper import Mapping, load_mapping
from mapper.errors import MappingSpecError
from mapper.readers import SourceRecord, read_json, read_xml

XML_MAPPING = """\
mapping: households
version: 1.0.0
source: households
format: xml
namespaces: {h: "urn:households"}
blocks:
  address:
    kind: residence
    locality: {path: "h:city"}
    street: {path: "h:street"}
    house: {path: "h:house"}
  person:
    family_name: {path: "h:name/h:family"}
    given_name: {path: "h:name/h:given"}
    birth_date: {path: "h:born", date: [iso]}
    addresses:
      - {use: address, within: "h:home"}
      - {use: address, within: "h:registered", kind: registration}
records:
  - name: household
    select: h:household
    emit:
      - kind: family
        name: family
        id: {path: "@id"}
        fields:
          address: {use: address, within: "h:head/h:home"}
      - kind: person
        name: head
        id: {template: "{@id}/head"}
        fields: {use: person, within: "h:head"}
      - kind: person
        name: member
        foreach: "h:members/h:member"
        id: {template: "{^@id}/member/{#}"}
        fields: {use: person}
      - kind: membership
        id: {ref: head}
        fields: {family_ref: {ref: family}, person_ref: {ref: head}, role: mother}
      - kind: membership
        foreach: "h:members/h:member"
        id: {ref: member}
        fields: {family_ref: {ref: family}, person_ref: {ref: member}, role: child}
"""

XML = """<h:root xmlns:h="urn:households"><h:household id="H1">
  <h:head><h:name><h:family>Иванова</h:family><h:given>Анна</h:given></h:name><h:born>1990-02-03</h:born>
    <h:home><h:city>Тверь</h:city><h:street>Лесная</h:street><h:house>3</h:house></h:home>
    <h:registered><h:city>Торжок</h:city><h:street>Речная</h:street></h:registered></h:head>
  <h:members>
    <h:member><h:name><h:family>Иванов</h:family><h:given>Олег</h:given></h:name><h:born>2015-05-06</h:born>
      <h:home><h:city>Тверь</h:city></h:home></h:member>
    <h:member><h:name><h:family>Иванова</h:family><h:given>Ева</h:given></h:name><h:born>2017-07-08</h:born>
    </h:member>
  </h:members></h:household></h:root>"""


def _load(tmp_path: Path, text: str, name: str = "households.yaml") -> Mapping:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return load_mapping(path)


def _records(items: list[Any]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        assert isinstance(item, SourceRecord), item
        assert item.result.error is None, item.result.error
        out += [{"kind": r.kind, "id": r.source_record_id, "pointer": r.raw_pointer,
                 **r.record.model_dump(mode="json", exclude={"provenance", "record_kind"}, exclude_none=True)}
                for r in item.result.records]
    return out


@pytest.fixture
def mapped(tmp_path: Path) -> list[dict[str, Any]]:
    return _records(list(read_xml(io.BytesIO(XML.encode()), _load(tmp_path, XML_MAPPING))))


def test_a_block_used_at_two_depths_reads_each_person_where_it_stands(mapped: list[dict[str, Any]]) -> None:
    people = {r["id"]: r for r in mapped if r["kind"] == "person"}
    assert sorted(people) == ["H1/head", "H1/member/1", "H1/member/2"]
    assert (people["H1/head"]["given_name"], people["H1/head"]["birth_date"]) == ("Анна", "1990-02-03")
    assert [p["given_name"] for k, p in sorted(people.items()) if "member" in k] == ["Олег", "Ева"]


def test_within_scopes_a_block_and_overrides_beside_use_win(mapped: list[dict[str, Any]]) -> None:
    head = next(r for r in mapped if r["id"] == "H1/head")
    assert [(a["kind"], a["locality"], a.get("house")) for a in head["addresses"]] == [
        ("residence", "Тверь", "3"), ("registration", "Торжок", None)]
    family = next(r for r in mapped if r["kind"] == "family")
    assert (family["address"]["locality"], family["address"]["street"]) == ("Тверь", "Лесная")


def test_a_block_whose_base_node_is_absent_is_left_out(mapped: list[dict[str, Any]]) -> None:
    eva = next(r for r in mapped if r["id"] == "H1/member/2")
    assert not eva.get("addresses")  # neither h:home nor h:registered: no empty address objects


def test_refs_give_the_ids_the_named_emits_made(mapped: list[dict[str, Any]]) -> None:
    memberships = [(r["id"], r["family_ref"], r["person_ref"], r["role"]) for r in mapped
                   if r["kind"] == "membership"]
    assert memberships == [("H1/head", "H1", "H1/head", "mother"),
                           ("H1/member/1", "H1", "H1/member/1", "child"),
                           ("H1/member/2", "H1", "H1/member/2", "child")]


def test_an_emit_read_within_an_element_points_at_it(mapped: list[dict[str, Any]]) -> None:
    head = next(r for r in mapped if r["id"] == "H1/head")
    assert head["pointer"].endswith("/h:household[1]/h:head[1]")


JSON_MAPPING = """\
mapping: people
version: 1.0.0
source: people
format: json
records:
  - name: person
    select: "{select}"
    emit:
      - kind: person
        name: person
        id: {{path: id}}
"""


def test_within_in_json_reads_below_its_object(tmp_path: Path) -> None:
    text = JSON_MAPPING.format(select="data[*]") + """\
        fields:
          within: person.name
          family_name: {path: last}
          given_name: {path: first}
          birth_date: {path: "^born", date: [iso]}
"""
    name = {"last": "Смит", "first": "Анна"}
    page = {"data": [{"id": "7", "born": "2001-01-02", "person": {"name": name}}]}
    records = _records(list(read_json(json.dumps(page).encode(), _load(tmp_path, text, "p.yaml"))))
    assert [(r["family_name"], r["given_name"], r["birth_date"]) for r in records] == [
        ("Смит", "Анна", "2001-01-02")]
    assert records[0]["pointer"] == "/data/0"  # a JSON pointer stays a JSON pointer


def test_a_within_that_finds_several_nodes_drops_the_block_with_a_warning(tmp_path: Path) -> None:
    xml = XML.replace("<h:home><h:city>Тверь</h:city></h:home>",
                      "<h:home><h:city>Тверь</h:city></h:home><h:home><h:city>Клин</h:city></h:home>")
    items = list(read_xml(io.BytesIO(xml.encode()), _load(tmp_path, XML_MAPPING)))
    oleg = next(r for i in items for r in i.result.records if r.source_record_id == "H1/member/1")
    assert oleg.record.model_dump().get("addresses") in (None, [])
    assert any("within gives 2 nodes" in w for w in oleg.warnings), oleg.warnings
    assert not any("Клин" in w or "Тверь" in w for w in oleg.warnings)


@pytest.mark.parametrize(("change", "message"), [
    (("{use: person, within: \"h:head\"}", "{use: persn}"), "no block 'persn'; blocks: address, person"),
    (("id: {ref: head}", "id: {ref: boss}"), "no emit named 'boss'"),
    (("person_ref: {ref: member}", "person_ref: {ref: head}"), None),  # a record-level emit: fine anywhere
    (("fields: {family_ref: {ref: family}, person_ref: {ref: head}",
      "fields: {family_ref: {ref: family}, person_ref: {ref: member}"), "only an emit with the same foreach"),
    (("  person:\n", "  person:\n    use: person\n"), "block 'person' uses itself (person → person)"),
    (("within: \"h:head\"}", "within: \"h:head[\"}"), "not a valid XPath expression"),
    (("kind: registration}", "kind: registration, postcode: {path: \"h:zip\"}}"), "has no field 'postcode'"),
])
def test_mistakes_in_blocks_and_refs_are_named_with_their_line(
    tmp_path: Path, change: tuple[str, str], message: str | None
) -> None:
    old, new = change
    assert old in XML_MAPPING
    text = XML_MAPPING.replace(old, new, 1)
    if message is None:
        _load(tmp_path, text)
        return
    with pytest.raises(MappingSpecError) as err:
        _load(tmp_path, text)
    assert message in str(err.value), str(err.value)
    assert "households.yaml:" in str(err.value)


def test_an_unused_block_is_reported(tmp_path: Path) -> None:
    text = XML_MAPPING.replace("blocks:\n", "blocks:\n  spare: {given_name: {path: \"h:x\"}}\n")
    with pytest.raises(MappingSpecError, match="block 'spare' is never used"):
        _load(tmp_path, text)


def test_a_json_select_is_a_streamable_jmespath_projection(tmp_path: Path) -> None:
    text = JSON_MAPPING.format(select="data[?age > `3`]") + "        fields: {family_name: {path: last}}\n"
    with pytest.raises(MappingSpecError, match="not a streamable JMESPath projection"):
        _load(tmp_path, text, "p.yaml")

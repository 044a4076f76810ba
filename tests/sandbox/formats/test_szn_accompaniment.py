"""The social-protection accompaniment export: XSD validity, code tables, streaming, safe parsing.

Every person here is made up; SNILS values are arbitrary digit strings.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import pytest
from lxml import etree  # type: ignore[import-untyped]

from sandbox.formats import szn_accompaniment as szn

TZ = dt.timezone(dt.timedelta(hours=3))
WHEN = dt.datetime(2026, 11, 1, 1, 0, tzinfo=TZ)
XSD = "{http://www.w3.org/2001/XMLSchema}"

MOTHER = szn.SznMember(
    id="SZN-P-00000000000a", relation_code="01", last_name="Смирнова", first_name="Алёна",
    middle_name="Игоревна", birth_date=dt.date(1990, 3, 4), gender="Ж", snils="11223344595",
    document=szn.SznDocument(kind="passport", series="4910", number="123456"),
    member_since=dt.date(2012, 6, 1),
)
DAUGHTER = szn.SznMember(
    id="SZN-P-00000000000b", relation_code="04", last_name="Смирнова", first_name="Ева",
    birth_date=dt.date(2015, 9, 30), gender="Ж",
    document=szn.SznDocument(kind="birthCertificate", series="IV-ДН", number="654321"),
    member_since=dt.date(2015, 9, 30), member_until=dt.date(2026, 10, 1),
)
CASE = szn.SznCase(
    id="SZN-C-00000000000c", level_code="2", stage_code="Э5", curator_name="Петрова А. В.",
    curator_organisation="ОАУСО «Новгородский КЦСО»", opened=dt.date(2025, 1, 10),
    contract_date=dt.date(2025, 2, 1), closed=dt.date(2026, 3, 1), closure_reason_code="01",
    programme=(szn.SznPlannedService(kind_code="04", provider="СЗН", planned_from=dt.date(2025, 2, 10),
                                     planned_to=dt.date(2025, 8, 9)),
               szn.SznPlannedService(kind_code="03", provider="НКО", planned_from=dt.date(2025, 2, 10))),
)
FAMILY = szn.SznFamily(
    id="SZN-F-00000000000f", updated=WHEN,
    address=szn.SznAddress(postal_code="174401", region="Новгородская область", district="Боровичский район",
                           locality="Волок", street="ул. Мира", house="7", apartment="12"),
    categories=(szn.SznCategory(code="К03", since=dt.date(2020, 1, 1)),
                szn.SznCategory(code="К01", since=dt.date(2021, 5, 1), until=dt.date(2022, 5, 1))),
    members=(MOTHER, DAUGHTER), case=CASE,
    services=(szn.SznService(id="SZN-S-000000000001", kind_code="05", status="оказана",
                             started=dt.date(2025, 3, 1), ended=dt.date(2025, 3, 2), organisation="ОАУСО «Х»",
                             member_ref=MOTHER.id),
              szn.SznService(id="SZN-S-000000000002", kind_code="07", status="оказывается",
                             started=dt.date(2026, 10, 30), organisation="ОАУСО «Х»")),
)
CLOSED = szn.SznFamily(id="SZN-F-0000000000ff", updated=WHEN, status="closed")


def test_full_and_closed_families_validate() -> None:
    data = szn.render_export([FAMILY, CLOSED], WHEN)
    assert szn.validate(data) == []
    root = etree.fromstring(data)
    assert root.tag == f"{{{szn.SZN_NS}}}export"
    assert root.get("exportDate") == "2026-11-01T01:00:00+03:00"
    closed = root[1]
    assert closed.get("status") == "closed"
    assert len(closed) == 0
    level = root.find(".//{*}level")
    assert (level.get("code"), level.get("name")) == ("2", "кризисный")
    assert root.find(".//{*}closed").get("reason") == "положительная динамика"


def test_empty_export_validates() -> None:
    assert szn.validate(szn.render_export([], WHEN)) == []


def test_same_input_same_bytes() -> None:
    assert szn.render_export([FAMILY], WHEN) == szn.render_export([FAMILY], WHEN)


def _enumerations(type_name: str) -> list[str]:
    schema = etree.parse(str(szn.XSD_PATH))
    found = schema.xpath(f"//xs:simpleType[@name='{type_name}']//xs:enumeration/@value",
                         namespaces={"xs": XSD[1:-1]})
    return [str(v) for v in found]


@pytest.mark.parametrize(
    ("type_name", "table"),
    [("RelationCode", szn.RELATIONS), ("CategoryCode", szn.CATEGORIES), ("LevelCode", szn.LEVELS),
     ("StageCode", szn.STAGES), ("ClosureReasonCode", szn.CLOSURE_REASONS),
     ("ServiceKindCode", szn.SERVICE_KINDS), ("ProviderCode", szn.PROVIDERS)],
)
def test_xsd_code_tables_match_python(type_name: str, table: dict[str, str]) -> None:
    assert _enumerations(type_name) == list(table)


def test_xsd_labels_match_python() -> None:
    schema = etree.parse(str(szn.XSD_PATH))
    docs = schema.xpath("//xs:simpleType[@name='RelationCode']//xs:enumeration",
                        namespaces={"xs": XSD[1:-1]})
    assert {e.get("value"): e.findtext(f"{XSD}annotation/{XSD}documentation") for e in docs} == szn.RELATIONS


def test_dangling_member_ref_is_invalid() -> None:
    service = replace(FAMILY.services[0], member_ref="SZN-P-999999999999")
    data = szn.render_export([replace(FAMILY, services=(service,))], WHEN)
    assert any("keyref" in e for e in szn.validate(data))


def test_duplicate_member_id_is_invalid() -> None:
    data = szn.render_export([replace(FAMILY, members=(MOTHER, MOTHER))], WHEN)
    assert szn.validate(data)


def test_bad_values_are_caught_by_the_xsd() -> None:
    bad = replace(FAMILY, members=(replace(MOTHER, snils="112-233-445 95"),))
    assert any("snils" in e for e in szn.validate(szn.render_export([bad], WHEN)))


@pytest.mark.parametrize(
    "family",
    [replace(FAMILY, categories=(szn.SznCategory(code="K01", since=dt.date(2020, 1, 1)),)),  # Latin K
     replace(FAMILY, members=(replace(MOTHER, relation_code="09"),)),
     replace(FAMILY, case=replace(CASE, stage_code="Э9")),
     replace(FAMILY, services=(replace(FAMILY.services[0], status="done"),))],
)
def test_unknown_codes_are_refused(family: szn.SznFamily) -> None:
    with pytest.raises(ValueError, match=r"code|status"):
        szn.render_export([family], WHEN)


def test_active_family_needs_members() -> None:
    with pytest.raises(ValueError, match="member"):
        szn.render_export([replace(FAMILY, members=())], WHEN)


def test_streaming_writer_leaves_a_broken_file_on_error() -> None:
    buffer = io.BytesIO()
    def write_then_fail() -> None:
        with szn.SznExportWriter(buffer, WHEN) as writer:
            writer.write_family(FAMILY)
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert szn.validate(buffer.getvalue())[0].startswith("not well-formed")


def test_writer_needs_an_aware_export_date() -> None:
    with pytest.raises(ValueError, match="time zone"):
        szn.SznExportWriter(io.BytesIO(), dt.datetime(2026, 11, 1))


def test_one_family_per_line() -> None:
    lines = szn.render_export([FAMILY, CLOSED], WHEN).splitlines()
    assert [line.startswith(b"<family ") for line in lines] == [False, False, True, True, False]


def test_validate_refuses_doctype_and_entities() -> None:
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<export xmlns="urn://region-szn/accompaniment/1.0">&e;</export>')
    errors = szn.validate(evil)
    assert errors
    assert "root:" not in " ".join(errors)

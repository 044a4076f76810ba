"""EGISSO 10.06.S writer: XSD validity for both versions and encodings, streaming, ordering, vendored XSDs.

Every person here is made up; SNILS values are arbitrary digit strings.
"""

from __future__ import annotations

import io
import re
import tracemalloc
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest
from lxml import etree  # type: ignore[import-untyped]

from sandbox.formats.egisso import (
    FACT_NS,
    MSG_NS,
    PACKAGE_NS,
    PERSON_NS,
    SMEV_NS,
    TERMINATION_ORDER,
    EgissoAddress,
    EgissoFact,
    EgissoFileWriter,
    EgissoIdentityDoc,
    EgissoOrderError,
    EgissoPerson,
    EgissoTermination,
    Encoding,
    Version,
    load_schema,
    render_package,
    validate,
)
from sandbox.formats.xsd_check import safe_parser
from schemas.xsd import XSD_DIR, egisso_xsd

ROOT = Path(__file__).resolve().parents[3]
VENDORED = XSD_DIR / "egisso"
SHARED = ROOT.parent / "shared" / "formats" / "egisso"
VERSIONS: tuple[Version, ...] = get_args(Version)
ENCODINGS: tuple[Encoding, ...] = get_args(Encoding)
PACKAGE_ID = "0b7f1d7e-2c1a-4c55-9a43-5d1e8f0a0001"
XSD = "{http://www.w3.org/2001/XMLSchema}"


def _uuid(n: int) -> str:
    return f"6f1c2a9e-0000-4000-8000-{n:012d}"


PASSPORT = EgissoIdentityDoc(kind="PassportRF", series="3612", number="654321", issue_date=date(2012, 5, 14),
                             issuer="Отделом УФМС России по Самарской обл. в Кировском р-не г. Самары")
ADDRESS = EgissoAddress(kind="PermanentResidence", post_index="443011", region="Самарская область",
                        district="Кировский район", city="Самара", street="Ново-Садовая", house="12",
                        housing="б", apartment="47")
MOTHER = EgissoPerson(snils="11122233344", family_name="Ёлкина", first_name="Дарья", patronymic="Олеговна",
                      maiden_family_name="Синицына", gender="Female", birth_date=date(1988, 11, 3),
                      birth_place="г. Самара", phone="9270001122", citizenship="643", identity_doc=PASSPORT,
                      address=ADDRESS)
FATHER = EgissoPerson(snils="11122233355", family_name="Петров-Водкин", first_name="Зиновий", gender="Male",
                      birth_date=date(1985, 1, 30), address=EgissoAddress(city="Тольятти"))


def _child(n: int, series: str = "IV-АГ") -> EgissoPerson:
    cert = EgissoIdentityDoc(kind="BirthCertificate", series=series, number=f"{500000 + n}",
                             issue_date=date(2016, 2, 10 + n), issuer="Отдел ЗАГС Кировского р-на г. Самары")
    return EgissoPerson(snils=f"2223334440{n}", family_name="Ёлкина", first_name="Алиса", gender="Female",
                        birth_date=date(2016, 1, 20 + n), identity_doc=cert)


OTHER_DOC_CHILD = replace(_child(9), first_name="Тимофей", gender="Male", identity_doc=EgissoIdentityDoc(
    kind="OtherDocument", series=None, number="ABC123", issue_date=date(2019, 7, 1), issuer="Консульство"))


def _fact(n: int, **changes: object) -> EgissoFact:
    fact = EgissoFact(uuid=_uuid(n), osz_code="0040.000001", receiver=MOTHER,
                      reason_persons=(_child(1), _child(2)), lmsz_id="c3cbbd4c-3cca-486e-912c-9971d100ef3e",
                      category_id="823a390c-13ef-4484-bbf6-6a5844891d11", decision_date=date(2024, 4, 30),
                      date_start=date(2024, 5, 1), date_finish=date(2025, 4, 30), amount=Decimal("14506.00"),
                      uses_needs_criteria=True, needs_criteria_codes=("001",))
    return replace(fact, **changes)  # type: ignore[arg-type]


def _facts() -> list[EgissoFact]:
    return [
        _fact(1),
        _fact(2, receiver=FATHER, reason_persons=(OTHER_DOC_CHILD,), date_finish=None,
              amount=Decimal("812.5"), uses_needs_criteria=False, needs_criteria_codes=()),
        _fact(3, reason_persons=(), lmsz_provider_code="0040.000002", amount=Decimal(0)),
    ]


def _terminations(version: Version) -> list[EgissoTermination]:
    base = EgissoTermination(uuid=_uuid(101), assignment_fact_uuid=_uuid(1), date_finish=date(2024, 12, 31),
                             kind="terminationBasedOnIneligibility", provider_code="0040.000001")
    terms = [base, replace(base, uuid=_uuid(102), kind="terminationBasedOnRecalculation", provider_code=None)]
    if version == "1.0.6":  # deliberately not in XSD order: render_package sorts them
        terms += [
            replace(base, uuid=_uuid(103), kind="terminationBasedOnEndOfValidityPeriod",
                    amount=Decimal("1000.00"), quantity=Decimal("2")),
            replace(base, uuid=_uuid(104), kind="terminationBasedOnEndOfRight", amount=Decimal("14506.00")),
        ]
    return terms


def _render(version: Version = "1.0.6", encoding: Encoding = "utf-8", **options: object) -> bytes:
    return render_package(PACKAGE_ID, _facts(), _terminations(version), version=version, encoding=encoding,
                          **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("version", VERSIONS)
def test_package_validates(version: Version, encoding: Encoding) -> None:
    xml = _render(version, encoding)
    assert validate(xml, version) == []
    assert xml.startswith(f"<?xml version='1.0' encoding='{encoding}'?>".encode("ascii"))
    root = etree.fromstring(xml)
    assert root.tag == f"{{{MSG_NS[version]}}}data"
    assert len(root.findall(f".//{{{PACKAGE_NS[version]}}}fact")) == 3


@pytest.mark.parametrize("version", VERSIONS)
def test_windows_1251_bytes_round_trip_cyrillic(version: Version) -> None:
    xml = _render(version, "windows-1251")
    assert "Ёлкина".encode("cp1251") in xml
    assert "Ёлкина".encode() not in xml
    xml.decode("cp1251")  # really windows-1251 throughout
    names = [e.text for e in etree.fromstring(xml).iter(f"{{{SMEV_NS}}}FamilyName")]
    assert names[:2] == ["Ёлкина", "Ёлкина"]
    assert "Петров-Водкин" in names
    assert etree.fromstring(xml).findtext(f".//{{{PERSON_NS}}}MaidenFamilyName") == "Синицына"


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("version", VERSIONS)
def test_streaming_writer_gives_the_same_bytes(version: Version, encoding: Encoding) -> None:
    out = io.BytesIO()
    with EgissoFileWriter(out, PACKAGE_ID, version=version, encoding=encoding) as writer:
        for fact in _facts():
            writer.write_fact(fact)
        for kind in TERMINATION_ORDER:
            for term in _terminations(version):
                if term.kind == kind:
                    writer.write_termination(term)
    assert out.getvalue() == _render(version, encoding)


def test_dates_carry_the_timezone() -> None:
    root = etree.fromstring(_render())
    date_tags = {"BirthDate", "IssueDate", "decisionDate", "dateStart", "dateFinish"}
    dates = [e.text for e in root.iter() if etree.QName(e).localname in date_tags]
    assert len(dates) > 10
    assert all(text.endswith("+04:00") and len(text) == 16 for text in dates)
    assert root.findtext(f".//{{{FACT_NS}}}decisionDate") == "2024-04-30+04:00"


@pytest.mark.parametrize(("tz", "suffix"), [("Z", "Z"), ("", ""), ("-03:30", "-03:30")])
def test_other_timezones_stay_valid(tz: str, suffix: str) -> None:
    xml = _render(tz=tz)
    assert validate(xml, "1.0.6") == []
    assert etree.fromstring(xml).findtext(f".//{{{FACT_NS}}}dateStart") == f"2024-05-01{suffix}"


def test_amounts_use_the_agency_comma_and_terminations_a_dot() -> None:
    root = etree.fromstring(_render())
    assert [e.text for e in root.iter(f"{{{FACT_NS}}}amount")] == ["14506,00", "812,50", "0,00"]
    # a termination amount is xsd:decimal, where a comma would be invalid
    assert root.findtext(f".//{{{PACKAGE_NS['1.0.6']}}}terminationBasedOnEndOfRight/"
                         f"{{{PACKAGE_NS['1.0.6']}}}amount") == "14506.00"
    dotted = _render(decimal_comma=False)
    assert validate(dotted, "1.0.6") == []
    assert b">812.50<" in dotted


def test_fact_children_follow_the_xsd_sequence() -> None:
    fact = etree.fromstring(_render()).find(f".//{{{PACKAGE_NS['1.0.6']}}}fact")
    assert [etree.QName(e).localname for e in fact] == [
        "oszCode", "mszReceiver", "reasonPersons", "lmszId", "categoryId", "decisionDate", "dateStart",
        "dateFinish", "needsCriteria", "assignmentInfo", "uuid"]
    assert etree.QName(fact[-1]).namespace == PACKAGE_NS["1.0.6"]
    assert len(fact.find(f"{{{FACT_NS}}}reasonPersons")) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_ten_digit_snils_is_an_xsd_error(version: Version) -> None:
    bad = _fact(1, receiver=replace(MOTHER, snils="1112223334"))
    errors = validate(render_package(PACKAGE_ID, [bad], version=version), version)
    assert errors
    assert any("SNILS" in e for e in errors)


@pytest.mark.parametrize("series", ["ІV-АГ", "IV-AG", "IV-ЁА", "IVАГ"])  # Cyrillic І; Latin AG; Ё; no hyphen
def test_birth_certificate_series_pattern(series: str) -> None:
    bad = _fact(1, reason_persons=(_child(1, series),))
    assert any("Series" in e for e in validate(render_package(PACKAGE_ID, [bad]), "1.0.6"))


def test_latin_name_is_an_xsd_error() -> None:
    bad = _fact(1, receiver=replace(MOTHER, first_name="Daria"))
    assert any("FirstName" in e for e in validate(render_package(PACKAGE_ID, [bad]), "1.0.6"))


def test_empty_package_validates() -> None:
    assert validate(render_package(PACKAGE_ID, []), "1.0.6") == []


def test_writer_refuses_a_fact_after_a_termination() -> None:
    with EgissoFileWriter(io.BytesIO(), PACKAGE_ID) as writer:
        writer.write_termination(_terminations("1.0.6")[1])
        with pytest.raises(EgissoOrderError, match="fact cannot follow terminationBasedOnRecalculation"):
            writer.write_fact(_fact(1))


def test_writer_refuses_termination_kinds_out_of_order() -> None:
    first, second = _terminations("1.0.6")[:2]  # Ineligibility, then Recalculation: wrong way round
    with EgissoFileWriter(io.BytesIO(), PACKAGE_ID) as writer:
        writer.write_termination(first)
        with pytest.raises(EgissoOrderError, match="terminationBasedOnRecalculation cannot follow"):
            writer.write_termination(second)


def _write_out_of_order(out: io.BytesIO) -> None:
    with EgissoFileWriter(out, PACKAGE_ID) as writer:
        writer.write_termination(_terminations("1.0.6")[0])
        writer.write_fact(_fact(1))


def test_a_failed_block_leaves_a_file_that_is_not_well_formed() -> None:
    out = io.BytesIO()
    with pytest.raises(EgissoOrderError):
        _write_out_of_order(out)
    assert b"Ineligibility" in out.getvalue()
    assert validate(out.getvalue(), "1.0.6")[0].startswith("not well-formed")


def test_writer_is_only_usable_inside_with() -> None:
    writer = EgissoFileWriter(io.BytesIO(), PACKAGE_ID)
    with pytest.raises(RuntimeError, match="with"):
        writer.write_fact(_fact(1))


def test_version_105_lacks_the_newer_terminations() -> None:
    end_of_right = _terminations("1.0.6")[3]
    with pytest.raises(ValueError, match=re.escape("does not exist in EGISSO 10.06.S 1.0.5")):
        render_package(PACKAGE_ID, [], [end_of_right], version="1.0.5")
    with_amount = replace(_terminations("1.0.5")[0], amount=Decimal(1))
    with pytest.raises(ValueError, match=re.escape("only in EGISSO 10.06.S 1.0.6")):
        render_package(PACKAGE_ID, [], [with_amount], version="1.0.5")


@pytest.mark.parametrize("amount", [Decimal("1.005"), Decimal(-1), Decimal("NaN")])
def test_money_is_never_rounded(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="non-negative with at most 2 decimals"):
        render_package(PACKAGE_ID, [_fact(1, amount=amount)])


@pytest.mark.parametrize("options", [{"version": "1.0.7"}, {"encoding": "koi8-r"}, {"tz": "+4"}])
def test_bad_options_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must be"):
        render_package(PACKAGE_ID, [], **options)  # type: ignore[arg-type]


def test_writer_streams_with_flat_memory() -> None:
    class Sink:
        size = 0

        def write(self, data: bytes, /) -> int:
            self.size += len(data)
            return len(data)

    sink, fact = Sink(), _fact(1)
    with EgissoFileWriter(sink, PACKAGE_ID) as writer:
        tracemalloc.start()
        for _ in range(1000):
            writer.write_fact(fact)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert sink.size > 1000 * 2000  # bytes reach the file while the document is still open
    assert peak < 1_000_000


def test_validate_reports_malformed_xml_and_never_expands_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    xml = render_package(PACKAGE_ID, []).decode().replace(
        "?>\n", f'?>\n<!DOCTYPE ns:data [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n', 1).replace(
        PACKAGE_ID, "&x;").encode()
    assert validate(xml, "1.0.6") == ["a DOCTYPE is not allowed in a 10.06.S package"]
    assert b"TOP-SECRET-MARKER" not in etree.tostring(etree.fromstring(xml, safe_parser()))
    assert validate(b"<unclosed>", "1.0.6")[0].startswith("not well-formed")


@pytest.mark.parametrize("version", VERSIONS)
def test_namespaces_are_those_of_the_xsds(version: Version) -> None:
    root_xsd = etree.parse(str(egisso_xsd(version))).getroot()
    assert root_xsd.get("targetNamespace") == MSG_NS[version]
    package_import = root_xsd.find(f"{XSD}import")
    assert package_import.get("namespace") == PACKAGE_NS[version]
    raf = etree.parse(str(egisso_xsd(version).parent / package_import.get("schemaLocation"))).getroot()
    assert {i.get("namespace") for i in raf.iter(f"{XSD}import")} >= {FACT_NS}


@pytest.mark.parametrize("version", VERSIONS)
def test_official_samples_validate(version: Version) -> None:
    sample = VENDORED / "samples" / f"10.06.S-{version}.data.xml"
    schema = load_schema(version)
    assert schema.validate(etree.parse(str(sample))), schema.error_log
    assert load_schema(version) is schema  # cached


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (the original EGISSO files) is absent")
def test_vendored_files_are_byte_identical_to_the_originals() -> None:
    def files(base: Path) -> dict[str, bytes]:
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}

    vendored, original = files(VENDORED), files(SHARED)
    assert sorted(vendored) == sorted(original)
    assert [name for name in vendored if vendored[name] != original[name]] == []

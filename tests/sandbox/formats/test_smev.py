"""The education agency's SMEV-style exchange: envelopes round-trip, payloads validate, bad bodies fail."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]

from sandbox.formats import smev
from sandbox.formats.smev import (
    EDU_NS,
    SMEV_NS,
    SOAP_NS,
    BirthCertificate,
    ChangeKind,
    FaultCode,
    Gender,
    LegalRepresentative,
    MessageKind,
    PmpkConclusion,
    RegistryCrosswalk,
    RegistryLink,
    RelationCode,
    School,
    SmevFormatError,
    Student,
    StudentsBatch,
)

MSK = dt.timezone(dt.timedelta(hours=3))
NOW = dt.datetime(2025, 3, 14, 2, 30, tzinfo=MSK)
ID_1 = "6f1c2a8e-0b7d-11f0-9cd2-0242ac120002"
ID_2 = "7a9e5c14-0b7d-11f0-9cd2-0242ac120002"
SCHOOL = School(code="0412", name="МБОУ «Средняя школа № 7» г. Северогорска")

MOTHER = LegalRepresentative(
    "R-100", "Ласточкина", "Вера", RelationCode.MOTHER, patronymic="Олеговна",
    birth_date=dt.date(1988, 6, 2), snils="112-233-445 95", phone="+7 (900) 111-22-33",
)
FATHER = LegalRepresentative("R-101", "Ласточкин", "Илья", RelationCode.FATHER, patronymic="Петрович")
GUARDIAN = LegalRepresentative("R-200", "Brightwater", "Olga", RelationCode.GUARDIAN, phone="89001112244")

BATCH = StudentsBatch(
    created_at=NOW,
    students=(
        Student("S-1", "Ласточкина", "Милана", dt.date(2014, 9, 3), Gender.FEMALE, SCHOOL, "5Б", NOW,
                patronymic="Ильинична", snils="11223344595",
                birth_certificate=BirthCertificate("IV-АГ", "123456"),
                adapted_programme="АООП НОО для обучающихся с ЗПР",
                pmpk=PmpkConclusion("ПМПК-17/2024", dt.date(2024, 5, 20), "статус ОВЗ подтвержден"),
                address="г. Северогорск, ул. Лесная, д. 4, кв. 12",
                representatives=(MOTHER, FATHER)),
        Student("S-2", "Ivanoff", "Timur", dt.date(2012, 1, 30), Gender.MALE, SCHOOL, "7А", NOW,
                representatives=(GUARDIAN,)),
        Student("S-3", "Ёлкин", "Артём", dt.date(2010, 11, 11), Gender.MALE, SCHOOL, "9В",
                dt.datetime(2025, 3, 13, 18, 0, tzinfo=dt.UTC), change=ChangeKind.DELETED),
    ),
)
CROSSWALK = RegistryCrosswalk(NOW, (
    RegistryLink("S-1", "P000000042", smev.AccompanimentStatus.ACTIVE),
    RegistryLink("S-2", "P000000043"),
))


def _batch_bytes() -> bytes:
    return bytes(etree.tostring(smev.render_students_batch(BATCH), encoding="UTF-8"))


# ---------------------------------------------------------------------------------------------- payload


def test_batch_with_several_students_validates_against_the_xsd() -> None:
    assert smev.validate_payload(smev.render_students_batch(BATCH)) == []


def test_batch_reads_back_to_the_same_dataclasses() -> None:
    assert smev.read_students_batch(smev.render_students_batch(BATCH)) == BATCH


def test_crosswalk_validates_and_reads_back() -> None:
    element = smev.render_registry_crosswalk(CROSSWALK)
    assert smev.validate_payload(element) == []
    assert smev.read_registry_crosswalk(element) == CROSSWALK


def test_missing_birth_date_fails_validation() -> None:
    element = smev.render_students_batch(BATCH)
    birth_date = element.find(f"{{{EDU_NS}}}Student/{{{EDU_NS}}}BirthDate")
    birth_date.getparent().remove(birth_date)
    errors = smev.validate_payload(element)
    assert len(errors) == 1
    assert errors[0].startswith("StudentsBatch/Student[1]/Gender: This element is not expected")
    assert "BirthDate" in errors[0]


def test_bad_gender_fails_validation_without_quoting_the_value() -> None:
    errors = smev.validate_payload(_batch_bytes().replace(b">Male<", b">Mannlich<", 1))
    assert len(errors) == 1
    assert errors[0].startswith("StudentsBatch/Student[2]/Gender: [facet 'enumeration']")
    assert "Mannlich" not in errors[0]


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (b"<Snils>11223344595<", b"<Snils>1122334459<", "Student[1]/Snils"),
        (b"<BirthDate>2012-01-30<", b"<BirthDate>30.01.2012<", "Student[2]/BirthDate"),
        (b"<Series>IV-", b"<Series>4-", "Student[1]/BirthCertificate/Series"),
        (b"<RelationCode>GUARDIAN<", b"<RelationCode>AUNT<", "Student[2]/LegalRepresentative/RelationCode"),
        (b'change="deleted"', b'change="removed"', "Student[3]/@change"),
        (b'"2025-03-13T18:00:00+00:00"', b'"2025-03-13T18:00:00"', "Student[3]/@changedAt"),
        (b"<StudentID>S-2<", b"<StudentID>S-1<", "Student[2]: Duplicate key-sequence"),
    ],
)
def test_other_invalid_values_are_located(old: bytes, new: bytes, where: str) -> None:
    data = _batch_bytes()
    assert old in data
    errors = smev.validate_payload(data.replace(old, new, 1))
    assert len(errors) == 1
    assert where in errors[0]


def test_naive_timestamps_are_refused() -> None:
    naive = dataclasses.replace(BATCH, created_at=dt.datetime(2025, 3, 14, 2, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        smev.render_students_batch(naive)


# ---------------------------------------------------------------------------------------------- envelopes


def _payload() -> etree._Element:
    return smev.render_students_batch(BATCH)


ENVELOPES: dict[str, tuple[Callable[[], bytes], dict[str, object]]] = {
    "get_response_request": (
        lambda: smev.get_response_request(NOW, node_id="hub-01", namespace_uri=EDU_NS),
        {"kind": MessageKind.GET_RESPONSE_REQUEST, "timestamp": NOW, "node_id": "hub-01",
         "namespace_uri": EDU_NS},
    ),
    "get_response_response": (
        lambda: smev.get_response_response(ID_1, _payload(), sent_at=NOW, original_message_id=ID_2),
        {"kind": MessageKind.GET_RESPONSE_RESPONSE, "message_id": ID_1, "original_message_id": ID_2,
         "timestamp": NOW},
    ),
    "get_response_response_empty": (
        lambda: smev.get_response_response(None, None),
        {"kind": MessageKind.GET_RESPONSE_RESPONSE, "message_id": None, "payload": None},
    ),
    "ack_request": (lambda: smev.ack_request(ID_1), {"kind": MessageKind.ACK_REQUEST, "message_id": ID_1,
                                                      "accepted": True}),
    "ack_request_rejected": (lambda: smev.ack_request(ID_1, accepted=False), {"accepted": False}),
    "ack_response": (smev.ack_response, {"kind": MessageKind.ACK_RESPONSE, "message_id": None}),
    "send_request_request": (
        lambda: smev.send_request_request(ID_2, smev.render_registry_crosswalk(CROSSWALK)),
        {"kind": MessageKind.SEND_REQUEST_REQUEST, "message_id": ID_2},
    ),
    "send_request_response": (
        lambda: smev.send_request_response(ID_2, NOW),
        {"kind": MessageKind.SEND_REQUEST_RESPONSE, "message_id": ID_2, "timestamp": NOW},
    ),
    "duplicate_fault": (
        lambda: smev.duplicate_message_id_fault(ID_2),
        {"kind": MessageKind.FAULT, "fault_code": "smev:DuplicateMessageID", "message_id": ID_2},
    ),
    "invalid_content_fault": (
        lambda: smev.soap_fault(FaultCode.INVALID_CONTENT, "StudentsBatch/Student[2]/Gender: bad"),
        {"kind": MessageKind.FAULT, "fault_code": "smev:InvalidContent",
         "fault_message": "StudentsBatch/Student[2]/Gender: bad"},
    ),
    "soap_client_fault": (
        lambda: smev.soap_fault(FaultCode.CLIENT, "не SOAP 1.1"),
        {"kind": MessageKind.FAULT, "fault_code": "soap:Client", "fault_message": "не SOAP 1.1"},
    ),
}


@pytest.mark.parametrize("name", ENVELOPES)
def test_every_envelope_round_trips_and_validates(name: str) -> None:
    build, expected = ENVELOPES[name]
    body = build()
    message = smev.parse_envelope(body)
    for attribute, value in expected.items():
        assert getattr(message, attribute) == value, attribute
    assert smev.validate_payload(body) == []
    assert smev.validate_payload(message.element) == []
    assert build() == body  # pure: the same inputs give the same bytes


def test_batch_survives_the_round_trip_through_an_envelope() -> None:
    message = smev.parse_envelope(smev.get_response_response(ID_1, _batch_bytes(), sent_at=NOW))
    assert smev.read_students_batch(message.payload) == BATCH


def test_crosswalk_survives_the_round_trip_through_an_envelope() -> None:
    message = smev.parse_envelope(smev.send_request_request(ID_2, smev.render_registry_crosswalk(CROSSWALK)))
    assert smev.read_registry_crosswalk(message.payload) == CROSSWALK


def test_builders_copy_the_payload_element() -> None:
    payload = _payload()
    smev.send_request_request(ID_1, payload)
    assert payload.getparent() is None


def test_envelope_validation_reports_the_inner_payload_too() -> None:
    body = smev.get_response_response("not-a-uuid", _batch_bytes().replace(b">Male<", b">M<", 1), sent_at=NOW)
    errors = smev.validate_payload(body)
    assert errors[0].startswith("GetResponseResponse/ResponseMessage/MessageID: [facet 'pattern']")
    assert errors[1].startswith("ResponseMessage/MessagePrimaryContent/StudentsBatch/Student[2]/Gender:")
    assert len(errors) == 2


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: smev.get_response_response(ID_1, None, sent_at=NOW), "needs message_id, payload"),
        (lambda: smev.get_response_response(ID_1, _payload()), "needs message_id, payload and sent_at"),
        (lambda: smev.soap_fault("DuplicateMessageID", "x"), "smev:Name or soap:Name"),
        (lambda: smev.send_request_response(ID_1, dt.datetime(2025, 1, 1)), "timezone-aware"),
        (lambda: smev.load_schema("students-2.0"), "schema must be one of"),
    ],
)
def test_misuse_of_the_builders_is_refused(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------------- faults


def test_fault_code_does_not_depend_on_the_senders_prefixes() -> None:
    body = f"""<S:Envelope xmlns:S="{SOAP_NS}"><S:Body><S:Fault xmlns:x="{SMEV_NS}">
      <faultcode>x:DuplicateMessageID</faultcode><faultstring>MessageID already used</faultstring>
    </S:Fault></S:Body></S:Envelope>""".encode()
    message = smev.parse_envelope(body)
    assert message.fault_code == FaultCode.DUPLICATE_MESSAGE_ID
    assert message.fault_message == "MessageID already used"


def test_fault_from_a_foreign_namespace_keeps_its_namespace() -> None:
    body = f"""<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body><soapenv:Fault>
      <faultcode xmlns:o="urn://other">o:Busy</faultcode><faultstring>try later</faultstring>
    </soapenv:Fault></soapenv:Body></soapenv:Envelope>""".encode()
    assert smev.parse_envelope(body).fault_code == "{urn://other}Busy"


# ------------------------------------------------------------------------------------------ hostile bodies

SOAP_12 = b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'
SOAP_11 = f'<s:Envelope xmlns:s="{SOAP_NS}" xmlns:m="{SMEV_NS}"><s:Body>{{}}</s:Body></s:Envelope>'


def _send_request(data: str) -> bytes:
    inner = f"<m:SendRequestRequest><m:SenderProvidedRequestData>{data}</m:SenderProvidedRequestData>"
    return SOAP_11.format(inner + "</m:SendRequestRequest>").encode()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "not well-formed XML"),
        (b"{\"MessageID\": 1}", "not well-formed XML"),
        (smev.ack_response()[:-20], "not well-formed XML"),
        (b"<html><body>502 Bad Gateway</body></html>", "not a SOAP 1.1 envelope"),
        (SOAP_12, "SOAP 1.2 envelope"),
        (SOAP_11.format("").encode(), "exactly one element, found 0"),
        (SOAP_11.format("<m:AckResponse/><m:AckResponse/>").encode(), "exactly one element, found 2"),
        (SOAP_11.format("<m:GetRequestRequest/>").encode(), "unknown SOAP Body element"),
        (SOAP_11.format("<m:AckRequest/>").encode(), "missing AckTargetMessage"),
        (SOAP_11.format(f'<m:AckRequest><m:AckTargetMessage accepted="yes">{ID_1}</m:AckTargetMessage>'
                        "</m:AckRequest>").encode(), "accepted must be an xsd:boolean"),
        (_send_request("<m:MessagePrimaryContent/>"), "missing MessageID"),
        (_send_request(f"<m:MessageID>{ID_1}</m:MessageID><m:MessagePrimaryContent/>"),
         "MessagePrimaryContent must hold exactly one element"),
        (SOAP_11.format("<m:GetResponseRequest><m:MessageTypeSelector><m:Timestamp>вчера</m:Timestamp>"
                        "</m:MessageTypeSelector></m:GetResponseRequest>").encode(),
         "expected an xsd:dateTime"),
    ],
)
def test_malformed_or_non_soap_bodies_raise(body: bytes, match: str) -> None:
    with pytest.raises(SmevFormatError, match=match):
        smev.parse_envelope(body)


def _xxe(secret_file: Path) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]>'
        f'<s:Envelope xmlns:s="{SOAP_NS}" xmlns:m="{SMEV_NS}"><s:Body><m:AckRequest>'
        f'<m:AckTargetMessage accepted="true">&xxe;</m:AckTargetMessage></m:AckRequest></s:Body></s:Envelope>'
    ).encode()


def test_an_xxe_attempt_is_refused_without_expanding_the_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-SNILS", encoding="utf-8")
    body = _xxe(secret)
    # Control: a careless parser would read the file, so the test below would notice an expansion.
    careless = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    assert "TOP-SECRET-SNILS" in etree.tostring(etree.fromstring(body, careless), encoding="unicode")
    with pytest.raises(SmevFormatError, match="document type declarations are not allowed") as raised:
        smev.parse_envelope(body)
    assert "TOP-SECRET" not in str(raised.value)
    assert all("TOP-SECRET" not in error for error in smev.validate_payload(body))


def test_an_entity_bomb_is_refused() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = f'<!DOCTYPE r [<!ENTITY l0 "lol">{lol}]><r>&l9;</r>'.encode()
    with pytest.raises(SmevFormatError):
        smev.parse_xml(body)


def test_an_undeclared_entity_is_not_well_formed() -> None:
    with pytest.raises(SmevFormatError, match="not well-formed XML"):
        smev.parse_envelope(SOAP_11.format("<m:AckResponse>&xxe;</m:AckResponse>").encode())

"""SOAP answers must be exactly one Envelope with one optional Header and one Body holding one element.

A second Body (which a lax reader ignores — and an attacker fills with another message), extra children,
text or a foreign root are protocol errors with a reason; through the real SMEV pull the answer is kept
and quarantined. A message that has a MessageID but no readable content is quarantined and acknowledged
as not accepted, so the queue moves on.
"""

from __future__ import annotations

import pytest

from connectors.errors import ProtocolViolationError, SoapFaultError
from connectors.smev.helpers import EXCHANGE, SOAP, body_element
from tests.security.servers import Answer, ScriptedServer, Seen
from tests.sources import MakeSource, http_connection

ONE = "<x:GetResponseResponse xmlns:x='urn:x'/>"


def envelope(inner: str, root: str = "Envelope") -> bytes:
    return f"<soap:{root} xmlns:soap='{SOAP}'>{inner}</soap:{root}>".encode()


@pytest.mark.parametrize(("inner", "match"), [
    (f"<soap:Body>{ONE}</soap:Body><soap:Body>{ONE}</soap:Body>", "2 Body elements"),
    ("", "0 Body elements"),
    (f"<soap:Body>{ONE}{ONE}</soap:Body>", "2 elements"),
    ("<soap:Body></soap:Body>", "0 elements"),
    (f"<soap:Body>text{ONE}</soap:Body>", "elements"),
    (f"<soap:Body>{ONE}</soap:Body><other/>", "besides"),
    (f"<soap:Header/><soap:Header/><soap:Body>{ONE}</soap:Body>", "besides"),
    (f"<soap:Body>{ONE}</soap:Body><soap:Header/>", "besides"),
])
def test_malformed_envelopes_are_protocol_errors(inner: str, match: str) -> None:
    with pytest.raises(ProtocolViolationError, match=match) as exc:
        body_element(envelope(inner))
    assert exc.value.body  # the answer is kept for quarantine


def test_a_foreign_root_is_refused() -> None:
    with pytest.raises(ProtocolViolationError, match="not an Envelope"):
        body_element(envelope(f"<soap:Body>{ONE}</soap:Body>", "Enveloppe"))


def test_a_header_and_one_body_are_fine_and_a_fault_is_read() -> None:
    element = body_element(envelope(f"<soap:Header/><soap:Body>{ONE}</soap:Body>"))
    assert element.tag == "{urn:x}GetResponseResponse"
    fault = ("<soap:Fault><faultcode>smev:DuplicateMessageID</faultcode><faultstring>dup</faultstring>"
             "</soap:Fault>")
    with pytest.raises(SoapFaultError) as exc:
        body_element(envelope(f"<soap:Body>{fault}</soap:Body>"))
    assert exc.value.code == "DuplicateMessageID"


def _message(message_id: str, content: str) -> str:
    return (f"<soap:Body><x:GetResponseResponse xmlns:x='{EXCHANGE}'><x:ResponseMessage>"
            f"<x:MessageID>{message_id}</x:MessageID>{content}</x:ResponseMessage></x:GetResponseResponse>"
            "</soap:Body>")


def test_two_bodies_through_the_smev_pull_are_quarantined(
    make_source: MakeSource, agency: ScriptedServer
) -> None:
    hidden = _message("m-2", "<x:MessagePrimaryContent><Hidden/></x:MessagePrimaryContent>")
    answer = envelope(_message("m-1", "") + hidden)
    agency.routes["/smev"] = lambda _s: Answer(200, answer, {"Content-Type": "text/xml"})
    source = make_source("smev", "mappings/education.yaml", http_connection(agency, auth="bearer"),
                         agency="education", options={"path": "/smev"})
    source.pull()
    [(code, reason)] = source.quarantine()
    assert code == "protocol_violation"
    assert "2 Body elements" in reason
    assert answer in source.raw_payloads()
    assert len(agency.seen) == 1  # the queue cannot be read past it: no Ack, no further GetResponse


def test_a_message_without_content_is_acked_as_not_accepted_and_the_queue_goes_on(
    make_source: MakeSource, agency: ScriptedServer
) -> None:
    empty = ONE.replace("urn:x", EXCHANGE)
    answers = [envelope(_message("m-1", "")), envelope(f"<soap:Body>{empty}</soap:Body>")]

    def smev(seen: Seen) -> Answer:
        if b"AckRequest" in seen.body:
            return Answer(200, envelope(f"<soap:Body><x:AckResponse xmlns:x='{EXCHANGE}'/></soap:Body>"))
        return Answer(200, answers.pop(0) if answers else answers[-1])

    agency.routes["/smev"] = smev
    source = make_source("smev", "mappings/education.yaml", http_connection(agency, auth="bearer"),
                         agency="education", options={"path": "/smev"})
    source.pull()
    [(code, _reason)] = source.quarantine()
    assert code == "protocol_violation"
    acks = [s.body for s in agency.seen if b"AckRequest" in s.body]
    assert len(acks) == 1
    assert b'accepted="false"' in acks[0]
    assert b"m-1" in acks[0]

"""SOAP envelopes of the SMEV-3-style exchange, from the hub's side (the consumer).

The element names follow SMEV 3 message-exchange (simplified); the namespaces are the education system's.
Parsing uses a parser that refuses DTDs, never expands entities and never reads the network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from connectors.errors import ProtocolViolationError, SoapFaultError, TransportError

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
EXCHANGE = "urn://region-education/smev-exchange/1.0"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_E = f"{{{SOAP}}}"
_X = f"{{{EXCHANGE}}}"


@dataclass
class Message:
    """A message delivered by GetResponse: its MessageID and the payload document's bytes."""

    message_id: str
    payload: bytes


def _envelope(body: Any) -> bytes:
    env = etree.Element(_E + "Envelope", nsmap={"soap": SOAP, "smev": EXCHANGE})
    etree.SubElement(env, _E + "Body").append(body)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def get_response_request(node_id: str | None, namespace_uri: str | None) -> bytes:
    request = etree.Element(_X + "GetResponseRequest")
    selector = etree.SubElement(request, _X + "MessageTypeSelector")
    if namespace_uri:
        etree.SubElement(selector, _X + "NamespaceURI").text = namespace_uri
    if node_id:
        etree.SubElement(selector, _X + "NodeID").text = node_id
    etree.SubElement(selector, _X + "Timestamp").text = dt.datetime.now(dt.UTC).isoformat()
    return _envelope(request)


def ack_request(message_id: str, accepted: bool = True) -> bytes:
    request = etree.Element(_X + "AckRequest")
    target = etree.SubElement(request, _X + "AckTargetMessage", accepted="true" if accepted else "false")
    target.text = message_id
    return _envelope(request)


def send_request_request(message_id: str, payload: Any) -> bytes:
    request = etree.Element(_X + "SendRequestRequest")
    data = etree.SubElement(request, _X + "SenderProvidedRequestData")
    etree.SubElement(data, _X + "MessageID").text = message_id
    etree.SubElement(data, _X + "MessagePrimaryContent").append(payload)
    return _envelope(request)


def body_element(raw: bytes) -> Any:
    """The single element of the SOAP Body; anything else is a ``ProtocolViolationError`` with the bytes.

    The Envelope must hold exactly ``[Header?] Body`` and the Body exactly one element: a second Body (which
    a lax reader would ignore), extra children or text are refused. A Fault raises with its code.
    """
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _violation(f"SOAP answer is not well-formed XML: {type(exc).__name__}", raw) from None
    if root.tag != _E + "Envelope":
        raise _violation("SOAP answer is not an Envelope", raw)
    children = [c for c in root if isinstance(c.tag, str)]
    names = [c.tag for c in children]
    if names.count(_E + "Body") != 1:
        bodies = names.count(_E + "Body")
        raise _violation(f"SOAP Envelope has {bodies} Body elements (exactly one expected)", raw)
    if names not in ([_E + "Body"], [_E + "Header", _E + "Body"]):
        raise _violation("SOAP Envelope holds something besides one optional Header and one Body", raw)
    body = children[-1]
    elements = [c for c in body if isinstance(c.tag, str)]
    if len(elements) != 1 or (body.text or "").strip() or any((c.tail or "").strip() for c in body):
        raise _violation(f"SOAP Body holds {len(elements)} elements (exactly one expected)", raw)
    element = elements[0]
    if element.tag == _E + "Fault":
        code = (element.findtext("faultcode") or "").strip().rpartition(":")[2] or "(none)"
        raise SoapFaultError(code[:100], (element.findtext("faultstring") or "").strip())
    return element


DUPLICATE_FAULTS = frozenset({"DuplicateMessageID"})
FATAL_FAULTS = frozenset({
    "Client", "InvalidContent", "InvalidMessageIdFormat", "TargetMessageIsNotFound", "AccessDenied",
    "SenderIsNotRegistered", "SignatureVerificationFault", "VersionMismatch", "MustUnderstand",
})


def fault_kind(code: str) -> str:
    """``already_delivered`` | ``fatal`` | ``retriable`` for a SOAP faultcode's local name.

    SMEV answers a MessageID it has seen with ``DuplicateMessageID``: the message is there. The sender's
    own mistakes (``Client``, invalid content or id, an unknown target) will not improve with retries;
    ``Server`` and anything unknown may.
    """
    if code in DUPLICATE_FAULTS:
        return "already_delivered"
    return "fatal" if code in FATAL_FAULTS else "retriable"


def soap_check(answer: Any) -> None:
    """For ``HttpClient.request(check=…)``: a retriable fault is a ``TransportError`` (retried), a fatal
    one a ``SoapFaultError``; an answer that is already delivered passes."""
    try:
        body_element(answer.body)
    except SoapFaultError as fault:
        kind = fault_kind(fault.code)
        if kind == "retriable":
            raise TransportError(f"SOAP fault {fault.code} (HTTP {answer.status})") from None
        if kind == "fatal":
            raise
        return
    if answer.status >= 500:
        raise TransportError(f"HTTP {answer.status} without a SOAP Fault")


def _violation(message: str, raw: bytes) -> ProtocolViolationError:
    return ProtocolViolationError(message, raw[:16 << 20], "text/xml")


def read_message(element: Any) -> Message | None:
    """The message of a GetResponseResponse, or None when the queue is empty."""
    message = element.find(_X + "ResponseMessage")
    if message is None:
        return None
    message_id = message.findtext(_X + "MessageID")
    content = message.find(_X + "MessagePrimaryContent")
    if not message_id or content is None or len(content) != 1:
        error = ProtocolViolationError("GetResponseResponse message lacks MessageID or its content",
                                       etree.tostring(message)[:16 << 20], "text/xml")
        error.message_id = message_id or None  # type: ignore[attr-defined]
        raise error
    return Message(message_id, bytes(etree.tostring(content[0], xml_declaration=True, encoding="UTF-8")))

"""SOAP envelopes of the SMEV-3-style exchange, from the hub's side (the consumer).

The element names follow SMEV 3 message-exchange (simplified); the namespaces are the education system's.
Parsing uses a parser that refuses DTDs, never expands entities and never reads the network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from connectors.errors import ProtocolViolationError

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


def ack_request(message_id: str) -> bytes:
    request = etree.Element(_X + "AckRequest")
    target = etree.SubElement(request, _X + "AckTargetMessage", accepted="true")
    target.text = message_id
    return _envelope(request)


def send_request_request(message_id: str, payload: Any) -> bytes:
    request = etree.Element(_X + "SendRequestRequest")
    data = etree.SubElement(request, _X + "SenderProvidedRequestData")
    etree.SubElement(data, _X + "MessageID").text = message_id
    etree.SubElement(data, _X + "MessagePrimaryContent").append(payload)
    return _envelope(request)


def body_element(raw: bytes) -> Any:
    """The single element of the SOAP Body; a Fault raises ProtocolViolationError with its code."""
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ProtocolViolationError(f"SOAP answer is not well-formed XML: {type(exc).__name__}") from exc
    body = root.find(_E + "Body")
    if root.tag != _E + "Envelope" or body is None or len(body) != 1:
        raise ProtocolViolationError("SOAP answer has no Envelope/Body with one element")
    element = body[0]
    if element.tag == _E + "Fault":
        raise ProtocolViolationError(
            f"SOAP fault {element.findtext('faultcode')}: {(element.findtext('faultstring') or '')[:200]}"
        )
    return element


def read_message(element: Any) -> Message | None:
    """The message of a GetResponseResponse, or None when the queue is empty."""
    message = element.find(_X + "ResponseMessage")
    if message is None:
        return None
    message_id = message.findtext(_X + "MessageID")
    content = message.find(_X + "MessagePrimaryContent")
    if not message_id or content is None or len(content) != 1:
        raise ProtocolViolationError("GetResponseResponse message lacks MessageID or its content")
    return Message(message_id, bytes(etree.tostring(content[0], xml_declaration=True, encoding="UTF-8")))

"""The education agency's SMEV-3-style SOAP 1.1 exchange: envelope builders, a safe reader, XSD validation.

Simplified from SMEV 3 message-exchange 1.1 (no signatures, attachments or routing). Message elements live in
``urn://region-education/smev-exchange/1.0`` (``schemas/xsd/education/smev-envelope-1.0.xsd``), payloads in
``urn://region-education/students/1.0`` (``students-1.0.xsd``, see :mod:`sandbox.formats.education`).

- ``GetResponseRequest`` → ``GetResponseResponse`` with one ``ResponseMessage``, or empty: the queue is empty;
- ``AckRequest`` → ``AckResponse``; a message not acknowledged is delivered again later;
- ``SendRequestRequest`` → ``SendRequestResponse``, or a SOAP Fault ``smev:DuplicateMessageID`` when its
  MessageID was already used.

Everything here is pure: callers pass MessageIDs and timestamps; builders return UTF-8 XML bytes.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

# The payload model is part of this module's API; it lives in education.py to keep both modules short.
from sandbox.formats.education import *  # noqa: F403
from sandbox.formats.education import EDU_NS, iso_datetime, schema_errors
from schemas.xsd import XSD_DIR

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SMEV_NS = "urn://region-education/smev-exchange/1.0"
_NS = {"s": SMEV_NS}
_PREFIXES = {SOAP_NS: "soap", SMEV_NS: "smev"}
SCHEMA_FILES = {"students": "students-1.0.xsd", "smev-envelope": "smev-envelope-1.0.xsd"}
_SCHEMA_BY_NS = {EDU_NS: "students", SMEV_NS: "smev-envelope"}

Payload: TypeAlias = "etree._Element | bytes"


class SmevFormatError(ValueError):
    """A body from the other side is not well-formed XML, carries a DTD, or is not a SOAP 1.1 SMEV message."""


class MessageKind(StrEnum):
    """What a SOAP Body holds: the local name of its element (``Fault`` for a SOAP Fault)."""

    GET_RESPONSE_REQUEST = "GetResponseRequest"
    GET_RESPONSE_RESPONSE = "GetResponseResponse"
    ACK_REQUEST = "AckRequest"
    ACK_RESPONSE = "AckResponse"
    SEND_REQUEST_REQUEST = "SendRequestRequest"
    SEND_REQUEST_RESPONSE = "SendRequestResponse"
    FAULT = "Fault"


class FaultCode(StrEnum):
    """Stable SOAP ``faultcode`` values, as ``prefix:LocalName`` whatever prefix the sender declared."""

    DUPLICATE_MESSAGE_ID = "smev:DuplicateMessageID"
    INVALID_MESSAGE_ID_FORMAT = "smev:InvalidMessageIdFormat"
    INVALID_CONTENT = "smev:InvalidContent"
    TARGET_MESSAGE_NOT_FOUND = "smev:TargetMessageIsNotFound"
    FAILURE = "smev:SMEVFailure"
    CLIENT = "soap:Client"
    SERVER = "soap:Server"


@dataclass(frozen=True)
class SmevMessage:
    """One SOAP message read by :func:`parse_envelope`; fields a kind does not carry are ``None``."""

    kind: MessageKind
    element: etree._Element = field(compare=False, repr=False)  # the Body child, for validate_payload
    message_id: str | None = None  # also the AckTargetMessage, and a Fault's FaultDetail/MessageID
    original_message_id: str | None = None
    timestamp: dt.datetime | None = None  # selector Timestamp, SendingTimestamp or DeliveryTimestamp
    node_id: str | None = None
    namespace_uri: str | None = None
    accepted: bool | None = None
    payload: etree._Element | None = field(default=None, compare=False, repr=False)
    fault_code: str | None = None
    fault_message: str | None = None


# ---------------------------------------------------------------------------------------------- parsing


def parse_xml(data: bytes) -> etree._Element:
    """Parse bytes from the other side safely: no entity expansion, no network, no DTD (SOAP forbids one)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise SmevFormatError(f"not well-formed XML: {exc}") from None
    if root is None:
        raise SmevFormatError("not well-formed XML: no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SmevFormatError("document type declarations are not allowed (SOAP 1.1 forbids a DTD)")
    return root


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _elements_at(parent: etree._Element, path: str) -> list[etree._Element]:
    found = parent.find(path, _NS)
    return [] if found is None else _elements(found)


def _body_child(root: etree._Element) -> etree._Element:
    if root.tag == f"{{{SOAP12_NS}}}Envelope":
        raise SmevFormatError("SOAP 1.2 envelope; this exchange speaks SOAP 1.1")
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise SmevFormatError(f"not a SOAP 1.1 envelope: root element is {root.tag}")
    children = _elements_at(root, f"{{{SOAP_NS}}}Body")
    if len(children) != 1:
        raise SmevFormatError(f"SOAP Body must hold exactly one element, found {len(children)}")
    return children[0]


def _text(parent: etree._Element, path: str, required: bool = True) -> str | None:
    found = parent.find(path, _NS)
    if found is None:
        if required:
            raise SmevFormatError(f"{etree.QName(parent).localname}: missing {path.replace('s:', '')}")
        return None
    return (found.text or "").strip()


def _timestamp(parent: etree._Element, path: str) -> dt.datetime:
    text = _text(parent, path) or ""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise SmevFormatError(f"{path.replace('s:', '')}: expected an xsd:dateTime") from None


def _primary_content(parent: etree._Element) -> etree._Element:
    children = _elements_at(parent, "s:MessagePrimaryContent")
    if len(children) != 1:
        raise SmevFormatError(f"MessagePrimaryContent must hold exactly one element, found {len(children)}")
    return children[0]


def _read_get_response_request(el: etree._Element) -> SmevMessage:
    return SmevMessage(
        MessageKind.GET_RESPONSE_REQUEST, el,
        timestamp=_timestamp(el, "s:MessageTypeSelector/s:Timestamp"),
        node_id=_text(el, "s:MessageTypeSelector/s:NodeID", required=False),
        namespace_uri=_text(el, "s:MessageTypeSelector/s:NamespaceURI", required=False),
    )


def _read_get_response_response(el: etree._Element) -> SmevMessage:
    message = el.find("s:ResponseMessage", _NS)
    if message is None:
        return SmevMessage(MessageKind.GET_RESPONSE_RESPONSE, el)
    return SmevMessage(
        MessageKind.GET_RESPONSE_RESPONSE, el,
        message_id=_text(message, "s:MessageID"),
        original_message_id=_text(message, "s:OriginalMessageId", required=False),
        timestamp=_timestamp(message, "s:SendingTimestamp"),
        payload=_primary_content(message),
    )


_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def _read_ack_request(el: etree._Element) -> SmevMessage:
    target = el.find("s:AckTargetMessage", _NS)
    if target is None:
        raise SmevFormatError("AckRequest: missing AckTargetMessage")
    accepted = _BOOLEAN.get((target.get("accepted") or "").strip())
    if accepted is None:
        raise SmevFormatError("AckTargetMessage: attribute accepted must be an xsd:boolean")
    return SmevMessage(MessageKind.ACK_REQUEST, el, message_id=(target.text or "").strip(), accepted=accepted)


def _read_send_request_request(el: etree._Element) -> SmevMessage:
    data = el.find("s:SenderProvidedRequestData", _NS)
    if data is None:
        raise SmevFormatError("SendRequestRequest: missing SenderProvidedRequestData")
    return SmevMessage(MessageKind.SEND_REQUEST_REQUEST, el, message_id=_text(data, "s:MessageID"),
                       payload=_primary_content(data))


def _read_send_request_response(el: etree._Element) -> SmevMessage:
    return SmevMessage(MessageKind.SEND_REQUEST_RESPONSE, el,
                       message_id=_text(el, "s:MessageMetadata/s:MessageID"),
                       timestamp=_timestamp(el, "s:MessageMetadata/s:DeliveryTimestamp"))


def _canonical_code(faultcode: etree._Element) -> str:
    """``prefix:Local`` with our own prefixes, so the code does not depend on what the sender declared."""
    text = (faultcode.text or "").strip()
    prefix, _, local = text.rpartition(":")
    namespace = faultcode.nsmap.get(prefix or None)
    if namespace is None:
        return text
    return f"{_PREFIXES[namespace]}:{local}" if namespace in _PREFIXES else f"{{{namespace}}}{local}"


def _read_fault(el: etree._Element) -> SmevMessage:
    faultcode = el.find("faultcode")
    if faultcode is None:
        raise SmevFormatError("Fault: missing faultcode")
    return SmevMessage(MessageKind.FAULT, el, fault_code=_canonical_code(faultcode),
                       fault_message=(el.findtext("faultstring") or "").strip(),
                       message_id=_text(el, "detail/s:FaultDetail/s:MessageID", required=False))


_READERS: dict[str, Callable[[etree._Element], SmevMessage]] = {
    f"{{{SMEV_NS}}}GetResponseRequest": _read_get_response_request,
    f"{{{SMEV_NS}}}GetResponseResponse": _read_get_response_response,
    f"{{{SMEV_NS}}}AckRequest": _read_ack_request,
    f"{{{SMEV_NS}}}AckResponse": lambda el: SmevMessage(MessageKind.ACK_RESPONSE, el),
    f"{{{SMEV_NS}}}SendRequestRequest": _read_send_request_request,
    f"{{{SMEV_NS}}}SendRequestResponse": _read_send_request_response,
    f"{{{SOAP_NS}}}Fault": _read_fault,
}


def parse_envelope(body: bytes) -> SmevMessage:
    """Read a SOAP 1.1 message of this exchange; raise :class:`SmevFormatError` on anything else.

    Only the structure is checked here; run :func:`validate_payload` on ``message.element`` for the XSDs.
    """
    child = _body_child(parse_xml(body))
    reader = _READERS.get(child.tag)
    if reader is None:
        raise SmevFormatError(f"unknown SOAP Body element {child.tag}")
    return reader(child)


# ---------------------------------------------------------------------------------------------- building


def _envelope() -> tuple[etree._Element, etree._Element]:
    # smev is declared on the Envelope so a faultcode QName like smev:DuplicateMessageID resolves anywhere.
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, "smev": SMEV_NS})
    return root, etree.SubElement(root, f"{{{SOAP_NS}}}Body")


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{SMEV_NS}}}{name}")
    element.text = text
    return element


def _bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _add_content(parent: etree._Element, payload: Payload) -> None:
    element = parse_xml(payload) if isinstance(payload, bytes) else copy.deepcopy(payload)
    _sub(parent, "MessagePrimaryContent").append(element)


def get_response_request(timestamp: dt.datetime, *, node_id: str | None = None,
                         namespace_uri: str | None = None) -> bytes:
    """The consumer asks the queue for its next message (optionally only payloads of ``namespace_uri``)."""
    root, body = _envelope()
    selector = _sub(_sub(body, "GetResponseRequest"), "MessageTypeSelector")
    if namespace_uri is not None:
        _sub(selector, "NamespaceURI", namespace_uri)
    if node_id is not None:
        _sub(selector, "NodeID", node_id)
    _sub(selector, "Timestamp", iso_datetime(timestamp))
    return _bytes(root)


def get_response_response(
    message_id: str | None,
    payload: Payload | None,
    *,
    sent_at: dt.datetime | None = None,
    original_message_id: str | None = None,
) -> bytes:
    """One queued message, or with ``message_id`` and ``payload`` both ``None`` the empty answer."""
    root, body = _envelope()
    response = _sub(body, "GetResponseResponse")
    if message_id is None and payload is None:
        return _bytes(root)
    if message_id is None or payload is None or sent_at is None:
        raise ValueError("a queued message needs message_id, payload and sent_at")
    message = _sub(response, "ResponseMessage")
    _sub(message, "MessageID", message_id)
    if original_message_id is not None:
        _sub(message, "OriginalMessageId", original_message_id)
    _sub(message, "SendingTimestamp", iso_datetime(sent_at))
    _add_content(message, payload)
    return _bytes(root)


def ack_request(message_id: str, *, accepted: bool = True) -> bytes:
    """The consumer confirms it processed ``message_id`` (``accepted=False``: received but rejected)."""
    root, body = _envelope()
    target = _sub(_sub(body, "AckRequest"), "AckTargetMessage", message_id)
    target.set("accepted", "true" if accepted else "false")
    return _bytes(root)


def ack_response() -> bytes:
    """The empty answer to an ``AckRequest``."""
    root, body = _envelope()
    _sub(body, "AckResponse")
    return _bytes(root)


def send_request_request(message_id: str, payload: Payload) -> bytes:
    """A message the sender pushes to the other side under its own fresh ``message_id``."""
    root, body = _envelope()
    data = _sub(_sub(body, "SendRequestRequest"), "SenderProvidedRequestData")
    _sub(data, "MessageID", message_id)
    _add_content(data, payload)
    return _bytes(root)


def send_request_response(message_id: str, delivered_at: dt.datetime) -> bytes:
    """The receiver accepted the ``SendRequestRequest`` ``message_id`` at ``delivered_at``."""
    root, body = _envelope()
    metadata = _sub(_sub(body, "SendRequestResponse"), "MessageMetadata")
    _sub(metadata, "MessageID", message_id)
    _sub(metadata, "DeliveryTimestamp", iso_datetime(delivered_at))
    return _bytes(root)


def soap_fault(code: str, message: str, *, message_id: str | None = None) -> bytes:
    """A SOAP 1.1 Fault; ``code`` is a :class:`FaultCode` value (``smev:…`` codes also get a FaultDetail)."""
    prefix, _, local = str(code).partition(":")
    if prefix not in ("smev", "soap") or not local:
        raise ValueError("fault code must look like smev:Name or soap:Name")
    root, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"{prefix}:{local}"
    etree.SubElement(fault, "faultstring").text = message
    if prefix == "smev":
        detail = _sub(etree.SubElement(fault, "detail"), "FaultDetail")
        _sub(detail, "Code", local)
        if message_id is not None:
            _sub(detail, "MessageID", message_id)
    return _bytes(root)


def duplicate_message_id_fault(message_id: str) -> bytes:
    """The receiver's answer to a ``SendRequestRequest`` whose MessageID it has already accepted."""
    text = f"MessageID already used: {message_id} (сообщение с таким MessageID уже было принято)"
    return soap_fault(FaultCode.DUPLICATE_MESSAGE_ID, text, message_id=message_id)


# ---------------------------------------------------------------------------------------------- validation

@functools.cache
def load_schema(name: str) -> etree.XMLSchema:
    """The compiled XSD ``students`` or ``smev-envelope`` from ``schemas/xsd/education/``."""
    if name not in SCHEMA_FILES:
        raise ValueError(f"schema must be one of {sorted(SCHEMA_FILES)}, got {name!r}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(XSD_DIR / "education" / SCHEMA_FILES[name]), parser))


def _validation_target(payload: Payload) -> etree._Element:
    element = parse_xml(payload) if isinstance(payload, bytes) else payload
    return _body_child(element) if element.tag == f"{{{SOAP_NS}}}Envelope" else element


def validate_payload(payload: Payload) -> list[str]:
    """Errors of a payload (``StudentsBatch``, ``RegistryIdCrosswalk``), SMEV element or SOAP message.

    A SMEV element's ``MessagePrimaryContent`` is checked against the payload schema too, a SOAP Fault's
    ``detail``. Each error reads ``Path/To/Element: rule broken``, never quoting the offending value.
    """
    try:
        element = _validation_target(payload)
    except SmevFormatError as exc:
        return [str(exc)]
    if element.tag == f"{{{SOAP_NS}}}Fault":
        return [error for detail in _elements_at(element, "detail") for error in validate_payload(detail)]
    name = _SCHEMA_BY_NS.get(etree.QName(element).namespace or "")
    if name is None:
        return [f"no schema for element {element.tag}"]
    errors = schema_errors(load_schema(name), element)
    for content in element.iterfind(".//s:MessagePrimaryContent", _NS):
        where = f"{etree.QName(content.getparent()).localname}/MessagePrimaryContent"
        errors += [f"{where}/{error}" for inner in _elements(content) for error in validate_payload(inner)]
    return errors

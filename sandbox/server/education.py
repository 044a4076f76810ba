"""The education agency's SMEV-3-style exchange: ``POST /smev`` with a SOAP 1.1 envelope (``text/xml``).

The queue is every ``education/night-NNNN/batch-BBBB-CCCCC.xml`` of nights ``1..night``, night by night,
then by chunk ``CCCCC`` and batch ``BBBB``; each file is one ``StudentsBatch`` message whose MessageID is
``stable_uuid(seed, "education", "smev-message", NNNN, file name)`` — the same on every run and restart.

* ``GetResponseRequest`` → ``GetResponseResponse`` with the oldest message not yet acknowledged (again and
  again until it is), or empty when all are. A ``NamespaceURI`` other than the students payload's gets the
  empty answer; a ``NodeID``, when sent, must be the sandbox's ``education_node`` (``soap:Client`` otherwise).
* ``AckRequest`` → ``AckResponse``, recorded in ``DIR/education/acks.jsonl`` (so a restarted server does not
  redeliver); acknowledging again answers ``AckResponse`` again; an id not in the queue gets
  ``smev:TargetMessageIsNotFound``.
* ``SendRequestRequest`` carrying a ``RegistryIdCrosswalk`` → ``SendRequestResponse``, recorded in
  ``DIR/pushes/education.jsonl``; a MessageID accepted before (also before a restart) gets
  ``smev:DuplicateMessageID``, one that is not a UUID ``smev:InvalidMessageIdFormat``, an invalid payload
  ``smev:InvalidContent``.

Faults are SOAP 1.1 Faults with HTTP 500; a body that is not a SOAP 1.1 message of this exchange gets
``soap:Client``. With fault injection a ``GetResponseRequest`` may get an already acknowledged message again
under its old MessageID (``duplicate_message_id``): the hub has to recognise and skip it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from sandbox.emit import stable_uuid
from sandbox.formats import smev
from sandbox.formats.smev import EDU_NS, FaultCode, MessageKind, SmevFormatError, SmevMessage
from sandbox.server import Reply, Request
from sandbox.server.faults import TRANSPORT, Fault, FaultInjector, FaultKind
from sandbox.server.store import JsonlLog, SandboxStore, utc_now

SMEV_PATH = "/smev"
XML = "text/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
_BATCH_NAME = re.compile(r"^batch-(\d+)-(\d+)\.xml$")


@dataclass(frozen=True)
class QueuedMessage:
    """One batch file as a message of the queue."""

    message_id: str
    night: int
    path: Path
    sent_at: dt.datetime


def _file_order(path: Path) -> tuple[int, int, str]:
    match = _BATCH_NAME.match(path.name)
    return (int(match.group(2)), int(match.group(1)), path.name) if match else (1 << 30, 0, path.name)


def xml_reply(body: bytes, status: int = 200) -> Reply:
    """A SOAP reply (SOAP 1.1 answers a Fault with HTTP 500)."""
    return Reply(status, body, XML)


def fault_reply(code: str, message: str, message_id: str | None = None) -> Reply:
    """A SOAP 1.1 Fault with HTTP 500."""
    return xml_reply(smev.soap_fault(code, message, message_id=message_id), 500)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class EducationAgency:
    """The education agency's SMEV node over the sandbox's ``education/night-NNNN`` batch files."""

    name = "education"

    def __init__(self, store: SandboxStore, injector: FaultInjector) -> None:
        self.store = store
        self.injector = injector
        self.acks = JsonlLog(store.root / "education" / "acks.jsonl")
        self.sent = JsonlLog(store.root / "pushes" / "education.jsonl")
        self._acked = {e["message_id"] for e in self.acks.entries}
        self._sent_ids = {e["message_id"] for e in self.sent.entries}
        self._queue_lock = threading.Lock()
        self._queue: tuple[int, list[QueuedMessage]] = (0, [])

    def fault_kinds(self, request: Request) -> tuple[FaultKind, ...]:
        """Faults this request may meet: a GetResponse can also redeliver an acknowledged message."""
        if b"GetResponseRequest" in request.body:
            return (*TRANSPORT, FaultKind.DUPLICATE_MESSAGE_ID)
        return TRANSPORT

    def admit(self, request: Request) -> Reply | None:
        """No admission control at the education node."""
        return None

    def unavailable(self, fault: Fault) -> Reply:
        """The 503 of a fault burst: the SMEV gateway's plain-text page, not a SOAP message."""
        return Reply(503, b"503 Service Unavailable\n", TEXT)

    def handle(self, request: Request, fault: Fault | None) -> Reply:
        """Answer one request (``fault`` is the drawn fault, if any, for the agency-level kinds)."""
        if request.path.rstrip("/") != SMEV_PATH:
            return Reply(404, b"404 Not Found\n", TEXT)
        if request.method != "POST":
            return Reply(405, b"405 Method Not Allowed\n", TEXT, {"Allow": "POST"})
        if not (request.header("content-type") or "").lower().startswith("text/xml"):
            return Reply(415, b"415 Unsupported Media Type: SOAP 1.1 is text/xml\n", TEXT)
        try:
            message = smev.parse_envelope(request.body)
        except SmevFormatError as exc:
            return fault_reply(FaultCode.CLIENT, str(exc))
        if message.kind is MessageKind.GET_RESPONSE_REQUEST:
            return self._get_response(message, fault)
        if message.kind is MessageKind.ACK_REQUEST:
            return self._ack(message)
        if message.kind is MessageKind.SEND_REQUEST_REQUEST:
            return self._send_request(message)
        return fault_reply(FaultCode.CLIENT, f"{message.kind} is not a request this node accepts")

    # ------------------------------------------------------------------------------------------ the queue

    def queue(self) -> list[QueuedMessage]:
        """Every message of nights ``1..night`` in delivery order (rebuilt when the night changes)."""
        config = self.store.config()
        with self._queue_lock:
            if self._queue[0] != config.night:
                self._queue = (config.night, [m for n in range(1, config.night + 1) for m in self._night(n)])
            return self._queue[1]

    def _night(self, night: int) -> list[QueuedMessage]:
        config = self.store.config()
        sent_at = dt.datetime.fromisoformat(config.night_of(night).timestamp)
        files = sorted(self.store.files("education", night, "batch-*.xml"), key=_file_order)
        return [QueuedMessage(stable_uuid(config.seed, "education", "smev-message", f"{night:04d}", p.name),
                              night, p, sent_at) for p in files]

    def _deliver(self, message: QueuedMessage) -> Reply:
        try:
            body = smev.get_response_response(message.message_id, message.path.read_bytes(),
                                              sent_at=message.sent_at)
        except (OSError, SmevFormatError):
            return fault_reply(FaultCode.SERVER, "the queued message could not be read")
        return xml_reply(body)

    # ------------------------------------------------------------------------------------------ requests

    def _get_response(self, message: SmevMessage, fault: Fault | None) -> Reply:
        node = self.store.config().credentials.get("education_node")
        if message.node_id and message.node_id != node:
            return fault_reply(FaultCode.CLIENT, "unknown NodeID")
        if message.namespace_uri and message.namespace_uri != EDU_NS:
            return xml_reply(smev.get_response_response(None, None))
        queue = self.queue()
        with self.acks.lock:
            acked = [m for m in queue if m.message_id in self._acked]
            pending = next((m for m in queue if m.message_id not in self._acked), None)
        if fault is not None and fault.kind is FaultKind.DUPLICATE_MESSAGE_ID and acked:
            self.injector.count(FaultKind.DUPLICATE_MESSAGE_ID)
            return self._deliver(fault.rng.choice(acked))
        if pending is None:
            return xml_reply(smev.get_response_response(None, None))
        return self._deliver(pending)

    def _ack(self, message: SmevMessage) -> Reply:
        target = message.message_id or ""
        known = {m.message_id for m in self.queue()}
        with self.acks.lock:
            if target in self._acked:
                return xml_reply(smev.ack_response())
            if target not in known:
                return fault_reply(FaultCode.TARGET_MESSAGE_NOT_FOUND, "no such message in the queue",
                                   message_id=target or None)
            self.acks.append({"message_id": target, "accepted": message.accepted, "acked_at": utc_now()})
            self._acked.add(target)
        return xml_reply(smev.ack_response())

    def _send_request(self, message: SmevMessage) -> Reply:
        message_id = message.message_id or ""
        if not _is_uuid(message_id):
            return fault_reply(FaultCode.INVALID_MESSAGE_ID_FORMAT, "MessageID must be a UUID")
        with self.sent.lock:
            if message_id in self._sent_ids:
                return xml_reply(smev.duplicate_message_id_fault(message_id), 500)
            errors = smev.validate_payload(message.element)
            if errors or message.payload is None:
                return fault_reply(FaultCode.INVALID_CONTENT, "; ".join(errors[:5]) or "no payload",
                                   message_id=message_id)
            try:
                crosswalk = smev.read_registry_crosswalk(message.payload)
            except smev.PayloadError as exc:
                return fault_reply(FaultCode.INVALID_CONTENT, str(exc), message_id=message_id)
            self.sent.append(_sent_entry(message_id, crosswalk))
            self._sent_ids.add(message_id)
        return xml_reply(smev.send_request_response(message_id, dt.datetime.now(dt.UTC)))


def _sent_entry(message_id: str, crosswalk: smev.RegistryCrosswalk) -> dict[str, object]:
    links = [{"student_id": link.student_id, "registry_person_id": link.registry_person_id,
              "accompaniment_status": None if link.accompaniment_status is None
              else str(link.accompaniment_status)} for link in crosswalk.links]
    return {"message_id": message_id, "received_at": utc_now(),
            "created_at": crosswalk.created_at.isoformat(), "links": links}

"""SMEV-3-style exchange (the education system): GetResponse → process → Ack, idempotent by MessageID.

A message is acknowledged only after its records are committed (``Payload.after_commit``); a message that
comes again — unacknowledged after a crash, or redelivered with an old MessageID — is recognised by its
MessageID and content hash in the registry, skipped and acknowledged again.

An answer that breaks the protocol (two Bodies, not XML, …) is kept and quarantined and ends the pull: the
queue cannot be read past it. A message that has a MessageID but no readable content is kept, quarantined
and acknowledged as not accepted (``accepted="false"``), so the queue goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from connectors.base import Payload, failed_payload
from connectors.errors import ProtocolViolationError, SoapFaultError
from connectors.http import HttpClient
from connectors.smev.helpers import ack_request, body_element, get_response_request, read_message, soap_check
from connectors.smev.settings import MAX_MESSAGES, PATH

SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
SOAP_FAULT_STATUS = frozenset({500})  # SOAP 1.1 sends its Faults with HTTP 500: read them, do not guess


class SmevConnector:
    """Messages from the queue until it is empty (or ``max_messages``)."""

    def __init__(
        self,
        client: HttpClient,
        path: str = PATH,
        node_id: str | None = None,
        namespace_uri: str | None = None,
        max_messages: int = MAX_MESSAGES,
    ) -> None:
        self.client, self.path, self.node_id = client, path, node_id
        self.namespace_uri, self.max_messages = namespace_uri, max_messages
        self.acked: set[str] = set()

    @property
    def retries(self) -> int:
        return self.client.retries

    def payloads(self, cursors: dict[str, str]) -> Iterator[Payload]:
        for _ in range(self.max_messages):
            try:
                answer = self.client.post(
                    self.path, data=get_response_request(self.node_id, self.namespace_uri),
                    headers=SOAP_HEADERS, accept_status=SOAP_FAULT_STATUS, check=soap_check,
                )
                message = read_message(body_element(answer.body))
            except SoapFaultError:
                raise  # the agency's own error answer, not hostile input: the pull fails with its code
            except ProtocolViolationError as exc:
                message_id = getattr(exc, "message_id", None)
                failed = failed_payload({"url": self.client.url(self.path), "message_id": message_id}, exc)
                if message_id is None:
                    yield failed
                    return
                failed.after_commit = self._acker(message_id, accepted=False)
                yield failed
                continue
            if message is None:
                return
            position = {"url": self.client.url(self.path), "message_id": message.message_id}
            yield Payload(
                position,
                "application/xml",
                data=message.payload,
                after_commit=self._acker(message.message_id),
                meta={"message_id": message.message_id},
            )

    def _acker(self, message_id: str, accepted: bool = True) -> Callable[[], None]:
        def ack() -> None:
            answer = self.client.post(self.path, data=ack_request(message_id, accepted), headers=SOAP_HEADERS,
                                      accept_status=SOAP_FAULT_STATUS, check=soap_check)
            body_element(answer.body)
            self.acked.add(message_id)

        return ack

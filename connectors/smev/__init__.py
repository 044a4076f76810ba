"""SMEV-3-style exchange (the education system): GetResponse → process → Ack, idempotent by MessageID.

A message is acknowledged only after its records are committed (``Payload.after_commit``); a message that
comes again — unacknowledged after a crash, or redelivered with an old MessageID — is recognised by its
MessageID and content hash in the registry, skipped and acknowledged again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from connectors.base import Payload
from connectors.http import HttpClient
from connectors.smev.helpers import ack_request, body_element, get_response_request, read_message
from connectors.smev.settings import MAX_MESSAGES, PATH

SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


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
            answer = self.client.post(
                self.path, data=get_response_request(self.node_id, self.namespace_uri), headers=SOAP_HEADERS
            )
            message = read_message(body_element(answer.body))
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

    def _acker(self, message_id: str) -> Callable[[], None]:
        def ack() -> None:
            answer = self.client.post(self.path, data=ack_request(message_id), headers=SOAP_HEADERS)
            body_element(answer.body)
            self.acked.add(message_id)

        return ack

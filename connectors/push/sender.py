"""Sending one outbox message in the agency's format: JSON with an Idempotency-Key, a SMEV envelope, a file.

Every message carries its idempotency key (JSON header; SMEV MessageID derived from it; file name), so a
message sent again after a crash is the same message and the agency keeps one. What an answer means:

* delivered: 2xx; a SOAP ``DuplicateMessageID`` (the agency has it already, under this very MessageID);
* retriable (``TransportError``): 429, 5xx, timeouts, a SOAP ``Server`` fault — back off and try again;
* fatal (``FatalDeliveryError``): any other 4xx, a SOAP ``Client``/``InvalidContent`` fault — retrying
  the same bytes will not help: the message is dead-lettered at once (``hub push retry --dead``).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from connectors.config import SourceConfig
from connectors.connections import get_connection
from connectors.errors import AuthenticationError, ConnectorError, FatalResponseError, SoapFaultError
from connectors.http import client_for
from connectors.push import formats
from connectors.smev import SOAP_FAULT_STATUS, SOAP_HEADERS
from connectors.smev.helpers import send_request_request, soap_check
from registry.outbox import OutboxMessage


class FatalDeliveryError(ConnectorError):
    """The agency refused the message for good (its content or addressing): dead-letter it now."""


class Sender:
    """Sends outbox messages to one agency."""

    def __init__(self, source: SourceConfig) -> None:
        assert source.push is not None
        self.source, self.push = source, source.push
        self.conn = get_connection(source.connection_id)
        self.client = client_for(self.conn, max_attempts=3) if self.push.format != "file_xml" else None

    def send(self, message: OutboxMessage) -> None:
        """Deliver ``message``; raise ``TransportError`` (retry later) or ``FatalDeliveryError`` (dead)."""
        try:
            if self.push.format == "file_xml":
                self._file(message)
            elif self.push.format == "smev_xml":
                self._smev(message)
            else:
                self._json(message)
        except SoapFaultError as exc:
            raise FatalDeliveryError(str(exc)) from None
        except AuthenticationError:
            raise  # our credentials: every message would fail alike; back off, do not kill them all
        except FatalResponseError as exc:
            raise FatalDeliveryError(str(exc)) from None

    def _json(self, message: OutboxMessage) -> None:
        assert self.client is not None
        self.client.post(
            self.push.endpoint or "/",
            data=message.body,
            headers={"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key},
        )

    def _smev(self, message: OutboxMessage) -> None:
        assert self.client is not None
        envelope = send_request_request(
            formats.smev_message_id(message.idempotency_key), etree.fromstring(message.body)
        )
        self.client.post(self.push.endpoint or "/smev", data=envelope, headers=SOAP_HEADERS,
                         accept_status=SOAP_FAULT_STATUS, check=soap_check)

    def _file(self, message: OutboxMessage) -> None:
        folder = Path(self.conn.extra.get("outbox") or "")
        if not str(folder) or str(folder) == ".":
            raise ConnectorError(f"connection {self.conn.conn_id!r} has no extra.outbox folder")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"HUB_registry_links_{message.idempotency_key[:32]}.xml"
        if not target.exists():  # the same key is the same file: delivered once
            part = target.with_name("." + target.name + ".part")
            part.write_bytes(message.body)
            part.replace(target)

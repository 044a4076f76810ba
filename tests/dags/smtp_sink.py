"""A real SMTP server on loopback that keeps every message it is given (for the alert tests).

Speaks just enough RFC 5321 for a client that does not ask for TLS: EHLO/HELO, MAIL, RCPT, DATA, RSET,
NOOP, QUIT. (aiosmtpd is not installable here; the protocol is small.)
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class Message:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class Sink:
    port: int
    messages: list[Message] = field(default_factory=list)
    server: socketserver.ThreadingTCPServer | None = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def start() -> Sink:
    sink = Sink(0)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 sink ESMTP")
            sender, rcpts = "", []
            while line := self.rfile.readline():
                verb = line.decode("latin-1").strip()
                upper = verb.upper()
                if upper.startswith(("EHLO", "HELO")):
                    self.reply("250 sink")
                elif upper.startswith("MAIL FROM:"):
                    sender, rcpts = verb[10:].strip(" <>"), []
                    self.reply("250 ok")
                elif upper.startswith("RCPT TO:"):
                    rcpts.append(verb[8:].strip(" <>"))
                    self.reply("250 ok")
                elif upper == "DATA":
                    self.reply("354 end with .")
                    body = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                        body += chunk
                    sink.messages.append(Message(sender, rcpts, body))
                    self.reply("250 queued")
                elif upper in ("RSET", "NOOP"):
                    self.reply("250 ok")
                elif upper == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.server, sink.port = server, server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sink

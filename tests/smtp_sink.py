"""A real SMTP server on 127.0.0.1 that keeps what it receives: enough of RFC 5321
(EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for Django's SMTP backend, so tests send
real mail over a socket instead of mocking the backend. (aiosmtpd is not installed;
the standard library's smtpd is deprecated.)"""

from __future__ import annotations

import email
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import Message


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)


class _Handler(socketserver.StreamRequestHandler):
    sink: SmtpSink

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 govboard-test-sink ESMTP")
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-govboard-test-sink")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 govboard-test-sink")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip().split()[0].strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                message = email.message_from_bytes(b"".join(lines))
                self.sink.received.append(Received(sender, list(recipients), message))
                self.reply("250 OK: queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_sink() -> tuple[SmtpSink, _Server]:
    """Start a sink on a free port; stop it with ``server.shutdown()``."""
    sink = SmtpSink()
    handler = type("Handler", (_Handler,), {"sink": sink})
    server = _Server((sink.host, 0), handler)
    sink.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sink, server

"""Loopback receivers for alert channels: a Slack incoming webhook and an SMTP server, recording what they got."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlackWebhook:
    """An HTTP server that accepts ``POST /services/...`` like Slack's incoming webhooks and keeps the JSON bodies."""

    def __init__(self, failures: list[int] | None = None) -> None:
        """``failures``: HTTP statuses to answer (and not keep) the first requests with, in order; then 200."""
        received: list[dict[str, Any]] = []
        self.received, self.refused = received, list(failures or [])
        refused = self.refused

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if refused:
                    self.send_response(refused.pop(0))
                    self.end_headers()
                    self.wfile.write(b"no_service")
                    return
                received.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base, self.path = f"http://127.0.0.1:{self.port}", "/services/T000/B000/secret-webhook-path"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connection(self) -> str:
        """``AIRFLOW_CONN_PIN2DEAL_SLACK``: the webhook's base as the host, its secret path as the password."""
        return json.dumps({"conn_type": "http", "host": self.base, "password": self.path})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpServer:
    """Just enough SMTP (EHLO, MAIL, RCPT, DATA, QUIT) to receive a message from ``smtplib`` over loopback."""

    def __init__(self) -> None:
        messages: list[dict[str, Any]] = []
        self.messages = messages

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 localhost ESMTP\r\n")
                envelope: dict[str, Any] = {"rcpt": []}
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250 localhost\r\n")
                    elif verb == "MAIL":
                        envelope["from"] = command
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "RCPT":
                        envelope["rcpt"].append(command.split(":", 1)[1].strip(" <>"))
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        messages.append({**envelope, "data": "".join(data)})
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 Bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connection(self, to: str) -> str:
        """``AIRFLOW_CONN_PIN2DEAL_SMTP``: plain SMTP on loopback (no TLS), recipients in the extra."""
        extra = {"to": to, "from_email": "airflow@example.com", "disable_tls": True}
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port, "extra": extra})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

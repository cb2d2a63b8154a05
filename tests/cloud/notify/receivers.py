"""Real receivers for deliveries: an SMTP server (aiosmtpd) and an HTTP server that
checks each webhook's signature on its own (HMAC-SHA256 over ``t.`` + body) and can be
told to fail its first requests."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from cloud.mqtt.broker import free_port


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"


@dataclass
class Mailbox:
    port: int
    collector: _Collect

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Message]:
        with self.collector.lock:
            return list(self.collector.messages)


@contextlib.contextmanager
def smtp_server() -> Iterator[Mailbox]:
    collector = _Collect()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Mailbox(port, collector)
    finally:
        controller.stop()


@dataclass
class Hook:
    """What the webhook receiver saw: every request, whether its signature held."""

    secrets: list[str] = field(default_factory=list)
    """The owners' webhook secrets; a signature made with any of them holds."""
    fail_first: int = 0
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/aftercare"

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["status"] == 200]

    def signature_ok(self, header: str, body: bytes) -> bool:
        fields = dict(part.split("=", 1) for part in header.split(","))
        signed = fields["t"].encode() + b"." + body
        return any(
            hmac.compare_digest(
                hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest(), fields["v1"]
            )
            for secret in self.secrets
        )


@contextlib.contextmanager
def webhook_server(hook: Hook) -> Iterator[Hook]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if hook.delay_s:
                time.sleep(hook.delay_s)
            with hook.lock:
                failing = len(hook.requests) < hook.fail_first
                signed = hook.signature_ok(self.headers["X-Aftercare-Signature"], body)
                status = 500 if failing else (200 if signed else 401)
                hook.requests.append(
                    {
                        "status": status,
                        "signed": signed,
                        "delivery": self.headers["X-Aftercare-Delivery"],
                        "body": json.loads(body),
                        "at": time.monotonic(),
                    }
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()

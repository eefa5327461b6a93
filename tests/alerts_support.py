"""Helpers for the alert tests: a store filled with a quiet seasonal history and a planted incident,
a real SMTP sink (aiosmtpd) and a JSON webhook server, both on 127.0.0.1."""

from __future__ import annotations

import json
import math
import random
import socket
import threading
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from listener.model import Mention, Sentiment

NOW = datetime(2026, 11, 20, 14, 40, tzinfo=timezone.utc)
SOURCES = ("reddit", "trustpilot", "appstore")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hourly_mean(hour: int) -> float:
    return 1.5 + 5.0 * max(0.0, math.sin((hour - 6) / 12 * math.pi))


def quiet_history(days: int = 10, end: datetime = NOW, seed: int = 11, brand: str = "Nimbus") -> list[Mention]:
    """Ordinary chatter: seasonal volume, a fifth negative, topics spread out, three sources."""
    rng = random.Random(seed)
    out = []
    start = end - timedelta(days=days)
    t = start
    i = 0
    while t < end - timedelta(hours=2):
        mu = hourly_mean(t.hour)
        n = sum(1 for _ in range(int(mu * 3)) if rng.random() < 1 / 3)
        for _ in range(n):
            i += 1
            negative = rng.random() < 0.2
            out.append(Mention(
                source=rng.choice(SOURCES), native_id=f"q{seed}-{i}", url=f"https://example.com/q/{i}",
                author_name=f"user{rng.randrange(5000)}", text=f"{brand} is fine today, paying bills number {i}",
                published_at=t + timedelta(seconds=rng.randrange(3600)), brands=[brand],
                sentiment=Sentiment(label="negative" if negative else "positive", score=0.9),
                topics=[rng.choice(["payments", "features", "pricing", "customer_service"])],
                score=rng.randrange(0, 6), replies=rng.randrange(0, 3)))
        t += timedelta(hours=1)
    return out


def incident(count: int = 40, end: datetime = NOW, brand: str = "Nimbus", payload: str = "",
             prefix: str = "inc") -> list[Mention]:
    """Login complaints in the last hour, mostly on reddit, a few very visible."""
    out = []
    for i in range(count):
        out.append(Mention(
            source="reddit" if i % 4 else "appstore", native_id=f"{prefix}-{i}", url=f"https://example.com/{prefix}/{i}",
            author_name=f"angry{i}", title=(payload if i == 0 else None) or f"{brand} login broken",
            text=f"cannot login to {brand}, verification code never arrives {payload}",
            published_at=end - timedelta(minutes=55) + timedelta(seconds=(i * 3300) // count), brands=[brand],
            sentiment=Sentiment(label="negative", score=0.97), topics=["account_access"],
            score=200 if i == 3 else 5, replies=60 if i == 3 else 1))
    return out


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self, auth: tuple[str, str] | None = None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list = []
        self.envelopes: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.envelopes.append(envelope)
                sink.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                        policy=policy.default))
                return "250 OK"

        kwargs = {}
        if auth:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = auth_data.login.decode() == auth[0] and auth_data.password.decode() == auth[1]
                return AuthResult(success=ok)

            kwargs = {"authenticator": authenticator, "auth_require_tls": False}
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self) -> dict[str, str]:
        return {"LISTENER_SMTP_HOST": "127.0.0.1", "LISTENER_SMTP_PORT": str(self.port),
                "LISTENER_SMTP_SECURITY": "none", "LISTENER_SMTP_FROM": "alerts@listener.test"}


class WebhookSink:
    """A JSON webhook on 127.0.0.1 (Apprise's json:// posts here); keeps each request body."""

    def __init__(self):
        self.bodies: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                sink.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> "WebhookSink":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

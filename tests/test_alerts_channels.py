"""Every alert channel through one shared suite (real SMTP sink, real JSON webhook via Apprise), with
hostile mentions: markup, script links, Markdown links, mass mentions and header injection."""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_support import NOW, SmtpSink, WebhookSink, free_port, incident, quiet_history  # noqa: E402

from listener.alerts.channels import CHANNELS, _load_builtins, channel_for, strip_digest  # noqa: E402
from listener.alerts.check import check_alerts  # noqa: E402
from listener.alerts.deliver import deliver_due  # noqa: E402
from listener.alerts.render import render  # noqa: E402
from listener.alerts.state import AlertState  # noqa: E402
from listener.config import Project  # noqa: E402
from listener.model import Mention, Sentiment  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

PAYLOAD = ("Evil <script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
           "<https://evil.example|Slack link> @channel @here <!everyone> <!channel>\r\nBcc: victim@evil.example")
PERSIAN = "کد تایید نمی‌آید و حسابم قفل شده"


def hostile_project(channel: str) -> Project:
    return Project.model_validate({
        "project": {"name": "Nimbus <b>watch</b>\r\nX-Injected: 1"},
        "brand": [{"name": "Nimbus", "query": "nimbus"}],
        "alert": [{"name": "Volume", "metric": "volume", "window": "1h", "channels": [channel]}]})


def hostile_store(path) -> None:
    mentions = quiet_history() + incident(payload=PAYLOAD)
    mentions.append(Mention(source="reddit", native_id="js", url="javascript:alert(4)", author_name="<b>x</b>",
                            title=PAYLOAD, text="nimbus " + PAYLOAD, published_at=NOW - timedelta(minutes=20),
                            brands=["Nimbus"], sentiment=Sentiment(label="negative", score=0.99), score=900))
    mentions.append(Mention(source="trustpilot", native_id="fa", url="https://example.com/fa", author_name="کاربر",
                            title=PERSIAN, text="نیمبوس " + PERSIAN, published_at=NOW - timedelta(minutes=10),
                            brands=["Nimbus"], sentiment=Sentiment(label="negative", score=0.99), score=800,
                            lang="fa"))
    with SqliteStore(path) as store:
        store.upsert(mentions)


# ------------------------------------------------------------------ one harness per registered channel

class EmailHarness:
    channel = "email"

    def __enter__(self):
        self.sink = SmtpSink().__enter__()
        return self

    def __exit__(self, *exc):
        self.sink.__exit__(*exc)

    def url(self):
        return "mailto:lead@example.com"

    def env(self):
        return self.sink.env()

    def received(self) -> list[tuple[str, dict[str, str]]]:
        """(title, {format: body}) per message."""
        out = []
        for message in self.sink.messages:
            bodies = {part.get_content_subtype(): part.get_content() for part in message.walk()
                      if part.get_content_maintype() == "text"}
            out.append((str(message["Subject"]), bodies))
        return out


class AppriseHarness:
    channel = "apprise"

    def __enter__(self):
        self.sink = WebhookSink().__enter__()
        return self

    def __exit__(self, *exc):
        self.sink.__exit__(*exc)

    def url(self):
        return self.sink.url("alerts")

    def env(self):
        return {}

    def received(self):
        # a JSON webhook gets plain text (Apprise's TEXT format): what matters there is mentions and links
        return [(body["title"], {"plain": body["message"]}) for body in self.sink.bodies]


HARNESSES = {h.channel: h for h in (EmailHarness, AppriseHarness)}


def test_every_registered_channel_has_a_harness():
    _load_builtins()
    assert set(CHANNELS) == set(HARNESSES)


@pytest.fixture(params=sorted(HARNESSES))
def harness(request, monkeypatch):
    with HARNESSES[request.param]() as h:
        for key, value in h.env().items():
            monkeypatch.setenv(key, value)
        yield h


def deliver_hostile_alert(tmp_path, harness):
    path = tmp_path / "l.db"
    hostile_store(path)
    with SqliteStore(path) as store, AlertState(path) as state:
        report = check_alerts(store, state, hostile_project(harness.url()), NOW)
    assert report.failed == [] and len(report.raised) == 1 and len(report.delivered) == 1
    return report


def test_channel_delivers_one_alert_with_its_explanation(tmp_path, harness):
    deliver_hostile_alert(tmp_path, harness)
    [(title, bodies)] = harness.received()
    assert "Nimbus" in title and "mentions" in title
    for body in bodies.values():
        assert "expected" in body and "account_access" in body and "https://example.com/inc/3" in body


def test_channel_never_turns_scraped_text_into_markup_links_or_mass_mentions(tmp_path, harness):
    deliver_hostile_alert(tmp_path, harness)
    [(title, bodies)] = harness.received()
    assert "\r" not in title and "\n" not in title and "<script" not in title.lower()
    for kind, text in [("title", title), *bodies.items()]:
        lowered = text.lower()
        if kind == "html":  # markup: no tag from a mention survives unescaped
            assert "<script" not in lowered and "<img src=x" not in lowered and "&lt;script&gt;" in lowered
        assert "<!everyone>" not in text and "<!channel>" not in text
        assert "@channel" not in text and "@here" not in text
        assert "javascript:" not in lowered  # the scheme is broken (a word joiner before the colon)
        assert "<https://evil.example|" not in text


def test_email_parts_inline_chart_rtl_and_no_header_injection(tmp_path, monkeypatch):
    with SmtpSink() as sink:
        for key, value in sink.env().items():
            monkeypatch.setenv(key, value)
        path = tmp_path / "l.db"
        hostile_store(path)
        with SqliteStore(path) as store, AlertState(path) as state:
            check_alerts(store, state, hostile_project("mailto:lead@example.com"), NOW)
        [message] = sink.messages
        [envelope] = sink.envelopes
    assert envelope.rcpt_tos == ["lead@example.com"]
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "account_access" in text and "account_access" in html
    # right-to-left text is isolated: <bdi> in HTML, FSI/PDI in plain text
    assert f"<bdi>{PERSIAN}</bdi>" in html and f"\u2068{PERSIAN}\u2069" in text
    assert 'dir="auto"' in html
    # the javascript: URL is never a link; the http one is
    assert 'href="javascript' not in html and 'href="https://example.com/inc/3"' in html
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    cid = images[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html


def test_digest_collects_alerts_until_the_hour(tmp_path):
    path = tmp_path / "l.db"
    with SqliteStore(path) as store:
        store.upsert(quiet_history() + incident())
    with WebhookSink() as hook:
        project = Project.model_validate({
            "brand": [{"name": "Nimbus", "query": "nimbus"}],
            "alert": [{"name": "Volume", "metric": "volume", "window": "1h", "channels": [hook.url() + "?digest=hourly"]},
                      {"name": "Negative", "metric": "negative", "window": "1h",
                       "channels": [hook.url() + "?digest=hourly"]}]})
        with SqliteStore(path) as store, AlertState(path) as state:
            report = check_alerts(store, state, project, NOW)
            assert len(report.raised) == 2 and report.delivered == [] and hook.bodies == []
            sent, failed = deliver_due(state, project, now=NOW.replace(minute=0) + timedelta(hours=1, minutes=1))
            assert failed == [] and len(sent) == 2
            assert deliver_due(state, project, now=NOW + timedelta(hours=3)) == ([], [])
        [body] = hook.bodies
        assert body["title"].startswith("[listener project] 2 alerts")
        assert "Volume" in body["message"] and "Negative" in body["message"]


def test_strip_digest_and_channel_choice():
    assert strip_digest("json://h/p?digest=daily") == "json://h/p"
    assert strip_digest("json://h/p?a=1&digest=hourly&b=2") == "json://h/p?a=1&b=2"
    assert channel_for("mailto:x@example.com").name == "email"
    assert channel_for("slack://T/B/C").name == "apprise"


@pytest.mark.parametrize("fmt", ["slack", "markdown", "html", "text"])
def test_each_chat_format_escapes_payloads(fmt, tmp_path):
    """The formats Apprise targets render (Slack mrkdwn, Teams/Discord Markdown, Telegram HTML) cannot be
    served locally, so their bodies are checked directly."""
    path = tmp_path / "l.db"
    hostile_store(path)
    with SqliteStore(path) as store, AlertState(path) as state:
        [record] = check_alerts(store, state, hostile_project("json://127.0.0.1:9/x"), NOW, deliver=False).raised
    title, body = render([record], fmt)
    if fmt != "text":  # in plain text a tag is just text; everywhere else it must be escaped
        assert "<script" not in body
    assert "<!everyone>" not in body and "@channel" not in body
    assert "javascript:" not in body.lower() and 'href="javascript' not in body
    assert "<https://evil.example|" not in body
    if fmt == "slack":
        assert "<https://example.com/inc/3|" in body  # our own links still work
    if fmt == "markdown":
        assert "](<https://example.com/inc/3>)" in body and "\\[click\\]" in body


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.slow
def test_test_email_over_starttls_with_login(tmp_path, monkeypatch):
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((session.authenticated, session.ssl is not None, envelope.content))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"lead", b"s3cret"))

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator)
    controller.start()
    try:
        env = {"LISTENER_SMTP_HOST": "127.0.0.1", "LISTENER_SMTP_PORT": str(port), "LISTENER_SMTP_USER": "lead",
               "LISTENER_SMTP_PASSWORD": "s3cret", "LISTENER_SMTP_CAFILE": str(cert)}
        import os

        result = subprocess.run([sys.executable, "-m", "listener.cli", "alerts", "test-email", "lead@example.com"],
                                env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert got and got[0][0] and got[0][1]  # authenticated, over TLS
        bad = subprocess.run([sys.executable, "-m", "listener.cli", "alerts", "test-email", "lead@example.com"],
                             env={**os.environ, **env, "LISTENER_SMTP_PASSWORD": "wrong", "LISTENER_SMTP_TIMEOUT": "3"}, capture_output=True,
                             text=True, timeout=120)
        assert bad.returncode == 1 and "did not accept" in bad.stderr
    finally:
        controller.stop()


@pytest.mark.parametrize("fmt", ["slack", "markdown", "html", "text"])
def test_chat_titles_quoting_a_headline_are_escaped(fmt):
    from listener.alerts.channels.chat import chat_title

    title = chat_title("Nimbus: a negative reddit post is drawing attention: " + PAYLOAD, fmt)
    assert "\n" not in title and "\r" not in title
    assert "<!everyone>" not in title and "@channel" not in title and "javascript:" not in title.lower()
    if fmt != "text":
        assert "<script" not in title

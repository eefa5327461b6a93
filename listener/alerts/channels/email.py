"""E-mail alerts over SMTP: an HTML part and a plain-text part, the chart inline, RTL-safe.

Settings come from the environment (never from the project file, which is shared):
LISTENER_SMTP_HOST (default localhost), LISTENER_SMTP_PORT (25; 587 with starttls; 465 with tls),
LISTENER_SMTP_SECURITY (none, starttls or tls; default starttls when a user is set, else none),
LISTENER_SMTP_USER / LISTENER_SMTP_PASSWORD (login, only over TLS unless security=none is chosen),
LISTENER_SMTP_FROM (default listener@localhost), LISTENER_SMTP_CAFILE (a CA bundle for a private
server certificate), LISTENER_SMTP_TIMEOUT (seconds, default 30).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from listener.alerts import escape
from listener.alerts.channels import Channel, register, strip_digest
from listener.alerts.chart import render_chart
from listener.alerts.render import render
from listener.alerts.state import AlertRecord
from listener.config import ConfigError


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    user: str | None = None
    password: str | None = None
    sender: str = "listener@localhost"
    cafile: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "SmtpSettings":
        env = os.environ if env is None else env
        user = env.get("LISTENER_SMTP_USER") or None
        security = (env.get("LISTENER_SMTP_SECURITY") or ("starttls" if user else "none")).lower()
        if security not in ("none", "starttls", "tls"):
            raise ConfigError(f"LISTENER_SMTP_SECURITY: expected none, starttls or tls, got {security!r}")
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        try:
            port = int(env.get("LISTENER_SMTP_PORT") or default_port)
            timeout = float(env.get("LISTENER_SMTP_TIMEOUT") or 30)
        except ValueError:
            raise ConfigError("LISTENER_SMTP_PORT / LISTENER_SMTP_TIMEOUT: expected a number") from None
        return cls(host=env.get("LISTENER_SMTP_HOST") or "localhost", port=port, security=security, user=user,
                   password=env.get("LISTENER_SMTP_PASSWORD") or None,
                   sender=env.get("LISTENER_SMTP_FROM") or "listener@localhost",
                   cafile=env.get("LISTENER_SMTP_CAFILE") or None, timeout=timeout)


def recipient_of(url: str) -> str:
    """mailto:a@example.com, mailto://a@example.com (the Apprise spelling) -> a@example.com."""
    address = strip_digest(url).split(":", 1)[1].lstrip("/").split("?", 1)[0]
    if "@" not in address or any(c in address for c in "\r\n <>,;"):
        raise ConfigError(f"{url!r}: expected mailto:NAME@DOMAIN")
    return address


def build_email(alerts: list[AlertRecord], to: str, sender: str, project_name: str, tz: str) -> EmailMessage:
    """The message: text/plain and text/html alternatives, the charts as inline images in the HTML part."""
    charts = {}
    for record in alerts:
        png = render_chart(record.details or {})
        if png and record.id is not None:
            charts[record.id] = (make_msgid(domain="listener.local")[1:-1], png)
    title, text = render(alerts, "text", tz, project_name)
    _, body = render(alerts, "html", tz, project_name, chart_cids={k: v[0] for k, v in charts.items()})
    message = EmailMessage()
    # Scraped text reaches the Subject through alert titles: one clean line, never a header break.
    # Defused too: a subject is shown as text, but mail is forwarded to chats where @channel would ping.
    message["Subject"] = escape.defuse(escape.header(title))
    message["From"] = sender
    message["To"] = Address(addr_spec=to)
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain="listener.local")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders do not answer alerts
    message.set_content(text + "\n")
    html_doc = (f'<!doctype html><html><head><meta charset="utf-8"></head>'
                f'<body dir="ltr" style="font-family:sans-serif;font-size:14px;line-height:1.45">{body}</body></html>')
    message.add_alternative(html_doc, subtype="html")
    html_part = message.get_payload()[1]
    for cid, png in charts.values():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename="alert-chart.png")
    return message


def send_email(message: EmailMessage, settings: SmtpSettings) -> None:
    context = ssl.create_default_context(cafile=settings.cafile)
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        client.ehlo()
        if settings.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.user:
            client.login(settings.user, settings.password or "")
        client.send_message(message)


@register
class EmailChannel(Channel):
    name = "email"
    schemes = ("mailto",)

    def send(self, url: str, alerts: list[AlertRecord], *, project_name: str, tz: str) -> None:
        settings = SmtpSettings.from_env()
        send_email(build_email(alerts, recipient_of(url), settings.sender, project_name, tz), settings)

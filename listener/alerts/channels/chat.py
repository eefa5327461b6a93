"""Chat and webhook alerts through Apprise (Slack, Teams, Telegram, Discord, JSON webhooks, ...).

Apprise passes the body through as given, so the body is written in the format the target renders and
escaped for it here: Slack gets Slack mrkdwn, Telegram HTML, Teams/Discord/Matrix Markdown, and every
other target (JSON/XML webhooks, e-mail via Apprise, SMS, ...) plain text with mass mentions and
script links defused.
"""

from __future__ import annotations

import html

from listener.alerts import escape
from listener.alerts.channels import Channel, register, strip_digest
from listener.alerts.render import render
from listener.alerts.state import AlertRecord

#: Apprise scheme -> the body format that target renders
FORMAT_OF_SCHEME = {
    "slack": "slack",
    "tgram": "html", "telegram": "html",
    "msteams": "markdown", "discord": "markdown", "matrix": "markdown", "matrixs": "markdown",
    "mmost": "markdown", "mmosts": "markdown", "rocket": "markdown", "rockets": "markdown",
}


def chat_title(title: str, fmt: str) -> str:
    """The title on one line, escaped like the body: alert titles can quote a mention's headline."""
    one_line = escape.header(title)
    if fmt == "slack":
        return escape.slack(one_line)
    if fmt == "markdown":
        return escape.markdown(one_line)
    if fmt == "html":
        return html.escape(escape.defuse(one_line))
    return escape.defuse(one_line)


@register
class AppriseChannel(Channel):
    name = "apprise"
    schemes = ("*",)

    def send(self, url: str, alerts: list[AlertRecord], *, project_name: str, tz: str) -> None:
        import apprise

        target = strip_digest(url)
        scheme = target.split(":", 1)[0].lower()
        fmt = FORMAT_OF_SCHEME.get(scheme, "text")
        title, body = render(alerts, fmt, tz, project_name)
        notifier = apprise.Apprise()
        if not notifier.add(target):
            raise ValueError(f"Apprise does not understand the channel URL {scheme}://… (see Apprise's URL list)")
        body_format = {"slack": apprise.NotifyFormat.MARKDOWN, "markdown": apprise.NotifyFormat.MARKDOWN,
                       "html": apprise.NotifyFormat.HTML}.get(fmt, apprise.NotifyFormat.TEXT)
        # interpret_escapes off: a "\n" typed in a mention stays two characters
        if not notifier.notify(body=body, title=chat_title(title, fmt), body_format=body_format,
                               interpret_escapes=False):
            raise RuntimeError(f"Apprise could not deliver to {scheme}://… (the target refused or was unreachable)")

"""Alert channels: one registry, the built-ins registered the way an outside channel would be.

A channel is chosen by the URL scheme of a rule's `channels` entry: `mailto:` is listener's own SMTP
e-mail (HTML + text, inline chart); every other scheme goes to Apprise (Slack, Teams, Telegram, Discord,
JSON/XML webhooks, ...). A `?digest=hourly|daily` suffix on any URL collects that recipient's alerts into
one message (listener.alerts.deliver); it is removed before the URL reaches the channel.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

from listener.alerts.state import AlertRecord

#: name -> channel
CHANNELS: dict[str, "Channel"] = {}


class Channel(ABC):
    name: str = ""
    #: URL schemes this channel takes; "*" = any scheme no other channel claims
    schemes: tuple[str, ...] = ()

    @abstractmethod
    def send(self, url: str, alerts: list[AlertRecord], *, project_name: str, tz: str) -> None:
        """Deliver one message holding these alerts; raise on failure (the delivery is then marked failed)."""


def register(channel_class: type[Channel]) -> type[Channel]:
    CHANNELS[channel_class.name] = channel_class()
    return channel_class


def strip_digest(url: str) -> str:
    """The URL without listener's own `digest=` parameter."""
    url = re.sub(r"([?&])digest=[^&]*&?", r"\1", url)
    return url.rstrip("?&")


def channel_for(url: str) -> Channel:
    _load_builtins()
    scheme = url.split(":", 1)[0].lower()
    fallback = None
    for channel in CHANNELS.values():
        if scheme in channel.schemes:
            return channel
        if "*" in channel.schemes:
            fallback = channel
    if fallback is None:
        raise ValueError(f"no alert channel for {url!r}")
    return fallback


def _load_builtins() -> None:
    from listener.alerts.channels import chat, email  # noqa: F401  (they register themselves)

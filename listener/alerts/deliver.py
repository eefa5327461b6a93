"""Send what is due: claim deliveries (each goes to exactly one sender), group a channel's alerts into
one message (a digest, or the alerts of one check), send, record the outcome."""

from __future__ import annotations

import logging
from datetime import datetime

from listener.alerts.channels import channel_for
from listener.alerts.state import AlertState

log = logging.getLogger(__name__)


def deliver_due(state: AlertState, project, now: datetime | None = None) -> tuple[list[dict], list[dict]]:
    sent, failed = [], []
    claimed = state.claim_due(now)
    by_channel: dict[str, list] = {}
    for delivery in claimed:
        by_channel.setdefault(delivery.channel, []).append(delivery)
    for channel_url, deliveries in by_channel.items():
        records = [state.get(d.alert_id) for d in deliveries]
        try:
            channel_for(channel_url).send(channel_url, records, project_name=project.project.name,
                                          tz=project.project.timezone)
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"
            log.warning("alert delivery to %s failed: %s", channel_url.split(":", 1)[0], reason)
            for d in deliveries:
                state.finish(d, error=reason)
                failed.append({"alert": d.alert_id, "channel": _redact(channel_url), "error": reason})
            continue
        for d in deliveries:
            state.finish(d)
            sent.append({"alert": d.alert_id, "channel": _redact(channel_url)})
    return sent, failed


def _redact(url: str) -> str:
    """A channel URL as it may be printed: tokens in chat URLs are secrets."""
    scheme, _, rest = url.partition(":")
    if scheme == "mailto":
        return url
    return f"{scheme}://…"

"""The demo's alert step: check the demo project's rule over the sample as if listener had been running all
along (every quarter hour of the last two weeks), print what it raised as a support lead reads it, and
write the e-mail it would have sent to a file the user can open."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

from listener.alerts.channels.email import build_email
from listener.alerts.check import HISTORY, check_alerts
from listener.alerts.render import render
from listener.alerts.state import open_alert_state
from listener.config import Project, Settings
from listener.runtime import open_settings_store

RECIPIENT = "support-leads@nimbus.example"


def raise_sample_alerts(settings: Settings, project: Project, now: datetime) -> dict:
    with open_settings_store(settings) as store, open_alert_state(settings) as state:
        state.purge()  # the sample moves with the clock: alerts of an earlier demo run are about other hours
        report = check_alerts(store, state, project, now, replay_from=now - HISTORY, deliver=False)
    records = report.raised
    written = []
    for record in records:
        path = settings.data_dir / f"demo-alert-{record.id}.eml"
        message = build_email([record], RECIPIENT, "listener@localhost", project.project.name,
                              project.project.timezone)
        path.write_bytes(bytes(message))
        written.append(str(path))
    texts = [render([r], "text", project.project.timezone, project.project.name)[1].replace("\u2068", "")
             .replace("\u2069", "") for r in records]
    return {"alerts": [{**r.summary(), "first": r.details.get("first")} for r in records], "texts": texts, "emails": written, "failed": report.failed}


def print_alerts(console: Console, result: dict) -> None:
    records = result["alerts"]
    updated = [r for r in records if r["realert"]]
    growth = (" (one alert, updated in place as the incident got clearly worse, rather than a second alert about "
              "the same incident)") if updated else ""
    console.print(f"\n[bold red]alerts[/bold red]: {len(records)} raised over the last {HISTORY.days} days of the "
                  f"sample, checking every quarter hour as `listener run` does: the planted incident{growth}; "
                  f"quiet days raise nothing\n")
    for text, path in zip(result["texts"], result["emails"]):
        console.print(text, markup=False, highlight=False)
        console.print(f"the e-mail it sends: {path}\n", markup=False, highlight=False)

"""The demo raises its planted incident and nothing else; the example project's rules run."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_support import NOW, incident, quiet_history  # noqa: E402

from listener.alerts.check import check_alerts  # noqa: E402
from listener.alerts.state import AlertState  # noqa: E402
from listener.cli import app  # noqa: E402
from listener.config import load_project  # noqa: E402
from listener.seo.history import RankHistory  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_raises_the_planted_incident_only_and_writes_its_email(tmp_path, monkeypatch):
    from demo.sample import INCIDENT_DAYS_AGO, INCIDENT_HOURS, INCIDENT_START_HOUR_UTC

    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    result = CliRunner().invoke(app, ["demo", "--no-score", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    alerts = summary["alerts"]["alerts"]
    assert alerts and summary["alerts"]["failed"] == []
    day = datetime.fromisoformat(alerts[0]["window_end"]).date()
    start = datetime.fromisoformat((alerts[0]["first"] or alerts[0])["window_start"])  # when it was first raised
    assert day == datetime.fromisoformat(summary["busiest_hour"]["start"]).date()
    assert str(day) == summary["busiest_hour"]["planted_incident_day"]
    assert start.hour >= INCIDENT_START_HOUR_UTC - 1 and INCIDENT_DAYS_AGO >= 1
    for alert in alerts:  # nothing on the quiet days: every alert is about the incident's hours
        end = datetime.fromisoformat(alert["window_end"])
        assert end.date() == day and end.hour <= INCIDENT_START_HOUR_UTC + INCIDENT_HOURS
    # exactly the planted alert: one, updated in place if the incident got clearly worse (not a second alert)
    assert len(alerts) == 1 and len(summary["alerts"]["emails"]) == 1
    message = message_from_bytes(Path(summary["alerts"]["emails"][0]).read_bytes(), policy=policy.default)
    assert message["To"] == "support-leads@nimbus.example" and "Nimbus" in message["Subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Answer first" in html and "reddit.com" in html
    assert any(part.get_content_type() == "image/png" for part in message.walk())


def test_the_example_projects_rules_run(tmp_path):
    project = load_project(ROOT / "examples" / "project.toml")
    assert project.alert
    path = tmp_path / "l.db"
    with SqliteStore(path) as store:
        store.upsert(quiet_history(days=6) + incident())
    with SqliteStore(path) as store, AlertState(path) as state, RankHistory(path) as history:
        report = check_alerts(store, state, project, NOW, deliver=False, history=history)
    assert report.failed == [] and report.checked >= len(project.alert)
    assert {r.rule for r in report.raised} >= {"Negative surge", "Login trouble"}

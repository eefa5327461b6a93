"""`listener alerts check|list|ack|resolve` end to end on a SQLite store (the CLI's own wiring)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_support import incident, quiet_history  # noqa: E402

from listener.cli import app  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

PROJECT = """
[[brand]]
name = "Nimbus"
query = "nimbus"

[[alert]]
name = "Volume"
brand = "Nimbus"
metric = "volume"
window = "1h"
"""


def test_check_list_ack_resolve(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    now = datetime.now(timezone.utc)
    with SqliteStore(tmp_path / "listener.db") as store:
        store.upsert(quiet_history(end=now) + incident(end=now))
    project = tmp_path / "project.toml"
    project.write_text(PROJECT)
    runner = CliRunner()
    result = runner.invoke(app, ["alerts", "check", "--project", str(project)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Answer first" in result.stdout and "1 new alert(s)" in result.stdout
    again = runner.invoke(app, ["alerts", "check", "--project", str(project), "--json"], catch_exceptions=False)
    assert json.loads(again.stdout)["raised"] == []
    listed = json.loads(runner.invoke(app, ["alerts", "list", "--json"]).stdout)
    assert [a["status"] for a in listed] == ["open"]
    alert_id = str(listed[0]["id"])
    assert runner.invoke(app, ["alerts", "ack", alert_id]).exit_code == 0
    assert json.loads(runner.invoke(app, ["alerts", "list", "--status", "acknowledged", "--json"]).stdout)
    assert runner.invoke(app, ["alerts", "resolve", alert_id]).exit_code == 0
    assert "resolved" in runner.invoke(app, ["alerts", "list"]).stdout
    missing = runner.invoke(app, ["alerts", "ack", "999"])
    assert missing.exit_code == 2 and "no alert with id 999" in missing.output
    bad = runner.invoke(app, ["alerts", "list", "--status", "closed"])
    assert bad.exit_code == 2 and "--status" in bad.output


def test_run_checks_the_rules_after_its_pass(tmp_path, monkeypatch):
    from alerts_support import WebhookSink

    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    now = datetime.now(timezone.utc)
    with SqliteStore(tmp_path / "listener.db") as store:
        store.upsert(quiet_history(end=now) + incident(end=now))
    with WebhookSink() as hook:
        project = tmp_path / "project.toml"
        project.write_text(PROJECT + f'channels = ["{hook.url()}"]\n')
        result = CliRunner().invoke(app, ["run", "--no-score", "--project", str(project)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert len(hook.bodies) == 1 and "Nimbus" in hook.bodies[0]["title"]


def test_the_task_entry_point_returns_a_json_safe_report(tmp_path):
    from listener.alerts import check_alerts
    from listener.config import Project, Settings

    now = datetime.now(timezone.utc)
    with SqliteStore(tmp_path / "listener.db") as store:
        store.upsert(quiet_history(end=now) + incident(end=now))
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path)})
    project = Project.model_validate({"brand": [{"name": "Nimbus", "query": "nimbus"}],
                                      "alert": [{"name": "Volume", "metric": "volume", "window": "1h"}]})
    report = check_alerts(settings, project)
    assert json.loads(json.dumps(report)) == report
    assert len(report["raised"]) == 1 and report["raised"][0]["rule"] == "Volume"
    assert "skipped" in check_alerts(settings, None)

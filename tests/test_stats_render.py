"""`listener stats` shows the whole range it was asked for (or says what it cut) and marks the peak."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from listener.cli import app
from listener.cli.render import MAX_SERIES_ROWS
from listener.config import Settings
from listener.model import Mention
from listener.runtime import open_settings_store

NOW = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    monkeypatch.delenv("LISTENER_PROJECT", raising=False)
    # one mention an hour for three days, and an incident of 9 more 40 hours ago
    mentions = [Mention(source="forum", native_id=f"h{h}", text=f"nimbus hour {h}",
                        published_at=NOW - timedelta(hours=h)) for h in range(71)]
    mentions += [Mention(source="forum", native_id=f"i{i}", text=f"nimbus down {i}",
                         published_at=NOW - timedelta(hours=40, minutes=i)) for i in range(9)]
    with open_settings_store(Settings.from_env()) as store:
        store.upsert(mentions)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


def series_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line[:3].strip().startswith("20") and "│" in line]


def test_the_readme_example_shows_every_hour_and_the_incident(run):
    result = run("stats", "--interval", "1h", "--since", "3d")
    assert result.exit_code == 0
    lines = series_lines(result.stdout)
    assert len(lines) == 71  # not just the last 31
    [peak] = [line for line in lines if "peak" in line]
    incident = (NOW - timedelta(hours=40)).strftime("%Y-%m-%d %H:00")
    assert peak.lstrip().startswith(incident) and "│  10 │" in peak


def test_a_series_longer_than_the_screen_says_what_was_cut(run):
    result = run("stats", "--interval", "5m", "--since", "3d")
    lines = series_lines(result.stdout)
    assert len(lines) == MAX_SERIES_ROWS
    assert "earlier bucket(s) not shown" in result.stdout
    assert "peak: " in result.stdout and "in the part not shown" in result.stdout  # 40 h ago is cut at 5m
    full = json.loads(run("stats", "--interval", "5m", "--since", "3d", "--json").stdout)
    assert len(full["timeseries"]) > MAX_SERIES_ROWS

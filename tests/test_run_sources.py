"""`listener run`: which sources a pass runs, skips and reports."""

import json

from typer.testing import CliRunner

from listener.cli import app
from listener.config import Project, Settings
from spiders.run import run_sources


def project(**sources):
    return Project.model_validate({"brand": [{"name": "Acme", "query": "acme", "sources": sources}]})


def test_unconfigured_sources_do_not_run_and_missing_credentials_are_skipped_with_a_note(tmp_path):
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path)})
    reports = run_sources(settings, project(reddit_search=True, youtube_searches=["acme review"]), score=False,
                          environ={})
    assert set(reports) == {"reddit", "youtube"}
    assert "LISTENER_REDDIT_CLIENT_ID" in reports["reddit"]["skipped"]
    assert "LISTENER_YOUTUBE_KEY" in reports["youtube"]["skipped"]
    assert run_sources(settings, project(reddit_search=False), score=False, environ={}) == {}


def test_run_cli_needs_a_project_and_checks_every(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    monkeypatch.delenv("LISTENER_PROJECT", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["run"]).exit_code == 2
    path = tmp_path / "p.toml"
    path.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n[brand.sources]\nreddit_search = false\n')
    bad = runner.invoke(app, ["run", "--project", str(path), "--every", "soon"])
    assert bad.exit_code == 2 and "--every" in bad.output
    ok = runner.invoke(app, ["run", "--project", str(path), "--no-score", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout) == {}

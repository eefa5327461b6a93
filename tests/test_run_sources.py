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


def test_run_names_each_failed_source_and_exits_non_zero(tmp_path, monkeypatch):
    """A YouTube key the API refuses: the pass goes on, YouTube is named on stderr and the exit code is 1 (with
    --json too); Reddit, unconfigured, is only skipped, which is not a failure."""
    from demo.servers.youtube import YouTubeServer, make_video

    path = tmp_path / "p.toml"
    path.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n[brand.sources]\nreddit_search = true\n'
                    'youtube_searches = ["acme review"]\n')
    for name in ("LISTENER_REDDIT_CLIENT_ID", "LISTENER_REDDIT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with YouTubeServer([make_video("v1", "acme review", "x", published=1.7e9)], [], keys={"right"}) as youtube:
        monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "data"))
        monkeypatch.setenv("LISTENER_YOUTUBE_URL", youtube.base_url)
        monkeypatch.setenv("LISTENER_YOUTUBE_KEY", "wrong")
        plain = CliRunner().invoke(app, ["run", "--project", str(path), "--no-score"])
        as_json = CliRunner().invoke(app, ["run", "--project", str(path), "--no-score", "--json"])
    assert plain.exit_code == 1, plain.output
    assert "failed: youtube" in plain.stderr and "reddit" not in plain.stderr.split("failed")[-1]
    assert as_json.exit_code == 1 and "error" in json.loads(as_json.stdout)["youtube"]


def test_failed_sources_counts_errors_and_failed_crawls_not_skips():
    from spiders.commands import failed_sources

    reports = {"crawl": {"ok": False, "spiders": {}}, "reddit": {"skipped": "not configured: set X"},
               "youtube": {"new": 3, "errors": ["search 'a': HTTP 500"]}, "feed": {"error": "boom"}}
    assert failed_sources(reports) == ["crawl", "youtube", "feed"]
    assert failed_sources({"crawl": {"ok": True, "spiders": {}}, "reddit": {"new": 0}}) == []

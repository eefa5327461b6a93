"""`listener seo …` end to end: a project file, a local provider (SearXNG's shape), a temporary data folder."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo.servers.serp import SerpServer, serp_item
from listener.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "serp"
OWN = "https://help.nimbus.example/articles/reset-password"
REDDIT = "https://www.reddit.com/r/nimbuswallet/comments/abc123/cant_reset_password/"
PROJECT = f"""
[[brand]]
name = "Nimbus"
query = "nimbus"
own_domains = ["nimbus.example"]
help_center = "https://help.nimbus.example"

[[serp]]
question = "nimbus reset password"
brand = "Nimbus"
own_page = "{OWN}"

[[serp]]
question = "nimbus fees"
brand = "Nimbus"
"""
ANSWERS = {
    "nimbus reset password": [serp_item(REDDIT, "Locked out of Nimbus"),
                              serp_item("https://evil.example/x", "=cmd|' /C calc'!A0", "@SUM(1+1)"),
                              serp_item(OWN, "Reset your password")],
    "nimbus fees": [serp_item("https://nimbus.example/pricing", "Pricing")],
}


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "data"))
    for name in ("LISTENER_STORE", "LISTENER_SERP_PROVIDER", "LISTENER_SERPAPI_KEY", "LISTENER_BRAVE_KEY"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project.toml"
    project.write_text(PROJECT, encoding="utf-8")
    monkeypatch.setenv("LISTENER_PROJECT", str(project))
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def provider(monkeypatch):
    with SerpServer(ANSWERS) as server:
        monkeypatch.setenv("LISTENER_SERP_URL", server.base_url)
        yield server


def test_check_then_report_in_every_format(run, provider, tmp_path):
    checked = run("seo", "check", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["provider"] == "searxng"  # chosen because LISTENER_SERP_URL is set
    rows = json.loads(run("seo", "report", "--format", "json").stdout)
    by_question = {r["question"]: r for r in rows}
    reset = by_question["nimbus reset password"]
    assert reset["own_position"] == 3 and [p["url"] for p in reset["outranking"]] == [REDDIT, "https://evil.example/x"]
    assert by_question["nimbus fees"]["own_position"] is None  # the pricing page is own, not self-service
    assert by_question["nimbus fees"]["outranking"] == []

    table = run("seo", "report")
    assert table.exit_code == 0 and "nimbus reset password" in table.stdout and "own page #3" in table.stdout

    out = tmp_path / "report.csv"
    assert run("seo", "report", "--format", "csv", "-o", str(out)).exit_code == 0
    cells = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    evil = next(c for c in cells if c["url"] == "https://evil.example/x")
    assert evil["title"] == "'=cmd|' /C calc'!A0"  # a formula is shown, never run by a spreadsheet
    assert [c["position"] for c in cells if c["question"] == "nimbus reset password"] == ["1", "2"]


def test_history_shows_checks_and_changes(run, provider):
    run("seo", "check")
    provider.answers["nimbus reset password"] = [serp_item(OWN, "Reset"), serp_item(REDDIT, "Locked out")]
    run("seo", "check", "--force")
    result = json.loads(run("seo", "history", "nimbus reset password", "--json").stdout)
    [item] = result
    assert [c["own_position"] for c in item["checks"]] == [3, 1]
    assert item["changes"][0]["kind"] == "own_moved"
    assert run("seo", "history", "no such question").exit_code == 2


def test_check_failures_exit_1_with_the_reason(run, monkeypatch):
    with SerpServer(ANSWERS, blocked=True) as server:
        monkeypatch.setenv("LISTENER_SERP_URL", server.base_url)
        result = run("seo", "check", "--provider", "duckduckgo")
    assert result.exit_code == 1 and "captcha" in result.stdout


def test_missing_key_is_a_setup_error(run):
    result = run("seo", "check", "--provider", "serpapi")
    assert result.exit_code == 2 and "LISTENER_SERPAPI_KEY" in result.stderr


def test_import_prints_results_and_records_into_the_history(run):
    imported = run("seo", "import", str(FIXTURES / "google_nojs.html"), "--engine", "google",
                   "--query", "nimbus reset password", "--json")
    page = json.loads(imported.stdout)
    assert [r["position"] for r in page["results"]] == [1, 2, 3, 4]
    assert page["results"][0]["category"] == "own_self_service"  # classified for the project's question
    assert page["results"][1]["kind"] == "forum"
    assert run("seo", "import", str(FIXTURES / "google_nojs.html"), "--engine", "google",
               "--query", "nimbus reset password", "--record").exit_code == 0
    [row] = [r for r in json.loads(run("seo", "report", "--format", "json").stdout)
             if r["question"] == "nimbus reset password"]
    assert row["engine"] == "google" and row["own_position"] == 1


def test_import_of_a_captcha_page_fails(run):
    result = run("seo", "import", str(FIXTURES / "google_sorry.html"), "--engine", "google", "--query", "q")
    assert result.exit_code == 1 and "unusual traffic" in result.stderr


def test_bad_format_option(run):
    assert run("seo", "report", "--format", "xml").exit_code == 2


def test_unknown_provider_is_a_setup_error(run):
    result = run("seo", "check", "--provider", "altavista")
    assert result.exit_code == 2 and "known: " in result.stderr and "searxng" in result.stderr

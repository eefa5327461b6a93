"""`listener seo fetch`: the pages that outrank the own page are crawled into the store by the real spiders
(a Scrapy crawl in a subprocess of the fixture site on 127.0.0.1), and the report then counts their mentions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo.servers.sites import SiteServer
from listener.cli import app
from listener.config import Project, Settings, load_project
from listener.seo.history import RankHistory
from listener.seo.model import SerpPage, SerpResult
from listener.seo.questions import questions_of
from spiders.seo_fetch import pages_to_fetch, project_for_pages
from spiders.settings import LOCAL_OVERRIDES

pytestmark = pytest.mark.slow
SITES = Path(__file__).parent / "fixtures" / "sites"


def project_toml(base: str) -> str:
    return f"""
[[brand]]
name = "Nimbus"
query = '(nimbus OR نیمبوس OR نيمبس) -"nimbus 2000"'
help_center = "https://help.nimbus.example"

[brand.sources]
reddit_search = false
feeds = ["{base}/feeds/fintech.rss"]

[[serp]]
question = "nimbus transfer pending"
brand = "Nimbus"
own_page = "https://help.nimbus.example/articles/pending-transfers"
"""


def test_fetch_stores_the_outranking_pages_and_the_report_counts_them(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("LISTENER_DATA", str(data))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    monkeypatch.setenv("LISTENER_SCRAPY_SETTINGS", json.dumps(LOCAL_OVERRIDES))
    with SiteServer(SITES) as server:
        thread = f"{server.base_url}/forum/t/nimbus-transfer-stuck/4411"
        project_file = tmp_path / "project.toml"
        project_file.write_text(project_toml(server.base_url), encoding="utf-8")
        monkeypatch.setenv("LISTENER_PROJECT", str(project_file))
        question = questions_of(load_project(project_file))[0]
        with RankHistory.open(Settings.from_env()) as history:
            history.record(question.key, "Nimbus", SerpPage(
                engine="test", query=question.text, fetched_at=datetime(2026, 11, 20, tzinfo=timezone.utc),
                results=[SerpResult(position=1, url=thread, title="Nimbus transfer stuck"),
                         SerpResult(position=2, url=question.own_page, title="Pending transfers")]))
        result = CliRunner().invoke(app, ["seo", "fetch", "--no-score", "--json"], catch_exceptions=False)
        asked = [r.path for r in server.requests]
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pages"] == 1 and list(report["spiders"]) == ["article"]
    assert "/forum/t/nimbus-transfer-stuck/4411" in asked
    assert not any(path.startswith("/feeds/") for path in asked)  # only the outranking pages are crawled
    rows = json.loads(CliRunner().invoke(app, ["seo", "report", "--format", "json"]).stdout)
    [page] = rows[0]["outranking"]
    assert page["url"] == thread and page["mentions"] == 3 and page["kind"] == "forum"


def test_pages_are_routed_to_the_spider_of_their_kind():
    from listener.seo.report import OutrankingPage, QuestionReport

    row = QuestionReport(question="q", brand="Nimbus", lang="en", country="us", status="ok", outranking=[
        OutrankingPage(1, "https://uk.trustpilot.com/review/nimbus.example", "trustpilot.com", "review", "", 0.3),
        OutrankingPage(2, "https://www.sitejabber.com/reviews/nimbus.example", "sitejabber.com", "review", "", 0.2),
        OutrankingPage(3, "https://www.youtube.com/watch?v=1", "youtube.com", "video", "", 0.1),
        OutrankingPage(4, "https://forum.example.org/t/x/1", "example.org", "forum", "", 0.1)])
    wanted = pages_to_fetch([row, row])
    assert wanted == {"Nimbus": {"trustpilot": ["https://uk.trustpilot.com/review/nimbus.example"],
                                 "review_pages": ["https://www.sitejabber.com/reviews/nimbus.example"],
                                 "forum_pages": ["https://forum.example.org/t/x/1"]}}
    project = Project.model_validate({"brand": [{"name": "Nimbus", "query": "nimbus",
                                                 "sources": {"feeds": ["https://x.example/rss"]}}]})
    sources = project_for_pages(project, wanted).brands[0].sources
    assert sources.feeds == [] and sources.reddit_search is False and sources.review_pages == wanted["Nimbus"]["review_pages"]

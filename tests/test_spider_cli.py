"""`listener crawl` end to end: the CLI, a crawl process, a local site, a temporary store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from listener.cli import app
from demo.servers.sites import SiteServer
from spiders.settings import LOCAL_OVERRIDES

SITES = Path(__file__).parent / "fixtures" / "sites"


@pytest.fixture
def env(tmp_path):
    with SiteServer(SITES) as server:
        project = tmp_path / "project.toml"
        project.write_text(f"""
[[brand]]
name = "Nimbus"
query = "nimbus"
[brand.sources]
forum_pages = ["{server.base_url}/forum/t/nimbus-transfer-stuck/4411", "{server.base_url}/_status/404"]

[[brand]]
name = "Orbit"
query = "orbitpay"
""", encoding="utf-8")
        yield {"LISTENER_DATA": str(tmp_path / "data"), "LISTENER_STORE": f"sqlite:///{tmp_path}/data/l.db",
               "LISTENER_PROJECT": str(project), "LISTENER_SCRAPY_SETTINGS": json.dumps(LOCAL_OVERRIDES)}


@pytest.mark.slow
def test_crawl_command_json_then_nothing_new(env):
    runner = CliRunner()
    result = runner.invoke(app, ["crawl", "article", "--no-score", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    spider = report["spiders"]["article"]
    assert (spider["inserted"], spider["failed_request_count"]) == (3, 1)
    assert spider["failed_requests"][0]["reason"] == "HTTP 404"
    again = runner.invoke(app, ["crawl", "--no-score"], env=env)  # every configured spider: just "article"
    assert again.exit_code == 0, again.output
    assert "article" in again.stdout and "HTTP 404" in again.stdout
    assert json.loads(runner.invoke(app, ["crawl", "article", "--no-score", "--json"], env=env).stdout)[
        "totals"]["inserted"] == 0


def test_crawl_command_argument_errors(env):
    runner = CliRunner()
    result = runner.invoke(app, ["crawl", "nope", "--no-score"], env=env)
    assert result.exit_code == 2 and "unknown spider 'nope'" in result.output
    result = runner.invoke(app, ["crawl", "--brand", "Nobody", "--no-score"], env=env)
    assert result.exit_code == 2 and "unknown brand 'Nobody'" in result.output
    result = runner.invoke(app, ["crawl", "--brand", "Orbit", "--no-score"], env=env)
    assert result.exit_code == 0 and "no source configured" in result.output
    result = runner.invoke(app, ["crawl", "--no-score"], env={**env, "LISTENER_PROJECT": ""})
    assert result.exit_code == 2 and "no project file" in result.output

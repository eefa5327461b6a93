"""The distributed runtime's SEO check: beat schedules it when the project has [[serp]] questions, and the
task records the classified results in the rank history (run in-process, no worker needed)."""

from __future__ import annotations

import pytest

from demo.servers.serp import SerpServer, serp_item
from listener.config import Project

OWN = "https://help.acme.example/reset"
QUESTION = {"question": "acme reset password", "brand": "Acme", "own_page": OWN}


def _project(serp, schedule=None) -> Project:
    data = {"brand": [{"name": "Acme", "query": "acme", "help_center": "https://help.acme.example",
                       "sources": {"reddit_search": False}}], "serp": serp}
    if schedule:
        data["schedule"] = schedule
    return Project.model_validate(data)


def test_beat_checks_serp_questions_at_their_interval_only_when_there_are_some():
    from workers.beat import beat_schedule
    from workers.config import ROUTES

    entry = beat_schedule(_project([QUESTION], {"serp": "12h"}))["check serp"]
    assert entry["task"] == "listener.check_serp" and entry["schedule"].total_seconds() == 43200
    assert entry["options"]["queue"] == ROUTES["listener.check_serp"]["queue"] == "gather"
    assert "check serp" not in beat_schedule(_project([]))
    with pytest.raises(ValueError, match="serp"):
        _project([QUESTION], {"serp": "daily"})


def test_the_task_records_the_questions_results(monkeypatch, tmp_path, redis_url):
    project = tmp_path / "project.toml"
    project.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\nhelp_center = "https://help.acme.example"\n'
                       f'[[serp]]\nquestion = "acme reset password"\nbrand = "Acme"\nown_page = "{OWN}"\n',
                       encoding="utf-8")
    thread = "https://www.reddit.com/r/acme/comments/1/locked_out/"
    with SerpServer({"acme reset password": [serp_item(thread, "Locked out"), serp_item(OWN, "Reset")]}) as server:
        for name, value in {"LISTENER_BROKER_URL": redis_url, "LISTENER_DATA": str(tmp_path / "data"),
                            "LISTENER_PROJECT": str(project), "LISTENER_SERP_URL": server.base_url}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("LISTENER_STORE", raising=False)
        from workers import runtime, tasks

        runtime._cache.clear()
        try:
            result = tasks.check_serp.run()
        finally:
            runtime._cache.clear()
    assert result["provider"] == "searxng" and result["checked"] == ["acme reset password [en-us]"]
    from listener.config import Settings
    from listener.seo.history import RankHistory

    with RankHistory.open(Settings.from_env()) as history:
        page = history.latest("acme reset password [en-us]").page
    assert [(r.url, r.category) for r in page.results] == [(thread, "third_party"), (OWN, "own_self_service")]

"""No-loss and politeness promises that held by design but that no test would have caught breaking: each
test here fails every time its promise is broken (checked by breaking each in a copy)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from demo.servers.sites import SiteServer
from listener.config import Project, Settings
from spiders.checkpoint import CheckpointStore
from spiders.crawl import crawl
from spiders.settings import LOCAL_OVERRIDES

SITES = Path(__file__).parent / "fixtures" / "sites"


# ---------------------------------------------------------------- 1. YouTube: checkpoint after the store


def test_youtube_remembers_nothing_when_the_store_refuses_the_pass(tmp_path):
    from demo.servers.youtube import YouTubeServer
    from test_youtube import NIMBUS, channel, make_source

    videos, comments = channel()
    with YouTubeServer(videos, comments, keys={"test-key"}) as server:
        checkpoints = CheckpointStore(tmp_path / "state.db")
        try:
            def refusing(mentions):
                raise RuntimeError("the store is down")

            with pytest.raises(RuntimeError):
                make_source(server, checkpoints).poll([NIMBUS], refusing)
            assert checkpoints.get("youtube:videos") is None
            assert not [key for key in _checkpoint_keys(checkpoints) if key.startswith("youtube")]
            server.clear_log()
            batches = []
            make_source(server, checkpoints).poll([NIMBUS], batches.append)
            got = {m.native_id for m in batches[0]}
            # everything the refused pass had read comes again: the searches from the start, every comment
            assert {f"a{i}" for i in range(130)} <= got and "b1.r0" in got
            assert server.requests_to("/youtube/v3/commentThreads")
        finally:
            checkpoints.close()


def _checkpoint_keys(checkpoints: CheckpointStore) -> list[str]:
    return [row[0] for row in checkpoints._db.execute("SELECT key FROM checkpoint")]


# ---------------------------------------------------------------- 2. Scrapy: a store error is not swallowed
# (in test_spider_pipelines.py, beside the pipeline's other tests:
#  test_a_store_error_is_not_swallowed_and_marks_nothing_done)


# ---------------------------------------------------------------- 3. robots.txt, whatever the timing


class SlowRobotsServer(SiteServer):
    """The fixture site, with a robots.txt that takes a while: every start request queues behind it,
    which is when Scrapy 2.19's stock middleware lets the second and later requests through."""

    def handle(self, request):
        if request.path == "/robots.txt":
            time.sleep(0.8)
        return super().handle(request)


@pytest.mark.slow
def test_robots_txt_is_obeyed_for_every_start_request(tmp_path):
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_STORE": f"sqlite:///{tmp_path}/l.db"})
    allowed = ["/reviews/jsonld-p1.html", "/reviews/microdata-fa.html", "/reviews/rdfa.html"]
    forbidden = ["/private/reviews.html", "/private/nimbus-memo.html", "/private/reviews.html?page=2",
                 "/private/nimbus-memo.html?x=1"]
    with SlowRobotsServer(SITES) as server:
        project = Project.model_validate({"brand": [{"name": "Nimbus", "query": "nimbus OR نیمبوس", "sources": {
            "reddit_search": False, "review_pages": [server.base_url + p for p in allowed + forbidden]}}]})
        report = crawl(["review"], project, settings, overrides={**LOCAL_OVERRIDES, "RETRY_TIMES": 0},
                       timeout=120)
        paths = [r.path for r in server.requests]
    assert report["spiders"]["review"]["robots_forbidden"] == len(forbidden)
    assert not [p for p in paths if p.startswith("/private/")]
    assert sum(p.startswith("/reviews/") for p in paths) >= len(allowed)

"""The demo's SEO part: the example project's questions, answered by a local provider from the gathered
threads, and reported with their stored sentiment."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from demo.project import SERP_QUESTIONS, demo_project
from demo.seo import run_seo
from listener.config import Settings, load_project
from listener.model import Mention, Sentiment
from listener.pipeline import host_of

ROOT = Path(__file__).resolve().parents[1]


def test_demo_asks_the_example_projects_questions():
    example = load_project(ROOT / "examples" / "project.toml")
    assert [q.model_dump() for q in demo_project().serp] == [q.model_dump() for q in example.serp]
    assert len(SERP_QUESTIONS) == 3


def test_run_seo_ranks_gathered_threads_above_the_help_center(tmp_path):
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path)})
    from listener.runtime import open_settings_store

    thread = "https://www.reddit.com/r/nimbuswallet/comments/abc/verification_code_never_arrives/"
    at = datetime(2026, 11, 20, tzinfo=timezone.utc)
    with open_settings_store(settings) as store:
        store.upsert([
            Mention(source="reddit", native_id="t3_abc", url=thread, domain=host_of(thread), lang="en",
                    title="Verification code never arrives", text="nimbus login is broken", published_at=at,
                    brands=["Nimbus"], sentiment=Sentiment(label="negative", score=0.9)),
            Mention(source="reddit", native_id="t1_x", url=thread + "x/", domain=host_of(thread), lang="en",
                    text="same, locked out of my nimbus account", published_at=at, brands=["Nimbus"],
                    thread_id="t3_abc", sentiment=Sentiment(label="negative", score=0.7)),
        ])
        rows = run_seo(settings, store, demo_project(), print)
    reset = next(r for r in rows if r.question == "nimbus reset password")
    assert reset.status == "ok" and reset.engine == "searxng"
    assert [p.url for p in reset.outranking] == [thread]  # the competitor's page below it is not third-party
    assert reset.outranking[0].mentions == 2 and reset.negative_exposure > 0.2

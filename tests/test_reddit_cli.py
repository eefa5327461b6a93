"""`listener reddit` and `listener youtube` end to end: the real CLI, PRAW / requests against the local servers,
the real pipeline (brand matching) and the embedded SQLite store; a second run stores nothing new."""

import json
import time

import pytest
from typer.testing import CliRunner

from listener.cli import app
from demo.servers.reddit import RedditServer, make_comment, make_submission
from demo.servers.youtube import YouTubeServer, make_video, make_yt_comment
from listener.store import open_store
from listener.store.base import Filters

NOW = time.time()
PROJECT = """
[[brand]]
name = "Nimbus"
query = '(nimbus OR nimbuspay) -"nimbus 2000"'
[brand.sources]
subreddits = ["nimbuswallet"]
youtube_searches = ["nimbus review"]

[[brand]]
name = "Orbit"
query = 'orbitpay'
competitor = true
[brand.sources]
reddit_search = true
"""


@pytest.fixture
def env(tmp_path):
    project = tmp_path / "project.toml"
    project.write_text(PROJECT, encoding="utf-8")
    reddit = RedditServer([
        make_submission("p1", "nimbuswallet", "Nimbus app keeps logging me out", "every morning", created_utc=NOW - 900),
        make_submission("p2", "nimbuswallet", "Off topic: best coffee?", "", created_utc=NOW - 800),
        make_comment("c1", "p1", "same, reinstalling fixed it", created_utc=NOW - 700),
        make_comment("c2", "p2", "flat white", created_utc=NOW - 600),
        make_submission("o1", "fintech", "OrbitPay vs the rest", "orbitpay is cheaper", created_utc=NOW - 500),
        make_submission("h1", "harrypotter", "Nimbus 2000 unboxing", "broom!", created_utc=NOW - 400),
    ])
    youtube = YouTubeServer(
        [make_video("v1", "Nimbus review", "is it good?", published=NOW - 3600)],
        [make_yt_comment("y1", "v1", "the app is fast", published=NOW - 1800),
         make_yt_comment("y1.r1", "v1", "agreed", parent_id="y1", published=NOW - 1700)],
        keys={"k"})
    with reddit, youtube:
        yield {
            "LISTENER_DATA": str(tmp_path / "data"), "LISTENER_PROJECT": str(project),
            "LISTENER_REDDIT_URL": reddit.base_url, "LISTENER_REDDIT_CLIENT_ID": "id",
            "LISTENER_REDDIT_CLIENT_SECRET": "secret", "LISTENER_YOUTUBE_URL": youtube.base_url,
            "LISTENER_YOUTUBE_KEY": "k", "_reddit": reddit, "_youtube": youtube, "_data": tmp_path / "data",
        }


def run(env, *args):
    result = CliRunner().invoke(app, list(args), env={k: v for k, v in env.items() if not k.startswith("_")})
    return result


def stored(env, source):
    with open_store(f"sqlite:///{env['_data'] / 'listener.db'}") as store:
        return {m.native_id: m for m in store.iter_mentions(Filters(sources=(source,)))}


def test_reddit_command_stores_brand_mentions_once(env):
    first = run(env, "reddit", "--no-score", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["source"] == "reddit" and summary["new"] >= 5
    mentions = stored(env, "reddit")
    # matched posts, and the comment in the matched thread though it never names the brand
    assert {"t3_p1", "t1_c1", "t3_o1"} <= set(mentions)
    assert mentions["t1_c1"].brands == ["Nimbus"] and mentions["t3_o1"].brands == ["Orbit"]
    # the pipeline dropped what matched no brand (the off-topic thread, the broomstick)
    assert not {"t3_p2", "t1_c2", "t3_h1"} & set(mentions)
    assert summary["pipeline"]["unmatched"] >= 3

    second = run(env, "reddit", "--no-score", "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["new"] == 0
    assert set(stored(env, "reddit")) == set(mentions)


def test_reddit_command_for_one_brand_and_plain_summary(env):
    result = run(env, "reddit", "--brand", "orbit", "--no-score")
    assert result.exit_code == 0, result.output
    assert "reddit: " in result.stdout and "new mention(s)" in result.stdout
    assert set(stored(env, "reddit")) == {"t3_o1"}


def test_reddit_command_errors_are_clear(env):
    bad_brand = run(env, "reddit", "--brand", "Acme", "--no-score")
    assert bad_brand.exit_code == 2 and "no brand named 'Acme'" in bad_brand.output
    no_keys = run({k: v for k, v in env.items() if k != "LISTENER_REDDIT_CLIENT_SECRET"}, "reddit", "--no-score")
    assert no_keys.exit_code == 2 and "LISTENER_REDDIT_CLIENT_SECRET" in no_keys.output


def test_youtube_command_stores_comments_once_and_reports_quota(env):
    first = run(env, "youtube", "--no-score", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["new"] == 2 and summary["rate_limit"]["quota_units"] >= 102
    assert set(stored(env, "youtube")) == {"y1", "y1.r1"}
    assert json.loads(run(env, "youtube", "--no-score", "--json").stdout)["new"] == 0

    env["_youtube"].quota = 0
    exhausted = run(env, "youtube", "--no-score")
    assert exhausted.exit_code == 1
    assert "quota exceeded" in exhausted.output.lower() and "midnight Pacific" in exhausted.output

"""YouTube: the parse layer on saved API answers (tests/fixtures/youtube), and the client for real against the
local YouTube Data API server (demo.servers.youtube) on 127.0.0.1."""

import json
import logging
import time
from pathlib import Path

import pytest

from listener.config import Brand, ConfigError, Settings
from demo.servers.youtube import YouTubeServer, make_video, make_yt_comment
from listener.pipeline import BrandMatcher
from spiders.checkpoint import CheckpointStore
from spiders.sources import Retry, SourceError
from spiders.youtube import (
    YouTubeSource, api_error, api_root, parse_comment_threads, parse_comments, parse_search, parse_video_counts,
    youtube_key,
)

FIXTURES = Path(__file__).parent / "fixtures" / "youtube"
NOW = time.time()
T0 = NOW - 3 * 86400
ENV = {"LISTENER_YOUTUBE_KEY": "test-key"}
NIMBUS = Brand(name="Nimbus", query='(nimbus OR نيمبس) -"nimbus 2000"',
               sources={"youtube_searches": ["nimbus wallet review"]})


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- parse


def test_search_results_are_videos_only_with_epoch_times():
    videos, token = parse_search(load("search.json"))
    assert [v["id"] for v in videos] == ["dQ4w9WgXcQa", "Zx9y8W7v6uT"]  # the channel result is left out
    assert token == "CAIQAA"
    assert videos[0]["title"].startswith("Nimbus Wallet review") and videos[0]["channel"] == "Fintech Reviews"
    assert videos[0]["published"] == pytest.approx(1762071300.0)


def test_comment_threads_give_comments_inline_replies_and_reply_counts():
    video = {"id": "dQ4w9WgXcQa", "title": "Nimbus Wallet review", "channel": "Fintech Reviews"}
    mentions, threads, token = parse_comment_threads(load("comment_threads.json"), video, ["Nimbus"])
    ids = [m.native_id for m in mentions]
    assert ids[:6] == ["UgxKREWq1"] + [f"UgxKREWq1.r{i}" for i in range(5)]
    assert "UgzEmpty3" not in ids  # no text, nothing to read
    assert threads == {"UgxKREWq1": (7, 5), "UgyAbC2": (1, 1), "UgzEmpty3": (0, 0)}
    assert token == "QURTSl9pM"
    top = mentions[0]
    assert top.source == "youtube" and top.url == "https://www.youtube.com/watch?v=dQ4w9WgXcQa&lc=UgxKREWq1"
    assert top.text == "The transfer limits are what killed it for me. 500 a day & no way to raise it."  # not &amp;
    assert (top.score, top.replies, top.thread_id, top.parent_id) == (12, 7, "dQ4w9WgXcQa", "dQ4w9WgXcQa")
    assert top.author_name == "@sara.k" and top.brands == ["Nimbus"]
    assert top.extra["video_title"] == "Nimbus Wallet review" and top.extra["edited"] == "2025-11-02T10:05:00Z"
    reply = mentions[1]
    assert reply.parent_id == "UgxKREWq1" and reply.extra["kind"] == "reply"


def test_replies_page_and_video_counts_and_error_bodies():
    mentions, token = parse_comments(load("comments_replies.json"), {"id": "dQ4w9WgXcQa"})
    assert len(mentions) == 7 and token is None and all(m.parent_id == "UgxKREWq1" for m in mentions)
    assert parse_video_counts(load("videos_statistics.json")) == {"dQ4w9WgXcQa": 131, "Zx9y8W7v6uT": None}
    assert api_error(load("error_quota_exceeded.json"))[0] == "quotaExceeded"
    assert api_error(load("error_comments_disabled.json"))[0] == "commentsDisabled"
    assert api_error({"unexpected": True}) == (None, "")


def test_key_and_base_url_from_the_environment():
    with pytest.raises(ConfigError, match="LISTENER_YOUTUBE_KEY"):
        youtube_key({})
    assert youtube_key(ENV) == "test-key"
    assert api_root(None) == "https://www.googleapis.com/youtube/v3"
    assert api_root("http://127.0.0.1:8080") == "http://127.0.0.1:8080/youtube/v3"
    assert api_root("http://127.0.0.1:8080/youtube/v3/") == "http://127.0.0.1:8080/youtube/v3"


# ---------------------------------------------------------------- against the local API


def channel():
    videos = [
        make_video("vidA", "Nimbus wallet review: 6 months later", "honest review", published=T0 + 100),
        make_video("vidB", "مراجعة محفظة نيمبس | Nimbus wallet review", "review", published=T0 + 200, channel="تقنية"),
        make_video("vidX", "Nimbus 2000 broom review, wallet not included", "wizard stuff", published=T0 + 300),
        make_video("vidOff", "Nimbus wallet review (comments off)", "", published=T0 + 400, comments_disabled=True),
        make_video("old", "Nimbus wallet review from years ago", "", published=NOW - 400 * 86400),
    ]
    comments = [make_yt_comment(f"a{i}", "vidA", f"comment {i} on the review", published=T0 + 1000 + i, likes=i)
                for i in range(130)]  # more than one page of 100 threads
    comments += [make_yt_comment(f"a0.r{j}", "vidA", f"reply {j}", parent_id="a0", published=T0 + 2000 + j)
                 for j in range(8)]  # more replies than the thread shows inline
    comments += [make_yt_comment("b1", "vidB", "تجربة ممتازة", published=T0 + 500),
                 make_yt_comment("b1.r0", "vidB", "شكرا", parent_id="b1", published=T0 + 600),
                 make_yt_comment("x1", "vidX", "cool broom", published=T0 + 700)]
    return videos, comments


@pytest.fixture
def server():
    videos, comments = channel()
    with YouTubeServer(videos, comments, keys={"test-key"}) as srv:
        yield srv


@pytest.fixture
def checkpoints(tmp_path):
    store = CheckpointStore(tmp_path / "state.db")
    yield store
    store.close()


def make_source(server, checkpoints, matcher=True, slept=None, **options):
    settings = Settings.from_env({"LISTENER_YOUTUBE_URL": server.base_url, "LISTENER_DATA": "/nonexistent"})
    match = BrandMatcher([(NIMBUS.name, NIMBUS.query)]).match if matcher else None
    retry = Retry(sleep=(slept.append if slept is not None else lambda s: None))
    return YouTubeSource.from_settings(settings, checkpoints, match, environ=ENV, retry=retry, **options)


def collect():
    batches = []
    return batches, batches.append


def test_first_pass_reads_every_comment_and_reply_of_matched_videos(server, checkpoints):
    batches, sink = collect()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    got = {m.native_id: m for m in batches[0]}
    assert {f"a{i}" for i in range(130)} <= set(got)  # two pages of threads
    assert {f"a0.r{j}" for j in range(8)} <= set(got)  # all replies, through comments.list
    assert {"b1", "b1.r0"} <= set(got)
    assert "x1" not in got  # vidX matched the search but not the brand query: not read
    assert not server.requests_to("/youtube/v3/commentThreads") or all(
        r.get("videoId") in ("vidA", "vidB") for r in server.requests_to("/youtube/v3/commentThreads"))
    assert all(m.brands == ["Nimbus"] for m in got.values())  # replies carry the video's brand
    assert got["a0.r3"].parent_id == "a0" and got["a0"].replies == 8
    assert len(server.requests_to("/youtube/v3/comments")) == 1
    search = server.requests_to("/youtube/v3/search")[0]
    assert search.get("order") == "date" and search.get("type") == "video" and search.get("publishedAfter")
    assert report.new == len(got) == 130 + 8 + 2 and not report.errors
    assert report.rate_limit["quota_units"] == 100 + 1 + 2 + 1 + 1  # search, videos, 2+1 thread pages, replies


def test_second_pass_fetches_no_comments_again(server, checkpoints):
    make_source(server, checkpoints).poll([NIMBUS], collect()[1])
    server.clear_log()
    batches, sink = collect()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert report.new == 0 and batches == []
    paths = [r.path for r in server.requests]
    assert paths == ["/youtube/v3/search", "/youtube/v3/videos"]  # the comment counts said: nothing new
    after = server.requests[0].get("publishedAfter")
    assert after > "1970" and after >= time.strftime("%Y-%m-%d", time.gmtime(T0 - 86400))


def test_new_comments_and_replies_between_passes_are_picked_up(server, checkpoints):
    make_source(server, checkpoints).poll([NIMBUS], collect()[1])
    server.add(comments=[
        make_yt_comment("a_new", "vidA", "just bought it", published=NOW - 60),
        make_yt_comment("a129.r0", "vidA", "late reply on an old thread", parent_id="a5", published=NOW - 30),
    ])
    server.clear_log()
    batches, sink = collect()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert {m.native_id for m in batches[0]} == {"a_new", "a129.r0"} and report.new == 2
    assert {r.get("videoId") for r in server.requests_to("/youtube/v3/commentThreads")} == {"vidA"}


def test_quota_exceeded_stops_with_a_clear_message_and_keeps_progress(server, checkpoints, caplog):
    server.quota = 100 + 1 + 1 + 1  # search, videos.list, then a page of threads of each video
    batches, sink = collect()
    with caplog.at_level(logging.ERROR, logger="spiders.youtube"):
        report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert report.stopped == "quota exceeded"
    assert any("quota exceeded" in e.lower() and "resets at midnight Pacific" in e for e in report.errors)
    assert any("quotaExceeded" in r.getMessage() for r in caplog.records)
    kept = {m.native_id for m in batches[0]}
    assert len(kept) >= 100  # the page read before the quota ran out was handed over
    server.quota = 10_000
    batches2, sink2 = collect()
    make_source(server, checkpoints).poll([NIMBUS], sink2)
    again = {m.native_id for m in batches2[0]}
    assert not kept & again and kept | again == {f"a{i}" for i in range(130)} | {
        f"a0.r{j}" for j in range(8)} | {"b1", "b1.r0"}


def test_server_errors_and_429_are_retried_with_backoff(server, checkpoints):
    slept = []
    server.fail_next(2, status=503, path="/youtube/v3/search")
    server.fail_next(1, status=429, path="/youtube/v3/videos", retry_after=3)
    batches, sink = collect()
    report = make_source(server, checkpoints, slept=slept).poll([NIMBUS], sink)
    assert not report.errors and report.new == 140
    assert slept == [1.0, 2.0, 3.0]  # capped exponential backoff, then the server's Retry-After


def test_a_bad_key_is_a_clear_error(server, checkpoints):
    settings = Settings.from_env({"LISTENER_YOUTUBE_URL": server.base_url, "LISTENER_DATA": "/nonexistent"})
    source = YouTubeSource.from_settings(settings, checkpoints, None, environ={"LISTENER_YOUTUBE_KEY": "wrong"})
    with pytest.raises(SourceError, match="LISTENER_YOUTUBE_KEY"):
        source.poll([NIMBUS], collect()[1])


def test_videos_that_turn_comments_off_are_no_longer_followed(server, checkpoints):
    make_source(server, checkpoints).poll([NIMBUS], collect()[1])
    server.add(videos=[make_video("vidB", "مراجعة محفظة نيمبس | Nimbus wallet review", "review",
                                  published=T0 + 200, comments_disabled=True)])
    make_source(server, checkpoints).poll([NIMBUS], collect()[1])
    followed = checkpoints.get("youtube:videos")
    assert set(followed) == {"vidA"}


def test_a_sink_that_fails_leaves_every_checkpoint_where_it_was(server, checkpoints):
    """The pollers' shared end of pass (PollingSource.finish_pass): nothing is remembered before the sink has
    taken the mentions, so the next pass reads them again."""
    def refuse(mentions):
        raise OSError("the store is down")

    with pytest.raises(OSError):
        make_source(server, checkpoints).poll([NIMBUS], refuse)
    assert checkpoints.get("youtube:videos") is None
    assert checkpoints.unseen("youtube", ["a0", "b1"]) == ["a0", "b1"]
    batches, sink = collect()
    make_source(server, checkpoints).poll([NIMBUS], sink)
    assert {"a0", "b1"} <= {m.native_id for m in batches[0]}
    assert checkpoints.get("youtube:videos") and checkpoints.unseen("youtube", ["a0"]) == []

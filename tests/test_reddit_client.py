"""The Reddit client for real: PRAW against the local Reddit server (demo.servers.reddit) on 127.0.0.1.

Each test builds a small Reddit, runs passes of `RedditSource` into an in-memory collector, and checks what
came out and what the server was asked (so "nothing fetched twice" is checked on the wire).
"""

import logging
import time

import pytest

from listener.config import Brand, ConfigError, Settings
from demo.servers.reddit import RedditServer, make_comment, make_submission
from listener.pipeline import BrandMatcher
from spiders.checkpoint import CheckpointStore
from spiders.reddit import RedditSource, reddit_credentials
from spiders.sources import Retry, SourceError

NOW = time.time()
T0 = NOW - 2 * 86400  # two days ago: inside the follow window
ENV = {"LISTENER_REDDIT_CLIENT_ID": "listener-tests", "LISTENER_REDDIT_CLIENT_SECRET": "s3cret"}
NIMBUS = Brand(name="Nimbus", query='(nimbus OR nimbuspay OR "nimbus wallet") -"nimbus 2000"',
               sources={"subreddits": ["nimbuswallet"]})


class Collector:
    """The sink: keeps what each pass handed over."""

    def __init__(self):
        self.batches = []

    def __call__(self, mentions):
        self.batches.append(list(mentions))

    @property
    def last(self):
        return {m.native_id: m for m in (self.batches[-1] if self.batches else [])}

    @property
    def all(self):
        return {m.native_id: m for batch in self.batches for m in batch}


def world():
    """A little Reddit: a brand subreddit, a general one with a big matched thread, and a false friend."""
    things = [
        make_submission("home1", "nimbuswallet", "Nimbus transfer pending for days", "Sent money Monday, still pending.",
                        author="otter", created_utc=T0 + 100),
        make_submission("home2", "nimbuswallet", "Weekly chat thread", "", author="AutoModerator", created_utc=T0 + 200),
        make_comment("hc1", "home1", "Same problem here since the update", author="dune", created_utc=T0 + 300),
        make_comment("hc2", "home2", "anyone tried the new card?", author="mint", created_utc=T0 + 400),
        make_comment("hc3", "home1", "gone", author="x", created_utc=T0 + 500),
        # r/fintech is not watched: found by search only; its tree is big (more children) and deep
        make_submission("big1", "fintech", "Is NimbusPay safe to use?", "Thinking of moving my savings.",
                        author=None, created_utc=T0 + 600),
        make_submission("link1", "fintech", "Nimbus wallet raises prices", url="https://news.example.com/nimbus-fees",
                        author="newsbot", created_utc=T0 + 700),
        # a false friend: Reddit search finds it, the project's query excludes it
        make_submission("broom1", "harrypotter", "My Nimbus 2000 arrived", "so shiny", author="wizard",
                        created_utc=T0 + 800),
        make_comment("broomc1", "broom1", "nice broom", author="witch", created_utc=T0 + 900),
    ]
    for i in range(25):  # more than the server's tree_limit: the rest come through /api/morechildren
        things.append(make_comment(f"bc{i}", "big1", f"top-level reply {i} about savings", author=f"user{i}",
                                   created_utc=T0 + 1000 + i))
    parent = "t1_bc0"
    for depth in range(12):  # deeper than Reddit nests: "continue this thread"
        things.append(make_comment(f"deep{depth}", "big1", f"deeper {depth}", parent_id=parent,
                                   created_utc=T0 + 2000 + depth))
        parent = f"t1_deep{depth}"
    return things


@pytest.fixture
def server():
    srv = RedditServer(world(), tree_limit=10)
    srv.start()
    srv.delete("t1_hc3")  # deleted by its author: "[deleted]"
    yield srv
    srv.stop()


@pytest.fixture
def checkpoints(tmp_path):
    store = CheckpointStore(tmp_path / "state.db")
    yield store
    store.close()


def make_source(server, checkpoints, matcher=True, **options):
    settings = Settings.from_env({"LISTENER_REDDIT_URL": server.base_url, "LISTENER_DATA": "/nonexistent"})
    match = BrandMatcher([(NIMBUS.name, NIMBUS.query)]).match if matcher else None
    options.setdefault("retry", Retry(sleep=lambda s: None))
    return RedditSource.from_settings(settings, checkpoints, match, environ=ENV, **options)


def test_first_pass_reads_search_subreddit_posts_comments_and_matched_trees(server, checkpoints):
    sink = Collector()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    got = sink.last
    assert not report.errors and report.stopped is None
    # search hits, the watched subreddit's posts and comments
    for name in ("t3_big1", "t3_link1", "t3_broom1", "t3_home1", "t3_home2", "t1_hc1", "t1_hc2"):
        assert name in got, name
    # every comment of the matched thread, including those behind `more` and "continue this thread"
    assert {f"t1_bc{i}" for i in range(25)} <= set(got)
    assert {f"t1_deep{d}" for d in range(12)} <= set(got)
    assert server.requests_to("/api/morechildren")  # the tree needed `more` children
    assert any("/_/" in r.path for r in server.requests_to("/comments/"))  # and "continue this thread"
    # comments in a matched thread carry the thread's brand though they never name it
    assert got["t1_bc7"].brands == ["Nimbus"] and "nimbus" not in got["t1_bc7"].text.lower()
    assert got["t1_hc1"].brands == ["Nimbus"]  # its thread (home1) matched
    assert got["t1_hc2"].brands == []  # thread home2 does not name the brand: the pipeline decides
    # the false friend came back from search, matched nothing, and its tree was not read
    assert got["t3_broom1"].brands == [] and "t1_broomc1" not in got
    assert not server.requests_to("/comments/broom1")
    # deleted author, deleted comment, link post, empty selftext
    assert got["t3_big1"].author_name is None and got["t3_big1"].extra["author_deleted"]
    assert "t1_hc3" not in got and report.skipped >= 1
    assert got["t3_link1"].text == "" and got["t3_link1"].extra["link_url"] == "https://news.example.com/nimbus-fees"
    assert got["t3_home2"].text == "" and got["t3_home2"].title == "Weekly chat thread"
    assert got["t1_deep5"].parent_id == "t1_deep4" and got["t1_deep5"].thread_id == "t3_big1"
    assert report.new == len(got)
    assert report.rate_limit["remaining"] > 0 and report.rate_limit["used"] >= report.requests - 1


def test_everything_in_an_own_subreddit_is_the_brands(server, checkpoints):
    """r/nimbuswallet listed as the brand's own: a post and a reply that never name the brand are its."""
    brand = Brand(name="Nimbus", query=NIMBUS.query, sources={"own_subreddits": ["nimbuswallet"]})
    got = Collector()
    make_source(server, checkpoints).poll([brand], got)
    assert got.last["t3_home2"].brands == ["Nimbus"] and "nimbus" not in got.last["t3_home2"].title.lower()
    assert got.last["t1_hc2"].brands == ["Nimbus"]
    assert got.last["t3_broom1"].brands == []  # outside it, the query still decides


def test_listings_page_past_100_items(server, checkpoints):
    server.add(*[make_submission(f"bulk{i}", "nimbuswallet", f"post {i}", "text", created_utc=T0 + 3000 + i)
                 for i in range(250)])
    sink = Collector()
    make_source(server, checkpoints).poll([NIMBUS], sink)
    assert {f"t3_bulk{i}" for i in range(250)} <= set(sink.last)
    pages = server.requests_to("/r/nimbuswallet/new")
    assert len(pages) == 3 and [p.get("after") is not None for p in pages] == [False, True, True]


def test_second_pass_fetches_nothing_again(server, checkpoints):
    source = make_source(server, checkpoints)
    source.poll([NIMBUS], Collector())
    server.clear_log()
    sink = Collector()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)  # a new process: state from the store only
    assert report.new == 0 and sink.batches == []
    assert not server.requests_to("/comments/") and not server.requests_to("/api/morechildren")
    assert all(r.get("after") is None for r in server.requests)  # first pages only
    assert len(server.requests_to("/api/info")) == 1  # one cheap check of the followed threads


def test_new_items_between_passes_are_picked_up_and_tagged(server, checkpoints):
    make_source(server, checkpoints).poll([NIMBUS], Collector())
    server.add(
        make_submission("home3", "nimbuswallet", "Nimbus card arrived!", "finally", created_utc=NOW - 60),
        make_comment("hc9", "home1", "fixed for me today", created_utc=NOW - 50),  # watched sub, matched thread
        make_comment("bc99", "big1", "late answer", created_utc=NOW - 40),  # followed thread outside watched subs
        make_submission("other9", "askreddit", "What wallet do you use? I like Nimbus", created_utc=NOW - 30),
    )
    server.clear_log()
    sink = Collector()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert set(sink.last) == {"t3_home3", "t1_hc9", "t1_bc99", "t3_other9"}
    assert sink.last["t1_hc9"].brands == ["Nimbus"] and sink.last["t1_bc99"].brands == ["Nimbus"]
    assert report.new == 4
    # the followed thread's tree was read again because its comment count grew; no other tree was
    assert {r.path.split("/")[2] for r in server.requests_to("/comments/")} == {"big1"}


def test_429_is_retried_after_the_wait_the_server_asks(server, checkpoints, caplog):
    slept = []
    server.fail_next(1, status=429, path="/r/nimbuswallet/new", retry_after=7)
    sink = Collector()
    with caplog.at_level(logging.WARNING, logger="spiders"):
        report = make_source(server, checkpoints, retry=Retry(sleep=slept.append)).poll([NIMBUS], sink)
    assert slept == [7.0] and not report.errors
    assert "t3_home1" in sink.last and "t1_bc3" in sink.last
    assert any("429" in r.message and "retry 1/" in r.message for r in caplog.records)


def test_500_is_retried(server, checkpoints):
    server.fail_next(1, status=500, path="/r/all/search")
    sink = Collector()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert not report.errors and "t3_big1" in sink.last
    assert len(server.requests_to("/r/all/search")) == 2


def test_a_failing_stream_keeps_its_checkpoint_and_the_others_go_on(server, checkpoints):
    brand = Brand(name="Nimbus", query=NIMBUS.query, sources={"subreddits": ["nimbuswallet", "lockedsub"]})
    server.fail_next(10, status=403, path="/r/lockedsub")
    sink = Collector()
    report = make_source(server, checkpoints).poll([brand], sink)
    assert any("lockedsub" in e and "Forbidden" in e for e in report.errors)
    assert "t3_home1" in sink.last  # the other streams were read
    assert checkpoints.get("reddit:new:lockedsub") is None
    assert checkpoints.get("reddit:new:nimbuswallet")["newest"] == pytest.approx(T0 + 200)


def test_429_that_does_not_stop_ends_the_pass_but_keeps_what_was_gathered(server, checkpoints):
    server.fail_next(100, status=429, path="/r/nimbuswallet")
    sink = Collector()
    report = make_source(server, checkpoints, retry=Retry(attempts=3, sleep=lambda s: None)).poll([NIMBUS], sink)
    assert report.stopped and "rate limited" in report.stopped
    assert "t3_big1" in sink.last  # the search ran before the subreddit
    assert checkpoints.get(next(k.key for k in report.streams if k.key.startswith("reddit:search")))
    assert checkpoints.get("reddit:new:nimbuswallet") is None


def test_nothing_is_remembered_when_the_sink_fails(server, checkpoints):
    def broken(mentions):
        raise RuntimeError("store is down")

    with pytest.raises(RuntimeError):
        make_source(server, checkpoints).poll([NIMBUS], broken)
    sink = Collector()
    make_source(server, checkpoints).poll([NIMBUS], sink)
    assert "t3_home1" in sink.last and "t1_bc3" in sink.last


def test_rate_limit_headers_are_obeyed_and_logged(checkpoints, caplog):
    # 4 requests per 2-second window: PRAW must wait for the next window instead of getting a 429
    with RedditServer(world(), rate_limit=4, rate_window=2) as srv:
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="spiders.reddit"):
            report = make_source(srv, checkpoints).poll([NIMBUS], Collector())
        elapsed = time.monotonic() - started
    assert report.requests > 5 and not report.errors and report.stopped is None
    assert elapsed >= 0.9  # it waited for a new window at least once
    lines = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert any("remaining" in line and "resets in" in line for line in lines)


def test_a_nearly_used_up_rate_limit_is_a_warning(server, checkpoints, caplog, monkeypatch):
    # Whether a pass ends a stream with the window nearly used up depends on timing (a loaded machine lets the
    # window reset first), so the warning's rule is checked on the limits PRAW reports, not on a race.
    source = make_source(server, checkpoints)
    with caplog.at_level(logging.INFO, logger="spiders.reddit"):
        monkeypatch.setattr(source, "_limits", lambda: {"remaining": 5, "used": 95, "reset_seconds": 40})
        source._log_stream("reddit:new:nimbuswallet", 2, 2)
        monkeypatch.setattr(source, "_limits", lambda: {"remaining": 60, "used": 40, "reset_seconds": 40})
        source._log_stream("reddit:new:nimbuswallet", 2, 2)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "nearly used up (5 of 100 left" in warnings[0]


def test_listing_gap_is_warned_about(checkpoints, caplog):
    with RedditServer(world(), listing_cap=30) as srv:
        make_source(srv, checkpoints, listing_cap=30).poll([NIMBUS], Collector())
        srv.add(*[make_submission(f"flood{i}", "nimbuswallet", f"flood {i}", created_utc=NOW - 1000 + i)
                  for i in range(40)])
        with caplog.at_level(logging.WARNING, logger="spiders.reddit"):
            make_source(srv, checkpoints, listing_cap=30).poll([NIMBUS], Collector())
    assert any("before reaching the last checkpoint" in r.getMessage() and "reddit:new:nimbuswallet" in r.getMessage()
               for r in caplog.records)


def test_without_a_matcher_search_results_are_the_brands_threads(server, checkpoints):
    sink = Collector()
    make_source(server, checkpoints, matcher=False).poll([NIMBUS], sink)
    assert sink.last["t3_broom1"].brands == ["Nimbus"]  # only Reddit's search vouches for it
    assert sink.last["t1_broomc1"].brands == ["Nimbus"]
    assert sink.last["t3_home2"].brands == []  # subreddit posts are left to the pipeline


def test_wrong_credentials_are_a_clear_error(checkpoints):
    with RedditServer(world(), credentials=("listener-tests", "other-secret")) as srv:
        with pytest.raises(SourceError, match="LISTENER_REDDIT_CLIENT_ID"):
            make_source(srv, checkpoints).poll([NIMBUS], Collector())


def test_missing_credentials_name_the_variables():
    with pytest.raises(ConfigError, match="LISTENER_REDDIT_CLIENT_ID and LISTENER_REDDIT_CLIENT_SECRET"):
        reddit_credentials({})
    assert reddit_credentials({**ENV, "LISTENER_REDDIT_USER_AGENT": "ua"}) == ("listener-tests", "s3cret", "ua")

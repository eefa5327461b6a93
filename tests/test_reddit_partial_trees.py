"""A comment tree that fails half-way keeps what was read and is read again next pass, watched or not."""

import pytest

from demo.servers.reddit import RedditServer, make_comment, make_submission
from test_reddit_client import NIMBUS, T0, Collector, make_source, world


def duplicate_answer(comment_id: str, submission_id: str) -> dict:
    """A /api/morechildren answer holding a comment the tree already has: PRAW raises its
    DuplicateReplaceException (a known PRAW issue with some threads)."""
    return {"json": {"errors": [], "data": {"things": [
        make_comment(comment_id, submission_id, "again", created_utc=T0 + 5000)]}}}


@pytest.fixture
def server():
    srv = RedditServer(world(), tree_limit=10)
    srv.start()
    yield srv
    srv.stop()


def test_a_failed_more_fetch_keeps_the_comments_already_read(server, checkpoints):
    # the first page of big1's tree (newest first) holds bc24..bc15; the answer repeats bc24
    server.fail_next(1, status=200, path="/api/morechildren", body=duplicate_answer("bc24", "big1"))
    sink = Collector()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert any(e.startswith("reddit:tree:t3_big1") and "DuplicateReplace" in e for e in report.errors)
    first = sink.last
    assert {f"t1_bc{i}" for i in range(15, 25)} <= set(first)  # kept, not thrown away with the failure
    assert all(first[f"t1_bc{i}"].brands == ["Nimbus"] for i in range(15, 25))

    server.clear_log()
    report = make_source(server, checkpoints).poll([NIMBUS], sink)
    assert server.requests_to("/comments/big1")  # read again
    assert not [e for e in report.errors if "big1" in e]
    assert {f"t1_bc{i}" for i in range(25)} <= set(sink.all)
    assert not set(sink.last) & set(first)  # only what the first pass missed


def test_a_failed_tree_in_a_watched_subreddit_is_read_again_too(checkpoints):
    things = [make_submission("home9", "nimbuswallet", "Nimbus card declined everywhere", "help",
                              author="otter", created_utc=T0 + 100)]
    things += [make_comment(f"hc{i}", "home9", f"me too {i}", author=f"u{i}", created_utc=T0 + 200 + i)
               for i in range(25)]
    srv = RedditServer(things, tree_limit=10)
    srv.start()
    try:
        srv.fail_next(1, status=200, path="/api/morechildren", body=duplicate_answer("hc24", "home9"))
        sink = Collector()
        report = make_source(srv, checkpoints).poll([NIMBUS], sink)
        assert any(e.startswith("reddit:tree:t3_home9") for e in report.errors)
        srv.clear_log()
        report = make_source(srv, checkpoints).poll([NIMBUS], sink)
        # its subreddit's comment stream only brings newer comments; the tree itself is fetched again
        assert srv.requests_to("/comments/home9")
        assert not report.errors
        srv.clear_log()
        make_source(srv, checkpoints).poll([NIMBUS], sink)
        assert not srv.requests_to("/comments/home9")  # read whole once: no more retries
    finally:
        srv.stop()


@pytest.fixture
def checkpoints(tmp_path):
    from spiders.checkpoint import CheckpointStore

    store = CheckpointStore(tmp_path / "state.db")
    yield store
    store.close()

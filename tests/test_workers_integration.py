"""The distributed runtime for real: `celery worker` subprocesses on real Redis, into the embedded store.

Nothing is lost and nothing is stored twice when a worker is SIGKILLed mid-run or Redis itself is killed
and restarted: late acknowledgement leaves the running task's message in Redis, Redis hands it to the next
worker after the visibility timeout (8 s here), and the store upserts by deterministic id."""

from __future__ import annotations

import json
import time

import pytest

from tests.celery_harness import (
    RedisServer, Worker, mentions, producer, send_batches, stored, wait_for, worker_env,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TOTAL = 5_000
BATCH = 10  # 500 messages: a run long enough to kill in the middle of


@pytest.fixture
def shared_redis(redis_url):
    """The test run's own Redis (conftest.redis_url), emptied for each test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _drained(client, data_dir):
    """All 5,000 stored, nothing waiting, nothing taken but unacknowledged, every task crossed out of the
    ledger."""
    from workers import ledger
    from workers.status import queue_depths

    return (stored(data_dir)[0] == TOTAL and not any(queue_depths(client).values()) and not client.hlen("unacked")
            and not ledger.pending(client))


def _state(client, data_dir) -> str:
    from workers.status import queue_depths

    return f"stored {stored(data_dir)}, queues {queue_depths(client)}, unacked {client.hlen('unacked')}"


def test_sigkill_of_a_worker_mid_run_loses_nothing_and_stores_nothing_twice(tmp_path, shared_redis, redis_url):
    env = worker_env(tmp_path, redis_url)
    data = tmp_path / "data"
    first = Worker(env, tmp_path / "first.log", name="first").wait_ready()
    try:
        assert send_batches(producer(env), mentions(TOTAL), BATCH) == TOTAL // BATCH
        wait_for(lambda: stored(data)[0] >= 800, 120, "the first worker to store 800 mentions")

        def holding_a_message() -> bool:
            """Freeze the worker; keep it frozen only if it holds a message (between two tasks it may not)."""
            first.freeze()
            if shared_redis.hlen("unacked") >= 1:
                return True
            first.thaw()
            return False

        wait_for(holding_a_message, 60, "the worker to be caught holding a message", interval=0.01)
    finally:
        first.kill()
    after_kill = stored(data)[0]
    assert after_kill < TOTAL, "the run ended before the kill: nothing was tested"
    # what the worker had taken is still in Redis, taken but not acknowledged
    assert shared_redis.hlen("unacked") >= 1

    second = Worker(env, tmp_path / "second.log", name="second").wait_ready()
    try:
        try:
            wait_for(lambda: _drained(shared_redis, data), 180, "the second worker to finish the run")
        except TimeoutError as err:
            raise AssertionError(f"{err}: {_state(shared_redis, data)}\n{second.log()}") from None
    finally:
        second.stop()
    assert stored(data) == (TOTAL, TOTAL)
    from listener.store import open_store
    from listener.store.base import Filters

    with open_store(f"sqlite:///{data / 'listener.db'}") as store:
        assert store.count(Filters(include_duplicates=True)) == TOTAL
        assert store.count(Filters(brands=("Acme",))) == TOTAL  # and every one matched the brand


def test_redis_killed_and_restarted_mid_run_loses_nothing(tmp_path):
    """Our own redis-server (append-only, fsync always) is SIGKILLed mid-run and started again on the same
    port and folder: the queue and the taken-but-unacknowledged messages come back from disk, and the ledger
    (workers.ledger) sends again the one message kombu can lose, popped by the worker's BRPOP but not yet
    recorded as unacknowledged when Redis died (celery/kombu#305). The reconciliation runs here as beat
    would run it, every second instead of every minute."""
    import redis

    from workers import ledger

    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis").start()
    env = worker_env(tmp_path, server.url)
    data = tmp_path / "data"
    app = producer(env)
    worker = Worker(env, tmp_path / "worker.log", name="restart")
    client = None
    try:
        worker.wait_ready()  # inside the try: a worker that cannot start must not leave our redis-server behind
        send_batches(app, mentions(TOTAL), BATCH)
        wait_for(lambda: stored(data)[0] >= 800, 120, "800 mentions stored before the restart")
        server.kill()
        assert stored(data)[0] < TOTAL, "the run ended before Redis went down: nothing was tested"
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.llen("score") > 0  # the waiting messages survived on disk
        assert ledger.pending(client) > 0  # and so did the ledger
        resent = []

        def finished() -> bool:
            resent.append(ledger.reconcile(app, client, overdue_after=int(env["LISTENER_VISIBILITY_TIMEOUT"]))
                          ["resent"])
            return _drained(client, data)

        try:
            wait_for(finished, 180, "the worker to finish the run after the restart", interval=1)
        except TimeoutError as err:
            raise AssertionError(f"{err}: {_state(client, data)}, ledger {ledger.pending(client)}\n"
                                 f"{worker.log()}") from None
    finally:
        worker.stop()
        if client is not None:
            client.close()
        server.kill()
    assert stored(data) == (TOTAL, TOTAL)
    print(f"ledger: {sum(resent)} message(s) sent again")  # with -s: how often the BRPOP window was hit
    # a message is sent again only when it is in no queue: the one the worker was taking, plus the running and
    # the prefetched task if they finished while Redis was down and could not be crossed out; never the
    # hundreds that were waiting when Redis died
    assert sum(resent) <= 3, resent


def test_a_batch_that_cannot_succeed_is_a_dead_letter_and_dlq_retry_and_drop_work(tmp_path, shared_redis,
                                                                                  monkeypatch, redis_url):
    """A mention that does not validate: no retries (it can never pass), straight to the dead-letter list
    with its error and traceback; a store that cannot be opened: retried with backoff, then a dead letter.
    `listener dlq retry` sends a letter again once the cause is fixed; `drop` deletes one."""
    from typer.testing import CliRunner

    from listener.cli import app

    # a visibility timeout longer than any task here: a shorter one would hand a task still being retried to
    # the worker again with its retry count at 0 (see workers.config)
    env = worker_env(tmp_path, redis_url, LISTENER_TASK_RETRIES="2", LISTENER_RETRY_BACKOFF="1",
                     LISTENER_VISIBILITY_TIMEOUT="120")
    for name, value in env.items():
        if name.startswith("LISTENER_"):
            monkeypatch.setenv(name, value)
    data = tmp_path / "data"
    good = mentions(3)
    bad = [{"source": "forum", "text": "acme but no date"}]
    worker = Worker(env, tmp_path / "dlq.log", name="dlq").wait_ready()
    try:
        client_app = producer(env)
        client_app.send_task("listener.score_batch", args=[bad], kwargs={"score": False}, queue="score")
        wait_for(lambda: shared_redis.llen("listener:dead-letters") == 1, 60, "the bad batch's dead letter")
        # a store that cannot be opened (a folder where its file should be): retried with backoff, then a
        # dead letter
        (data / "listener.db").mkdir(parents=True)
        client_app.send_task("listener.score_batch", args=[good], kwargs={"score": False}, queue="score")
        wait_for(lambda: shared_redis.llen("listener:dead-letters") == 2, 120, "the failing store's dead letter")
        (data / "listener.db").rmdir()  # the cause is fixed

        listed = CliRunner().invoke(app, ["dlq", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        letters = json.loads(listed.stdout)
        by_error = {letter["error"].split(":")[0]: letter for letter in letters}
        assert set(by_error) == {"ValidationError", "OperationalError"}
        assert by_error["ValidationError"]["retries"] == 0 and "published_at" in by_error["ValidationError"]["error"]
        assert by_error["OperationalError"]["retries"] == 2 and "Traceback" in by_error["OperationalError"]["traceback"]
        assert by_error["OperationalError"]["queue"] == "score"

        assert CliRunner().invoke(app, ["dlq", "retry", "nosuchid"]).exit_code == 2
        retried = CliRunner().invoke(app, ["dlq", "retry", by_error["OperationalError"]["id"]])
        assert retried.exit_code == 0 and "sent 1" in retried.stdout
        wait_for(lambda: stored(data)[0] == 3, 60, "the retried batch to be stored")
        dropped = CliRunner().invoke(app, ["dlq", "drop", "--all"])
        assert dropped.exit_code == 0 and "dropped 1" in dropped.stdout
        assert shared_redis.llen("listener:dead-letters") == 0

        status = CliRunner().invoke(app, ["status", "--json"])
        assert status.exit_code == 0, status.output
        report = json.loads(status.stdout)
        assert report["dead_letters"] == 0 and report["queues"] == {"gather": 0, "score": 0, "alerts": 0}
        assert report["ledger"] == 0  # the retried task was sent through the ledger and crossed out
        assert any(queues == ["score"] for queues in report["workers"].values())
    finally:
        worker.stop()


def test_run_queues_gather_tasks_that_poll_a_source_score_its_mentions_and_report_to_status(tmp_path, shared_redis,
                                                                                             monkeypatch, redis_url):
    """`listener run` with a broker: the gather worker polls YouTube (the local server) from the one registry,
    hands the comments to the score queue, the score worker stores them; `listener status` shows the run.
    A second run finds nothing new (the checkpoints are in Redis); a refused key is recorded as failed."""
    from typer.testing import CliRunner

    from demo.servers.youtube import YouTubeServer, make_video, make_yt_comment
    from listener.cli import app

    project = tmp_path / "project.toml"
    with YouTubeServer([make_video("v1", "Acme review", "acme is ok", published=time.time() - 3600)],
                       [make_yt_comment(f"c{i}", "v1", f"acme comment {i}", published=time.time() - 60 * i)
                        for i in range(1, 8)], keys={"k"}) as youtube:
        env = worker_env(tmp_path, redis_url, LISTENER_YOUTUBE_URL=youtube.base_url, LISTENER_YOUTUBE_KEY="k")
        project.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n[brand.sources]\nreddit_search = false\n'
                           'youtube_searches = ["acme review"]\n')
        for name, value in env.items():
            if name.startswith("LISTENER_"):
                monkeypatch.setenv(name, value)
        worker = Worker(env, tmp_path / "gather.log", queues="gather,score", concurrency=1, name="gather")
        worker.wait_ready()
        try:
            queued = CliRunner().invoke(app, ["run", "--no-score", "--json"])
            assert queued.exit_code == 0, queued.output
            assert list(json.loads(queued.stdout)["queued"]) == ["youtube"]
            wait_for(lambda: stored(tmp_path / "data")[0] == 7, 60, "the video's 7 comments")
            status = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)
            run = status["sources"]["youtube"]
            assert run["outcome"] == "ok" and run["new"] == 7 and run["messages"] == 1

            CliRunner().invoke(app, ["run", "--no-score"])
            wait_for(lambda: json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)["sources"]["youtube"]
                     ["finished"] > run["finished"], 60, "the second pass")
            again = json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)["sources"]["youtube"]
            assert again["outcome"] == "ok" and again["new"] == 0 and stored(tmp_path / "data")[0] == 7
        finally:
            worker.stop()
        worker = Worker({**env, "LISTENER_YOUTUBE_KEY": "refused"}, tmp_path / "gather2.log", queues="gather",
                        name="gather2").wait_ready()
        try:
            CliRunner().invoke(app, ["run", "--no-score"])
            wait_for(lambda: json.loads(CliRunner().invoke(app, ["status", "--json"]).stdout)["sources"]["youtube"]
                     ["outcome"] == "failed", 60, "the failed pass")
            plain = CliRunner().invoke(app, ["status"])
            assert "youtube" in plain.stdout and "failed" in plain.stdout
        finally:
            worker.stop()

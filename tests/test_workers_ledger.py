"""The ledger (workers.ledger) on a real Redis, with the loss it exists for played by hand: a message popped
from its queue (as kombu's BRPOP does) and never recorded as unacknowledged (Redis died in between)."""

from __future__ import annotations

import json
import time

import pytest

from tests.celery_harness import producer, worker_env

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def broker(redis_url, tmp_path):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield producer(worker_env(tmp_path, redis_url)), client
    client.flushdb()
    client.close()


def _ids_in_queue(client, queue: str = "score") -> list[str]:
    return [json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1)]


def _take(client, queue: str = "score", record: bool = True) -> str:
    """What a worker does with the oldest message: pop it, then (unless Redis 'died') record it as unacked."""
    raw = client.rpop(queue)
    if record:
        client.hset("unacked", "tag-" + json.loads(raw)["headers"]["id"], json.dumps([json.loads(raw), "", queue]))
    return json.loads(raw)["headers"]["id"]


def test_reconcile_sends_again_only_the_message_that_is_in_no_queue(broker):
    from workers import ledger

    app, client = broker
    lost, running, waiting = (ledger.send(app, client, "listener.score_batch", args=[[{"n": n}]],
                                          kwargs={"score": False}) for n in range(3))
    assert ledger.pending(client) == 3 and _ids_in_queue(client) == [waiting, running, lost]
    assert _take(client, record=False) == lost  # popped; Redis died before the unacked record
    assert _take(client) == running             # taken and recorded: the visibility timeout covers it

    # not overdue yet: nothing is touched, not even scanned
    assert ledger.reconcile(app, client, overdue_after=3600) == {"overdue": 0, "resent": 0, "dead": 0}
    report = ledger.reconcile(app, client, overdue_after=60, now=time.time() + 61)
    assert report == {"overdue": 3, "resent": 1, "dead": 0}
    assert sorted(_ids_in_queue(client)) == sorted([waiting, lost])  # sent again, with its task id
    again = json.loads(client.lrange("score", 0, 0)[0])
    assert again["headers"]["task"] == "listener.score_batch" and again["headers"]["argsrepr"] == "[[{'n': 0}]]"

    # the copy is waiting now: a second reconciliation leaves it there
    assert ledger.reconcile(app, client, overdue_after=60, now=time.time() + 200)["resent"] == 0
    for task_id in (lost, running, waiting):
        ledger.done(client, task_id)
    assert ledger.pending(client) == 0 and not client.zcard(ledger.DUE)


def test_a_task_lost_again_and_again_becomes_a_dead_letter(broker):
    from workers import ledger
    from workers.deadletters import DeadLetters

    app, client = broker
    task_id = ledger.send(app, client, "listener.score_batch", args=[[{"n": 1}]], queue="score")
    later = time.time()
    for attempt in range(ledger.RESEND_LIMIT):
        assert _take(client, record=False) == task_id
        later += 120
        assert ledger.reconcile(app, client, overdue_after=60, now=later)["resent"] == 1, attempt
    _take(client, record=False)
    assert ledger.reconcile(app, client, overdue_after=60, now=later + 120) == {"overdue": 1, "resent": 0,
                                                                               "dead": 1}
    (letter,) = DeadLetters(client).all()
    assert letter.task_id == task_id and letter.args == [[{"n": 1}]] and "NeverFinished" in letter.error
    assert ledger.pending(client) == 0 and client.llen("score") == 0


def test_a_second_reconciler_waits_for_the_first(broker):
    from workers import ledger

    app, client = broker
    ledger.send(app, client, "listener.score_batch", args=[[]])
    _take(client, record=False)
    client.set(ledger.LOCK, "1")
    assert ledger.reconcile(app, client, overdue_after=0, now=time.time() + 1)["resent"] == 0
    client.delete(ledger.LOCK)
    assert ledger.reconcile(app, client, overdue_after=0, now=time.time() + 1)["resent"] == 1


def test_beat_reconciles_every_minute_on_the_alerts_queue_with_or_without_a_project(monkeypatch, tmp_path):
    from workers.beat import schedule_from_env
    from workers.config import ROUTES

    monkeypatch.delenv("LISTENER_PROJECT", raising=False)
    entry = schedule_from_env()["reconcile ledger"]
    assert entry["task"] == "listener.reconcile" and entry["schedule"].total_seconds() == 60
    assert entry["options"]["queue"] == "alerts" == ROUTES["listener.reconcile"]["queue"]
    project = tmp_path / "project.toml"
    project.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n[brand.sources]\nsubreddits = ["acme"]\n')
    monkeypatch.setenv("LISTENER_PROJECT", str(project))
    assert {"reconcile ledger", "gather reddit"} <= set(schedule_from_env())

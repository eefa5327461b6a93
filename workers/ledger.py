"""The publisher-side ledger: every task the runtime sends is written down before it is sent and crossed out
when a worker has finished it; `reconcile` sends again what is overdue and no longer anywhere in Redis.

Why: kombu's Redis transport takes a message with BRPOP and records it as unacknowledged in a second command
(celery/kombu#305). If Redis dies between the two, or the worker dies after BRPOP answered, the message is in
neither place and no visibility timeout brings it back. Redis itself (append-only, fsync always) keeps the ledger, so after a restart the ledger
still names the lost task and its arguments. Sending a task again is harmless: the tasks are idempotent
(deterministic mention ids, upserts), and the copy keeps the task id, so whichever copy finishes first crosses
the entry out.

Keys: `listener:ledger` (hash: task id -> JSON {task, args, kwargs, queue, resent}) and `listener:ledger:due`
(sorted set: task id -> when it was last sent). Entries are written before the message, so a publisher that
dies between the two leaves an entry that reconcile sends: the gap closes from both sides.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Iterable

log = logging.getLogger(__name__)

ENTRIES = "listener:ledger"
DUE = "listener:ledger:due"
LOCK = "listener:ledger:lock"
# kombu's keys (its defaults, which workers.config keeps): the unacknowledged messages and each queue's
# priority lists, "<queue>\x06\x16<p>" for p > 0
UNACKED = "unacked"
PRIORITY_SUFFIXES = ("", *(f"\x06\x16{p}" for p in range(1, 10)))
RESEND_LIMIT = 3  # a task sent again this often and still never finishing is a dead letter, not a loop


def send(app, client, task: str, args: list | None = None, kwargs: dict[str, Any] | None = None,
         queue: str = "score") -> str:
    """Write the task into the ledger, then send it; returns its task id."""
    task_id = str(uuid.uuid4())
    entry = {"task": task, "args": list(args or []), "kwargs": dict(kwargs or {}), "queue": queue, "resent": 0}
    client.pipeline().hset(ENTRIES, task_id, json.dumps(entry)).zadd(DUE, {task_id: time.time()}).execute()
    app.send_task(task, args=entry["args"], kwargs=entry["kwargs"], queue=queue, task_id=task_id)
    return task_id


def done(client, task_id: str) -> None:
    """Cross a task out (it finished, or it is a dead letter now). Called by the worker before it acknowledges."""
    client.pipeline().hdel(ENTRIES, task_id).zrem(DUE, task_id).execute()


def pending(client) -> int:
    return client.hlen(ENTRIES)


def _ids_in_redis(client, queues: Iterable[str]) -> set[str]:
    """Task ids of every message waiting in these queues or taken by a worker and not yet acknowledged.
    Read in pages from the head, so a long queue is never one huge reply: publishers push at the head (the
    pages then overlap, which only repeats ids) and workers pop at the tail (what they pop meanwhile is in
    the unacked hash, read last), so no waiting message is skipped."""
    ids: set[str] = set()
    for queue in queues:
        for key in (queue + suffix for suffix in PRIORITY_SUFFIXES):
            start = 0
            while True:
                page = client.lrange(key, start, start + 499)
                ids.update(_task_id(raw) for raw in page)
                if len(page) < 500:
                    break
                start += 500
    for raw in client.hvals(UNACKED):  # [message, exchange, routing key]
        ids.add(_task_id(json.loads(raw)[0]))
    return ids


def _task_id(message) -> str:
    if isinstance(message, (bytes, str)):
        message = json.loads(message)
    return message.get("headers", {}).get("id") or message.get("properties", {}).get("correlation_id", "")


def reconcile(app, client, overdue_after: float, queues: Iterable[str] = ("gather", "score", "alerts"),
              now: float | None = None) -> dict[str, int]:
    """Send again every ledger entry sent more than `overdue_after` seconds ago whose message is neither
    waiting in a queue nor taken by a worker: the message Redis lost. Entries still waiting or still running
    are left alone (a backlog older than the timeout is not a loss), and only overdue entries cost a scan.
    One reconciler at a time (a lock in Redis); returns counts of what it saw and did."""
    now = time.time() if now is None else now
    overdue = [tid.decode() for tid in client.zrangebyscore(DUE, 0, now - overdue_after)]
    report = {"overdue": len(overdue), "resent": 0, "dead": 0}
    if not overdue:
        return report
    # the lock outlives a reconciler killed mid-run only briefly, and a second reconciler would only send
    # duplicates (harmless), so a short expiry is the safer side
    if not client.set(LOCK, "1", nx=True, ex=60):
        return report
    try:
        # the queues first, then the unacknowledged hash: a message moves that way, so one taken during the
        # scan is found in the second place; one finished meanwhile has left the ledger (checked below)
        present = _ids_in_redis(client, queues)
        for task_id in overdue:
            if task_id in present:
                continue
            raw = client.hget(ENTRIES, task_id)
            if raw is None:  # finished while we looked
                continue
            entry = json.loads(raw)
            if entry["resent"] >= RESEND_LIMIT:
                _give_up(client, task_id, entry)
                report["dead"] += 1
                continue
            entry["resent"] += 1
            client.pipeline().hset(ENTRIES, task_id, json.dumps(entry)).zadd(DUE, {task_id: now}).execute()
            app.send_task(entry["task"], args=entry["args"], kwargs=entry["kwargs"], queue=entry["queue"],
                          task_id=task_id)
            log.warning("ledger: %s %s was in no queue and unfinished after %.0f s: sent again (%d)",
                        entry["task"], task_id, overdue_after, entry["resent"])
            report["resent"] += 1
    finally:
        client.delete(LOCK)
    return report


def _give_up(client, task_id: str, entry: dict[str, Any]) -> None:
    from workers.deadletters import DeadLetter, DeadLetters

    DeadLetters(client).add(DeadLetter(
        task=entry["task"], args=entry["args"], kwargs=entry["kwargs"], queue=entry["queue"],
        error=f"NeverFinished: sent {entry['resent'] + 1} times, no worker finished it (a worker crash or a hard "
              "time limit each time)", traceback="", retries=entry["resent"], task_id=task_id))
    done(client, task_id)

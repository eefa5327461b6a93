"""What `listener status` shows: queue depths, live workers, dead letters, tasks not yet finished (the ledger),
and each source's last run."""

from __future__ import annotations

from typing import Any

from workers.config import QUEUES
from workers.ledger import PRIORITY_SUFFIXES as _PRIORITY_SUFFIXES  # kombu's per-priority lists of a queue


def queue_depths(client) -> dict[str, int]:
    """Messages waiting in each queue (not counting those a worker has taken but not yet acknowledged)."""
    depths = {}
    for queue in QUEUES:
        pipe = client.pipeline()
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
        depths[queue] = sum(pipe.execute())
    return depths


def collect_status(app, client, timeout: float = 1.0) -> dict[str, Any]:
    from workers import ledger
    from workers.deadletters import DeadLetters
    from workers.runtime import last_runs

    client.ping()  # fail fast, before Celery's own connection retries
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    workers = {name: sorted(q["name"] for q in queues) for name, queues in replies.items()}
    return {
        "queues": queue_depths(client),
        "unacknowledged": client.hlen("unacked"),  # taken by a worker, running or stranded by a dead one
        "workers": workers,
        "dead_letters": len(DeadLetters(client)),
        "ledger": ledger.pending(client),  # sent through the ledger, not yet finished (workers.ledger)
        "sources": last_runs(client),
    }

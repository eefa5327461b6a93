"""The Celery configuration, from the environment: JSON only, late acks, one message at a time, three queues.

Why each setting:
- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only after its task finished, so a
  worker killed mid-task leaves it in Redis (the `unacked` hash) and another worker runs it. Tasks are idempotent
  (mention ids are deterministic, the store upserts), so running one twice stores nothing twice.
- `worker_prefetch_multiplier = 1`: a worker holds one message beyond the one it runs, not dozens, so a slow
  batch never holds others hostage and a killed worker strands as little as possible.
- `visibility_timeout` (LISTENER_VISIBILITY_TIMEOUT, default 3600 s): how long a message taken by a worker that
  died waits before Redis hands it to another. kombu cannot tell a dead worker from a slow one, so a task
  still running after that long is handed to a second worker and runs twice. Hence the time limits below,
  and a configuration whose timeout does not exceed them is refused at start-up.
- `task_soft_time_limit` (LISTENER_TASK_TIME_LIMIT, default 1800 s, the longest crawl allowed): a task still
  running is interrupted (SoftTimeLimitExceeded, which becomes a dead letter); `task_time_limit`, a little
  later, kills its process if it did not stop. So no task runs as long as the visibility timeout. Retries
  wait at most what is left of the timeout (workers.tasks), since a retry waiting for its countdown is held
  by a worker like a running task.
- Three queues, each served by its own workers: `gather` (crawls and API polls: slow, network-bound), `score`
  (the model: CPU-bound) and `alerts` (latency-sensitive: a gather backlog must never delay it).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from kombu import Queue

from listener.config import ConfigError

QUEUES = ("gather", "score", "alerts")
ROUTES = {
    "listener.gather": {"queue": "gather"},
    "listener.score_batch": {"queue": "score"},
    "listener.score_pending": {"queue": "score"},
    "listener.check_alerts": {"queue": "alerts"},
    "listener.check_serp": {"queue": "gather"},  # outside HTTP like the gatherers, and as rare
    "listener.reconcile": {"queue": "alerts"},  # short, and must run while gather and score are backlogged
}


def broker_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = env.get("LISTENER_BROKER_URL", "").strip()
    if not url:
        raise ConfigError("LISTENER_BROKER_URL is not set: the distributed runtime needs Redis, e.g. "
                          "LISTENER_BROKER_URL=redis://127.0.0.1:6379/0 (see deploy/.env.example)")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"LISTENER_BROKER_URL: expected a redis:// URL, got {url.split('://')[0]}://")
    return url


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}: expected a whole number of seconds >= 1, got {raw!r}")
    return int(raw)


def time_limits(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(soft, hard) seconds: the soft limit interrupts a task, the hard one kills its process a little later
    (a tenth more, between 1 s and 1 min) if it did not stop."""
    env = os.environ if environ is None else environ
    soft = _seconds(env, "LISTENER_TASK_TIME_LIMIT", 1800)
    return soft, soft + min(60, max(1, soft // 10))


def celery_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    url = broker_url(env)
    visibility = _seconds(env, "LISTENER_VISIBILITY_TIMEOUT", 3600)
    soft, hard = time_limits(env)
    if visibility <= hard:
        raise ConfigError(f"LISTENER_VISIBILITY_TIMEOUT ({visibility} s) must exceed the longest a task can run "
                          f"(LISTENER_TASK_TIME_LIMIT {soft} s, killed at {hard} s): a task still running after "
                          "the visibility timeout is handed to a second worker and runs twice")
    # kombu looks for messages of dead workers every interval x throttle seconds (100 s by default); with a
    # short visibility timeout the sweep must be as frequent, or the timeout means nothing.
    sweep = max(1, min(10, visibility // 5))
    # The sweep holds a lock in Redis (kombu's default expiry: 300 s). A worker or Redis killed mid-sweep
    # leaves it behind (append-only Redis keeps it), and no message of a dead worker comes back until it
    # expires: keep that within the visibility timeout.
    mutex_expiry = max(5, min(300, visibility))
    return {
        "broker_url": url,
        "result_backend": url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,  # nothing waits on a task's result; reports go to logs and `listener status`
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": soft,
        "task_time_limit": hard,
        "task_queues": [Queue(name) for name in QUEUES],
        "task_default_queue": "score",
        "task_routes": ROUTES,
        "broker_transport_options": {"visibility_timeout": visibility, "unacked_restore_interval": sweep,
                                     "unacked_restore_throttle": 1, "unacked_mutex_expire": mutex_expiry},
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "broker_connection_retry_on_startup": True,
        "worker_send_task_events": True,  # `listener status` and Flower see what workers do
        "task_send_sent_event": True,
        "timezone": "UTC",
    }

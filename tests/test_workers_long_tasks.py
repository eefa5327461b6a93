"""Long tasks against the visibility timeout, with two real workers: a task that runs long (but within the
time limit) runs once, and a runaway task is stopped at the time limit and kept as a dead letter instead of
being handed, still running, to the second worker when the visibility timeout passes."""

from __future__ import annotations

import time

import pytest

from tests.celery_harness import Worker, producer, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
VISIBILITY = 12
LIMIT = 8  # soft; the hard limit is 9 s, below the visibility timeout, as workers.config demands


def _runs(journal) -> list[str]:
    return [line.split()[0] for line in journal.read_text().splitlines()] if journal.exists() else []


def test_a_long_task_runs_once_and_a_runaway_one_is_stopped_not_run_twice(tmp_path, redis_url):
    import redis

    from workers import ledger
    from workers.deadletters import DeadLetters
    from workers.status import queue_depths

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    env = worker_env(tmp_path, redis_url, LISTENER_VISIBILITY_TIMEOUT=str(VISIBILITY),
                     LISTENER_TASK_TIME_LIMIT=str(LIMIT))
    workers = [Worker(env, tmp_path / f"long{n}.log", name=f"long{n}", include="tests.celery_slow_task")
               for n in (1, 2)]
    long, runaway = tmp_path / "long.txt", tmp_path / "runaway.txt"
    try:
        for worker in workers:
            worker.wait_ready()
        app = producer(env)
        # longer than the tests' usual visibility timeout (8 s), within this one's time limit
        ledger.send(app, client, "tests.sleep", args=[LIMIT - 2, str(long)], queue="score")
        wait_for(lambda: _runs(long), 30, "the long task to start")
        # the other worker takes this one: the first holds no message beyond the one it runs (prefetch 1)
        ledger.send(app, client, "tests.sleep", args=[600, str(runaway)], queue="score")
        wait_for(lambda: _runs(runaway), 30, "the runaway task to start")
        started = time.monotonic()
        # (or for its second start, which is what happens without the time limits: the assertions say so)
        wait_for(lambda: len(DeadLetters(client)) == 1 or len(_runs(runaway)) > 1, 60,
                 "the runaway task's dead letter")
        # past the visibility timeout and two of kombu's sweeps (every 2 s here): had the runaway task still
        # been running, its message would have gone to the other worker by now
        time.sleep(max(0.0, VISIBILITY + 2 * 2 + 3 - (time.monotonic() - started)))
        assert _runs(long) == ["start", "end"]
        assert _runs(runaway) == ["start"]  # interrupted at the time limit, never started again
        (letter,) = DeadLetters(client).all()
        assert letter.task == "tests.sleep" and letter.error.startswith("SoftTimeLimitExceeded")
        assert not any(queue_depths(client).values()) and not client.hlen("unacked")
        assert ledger.pending(client) == 0
    finally:
        for worker in workers:
            worker.stop()
        client.flushdb()
        client.close()


def test_a_visibility_timeout_a_task_could_outlive_is_refused():
    from listener.config import ConfigError
    from workers.config import celery_config, time_limits

    assert time_limits({}) == (1800, 1860)
    config = celery_config({"LISTENER_BROKER_URL": "redis://127.0.0.1:1/0"})  # the defaults fit together
    assert config["task_soft_time_limit"] == 1800 and config["task_time_limit"] == 1860
    assert config["broker_transport_options"]["visibility_timeout"] == 3600
    with pytest.raises(ConfigError, match=r"LISTENER_VISIBILITY_TIMEOUT \(1860 s\) must exceed.*killed at 1860 s"):
        celery_config({"LISTENER_BROKER_URL": "redis://127.0.0.1:1/0", "LISTENER_VISIBILITY_TIMEOUT": "1860"})
    assert celery_config({"LISTENER_BROKER_URL": "redis://127.0.0.1:1/0", "LISTENER_VISIBILITY_TIMEOUT": "1861"})
    with pytest.raises(ConfigError, match="LISTENER_TASK_TIME_LIMIT"):
        celery_config({"LISTENER_BROKER_URL": "redis://127.0.0.1:1/0", "LISTENER_TASK_TIME_LIMIT": "0"})


def test_listener_worker_refuses_to_start_with_such_a_timeout(tmp_path):
    """In a fresh process, as an operator starts it: one clear line, exit 2, no worker."""
    import os
    import subprocess
    import sys

    from tests.celery_harness import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_")}
    env.update({"PYTHONPATH": str(ROOT), "LISTENER_DATA": str(tmp_path), "LISTENER_BROKER_URL": "redis://127.0.0.1:1/0",
                "LISTENER_VISIBILITY_TIMEOUT": "600"})  # the default time limit is 1800 s
    result = subprocess.run([sys.executable, "-m", "listener.cli", "worker", "--queues", "gather"], env=env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "LISTENER_VISIBILITY_TIMEOUT (600 s) must exceed" in result.stderr and "Traceback" not in result.stderr

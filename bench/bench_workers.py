"""Benchmark: scored mentions/s end to end through real Redis and real `celery worker` processes (1 and 2
score processes) against the embedded runtime on the same data, and the alert queue's latency (p50/p95)
while a 50,000-mention backlog waits on the gather and score queues.

Uses its own redis-server on a free port (append-only, as deployed) and temporary data folders.
Not a test: numbers go in the closing notes.
    python bench/bench_workers.py --n 2000 --backlog 50000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.celery_harness import (  # noqa: E402
    RedisServer, Worker, mentions, producer, send_batches, stored, wait_for, worker_env,
)

BATCH = 200  # workers.tasks.SCORE_BATCH: what a gatherer sends per message


def embedded(items: list[dict], folder: Path) -> float:
    """Mentions/s through the pipeline in this process (model loaded before the clock starts)."""
    from listener.config import Settings, load_project
    from listener.model import Mention
    from listener.pipeline import process_stream
    from listener.runtime import open_settings_store, pipeline_context

    settings = Settings.from_env({"LISTENER_DATA": str(folder)})
    project = load_project(folder.parent / "project.toml")
    with open_settings_store(settings) as store:
        ctx = pipeline_context(settings, project, store, score=True)
        ctx.scorer.score([Mention.model_validate(items[0])])  # warm-up: the first call builds the graph
        started = time.perf_counter()
        report = process_stream((Mention.model_validate(i) for i in items), ctx, batch_size=BATCH)
        elapsed = time.perf_counter() - started
    assert report.inserted == len(items) and report.scored == len(items), report
    return len(items) / elapsed


def distributed(items: list[dict], folder: Path, processes: int) -> float:
    """Mentions/s from the first message sent to the last mention stored, with `processes` score processes
    whose model is already loaded (one warm-up batch per process first)."""
    (folder / "redis").mkdir(parents=True)
    server = RedisServer(folder / "redis").start()
    # the production visibility timeout: a scoring batch takes longer than the tests' 5 s, and a shorter
    # timeout would hand it to a worker again while it still runs
    env = worker_env(folder, server.url, LISTENER_VISIBILITY_TIMEOUT="3600", LISTENER_TASK_TIME_LIMIT="1800")
    data = folder / "data"
    worker = Worker(env, folder / "worker.log", queues="score", concurrency=processes, name=f"bench{processes}")
    try:
        worker.wait_ready(120)
        app = producer(env)
        warm = mentions(processes * 4, seed=99, prefix="warm")
        for start in range(0, len(warm), 4):  # one small batch per process loads its model
            app.send_task("listener.score_batch", args=[warm[start:start + 4]], queue="score")
        wait_for(lambda: stored(data)[0] >= len(warm), 300, "the warm-up batches", interval=0.2)
        started = time.perf_counter()
        # as a gatherer publishes (workers.tasks.publish): each batch written into the ledger, then sent
        messages = send_batches(app, items, BATCH, score=True)
        published = time.perf_counter() - started
        wait_for(lambda: stored(data)[0] >= len(warm) + len(items), 3600, "the run", interval=0.1)
        elapsed = time.perf_counter() - started
        print(f"  published {messages} messages through the ledger in {published * 1000:.0f} ms "
              f"({published / messages * 1000:.1f} ms each)", flush=True)
        return len(items) / elapsed
    finally:
        worker.stop()
        server.kill()


def publish_cost(folder: Path, messages: int) -> tuple[float, float]:
    """Milliseconds per 200-mention message sent to an append-only Redis (fsync always), plain and through the
    ledger (workers.ledger: one more fsynced write holding the arguments); no worker takes them."""
    import redis

    from workers import ledger

    (folder / "redis").mkdir(parents=True)
    server = RedisServer(folder / "redis").start()
    try:
        app = producer(worker_env(folder, server.url, LISTENER_VISIBILITY_TIMEOUT="3600",
                                  LISTENER_TASK_TIME_LIMIT="1800"))
        client = redis.Redis.from_url(server.url)
        batch = mentions(BATCH, seed=3)
        app.send_task("listener.score_batch", args=[batch], queue="score")  # connects: not timed
        plain = through_ledger = 0.0
        for _ in range(messages):  # alternated, so a busy moment of the machine weighs on both alike
            started = time.perf_counter()
            app.send_task("listener.score_batch", args=[batch], queue="score")
            plain += time.perf_counter() - started
            started = time.perf_counter()
            ledger.send(app, client, "listener.score_batch", args=[batch], queue="score")
            through_ledger += time.perf_counter() - started
        client.close()
        return plain / messages * 1000, through_ledger / messages * 1000
    finally:
        server.kill()


def alert_latency(folder: Path, backlog: int, checks: int) -> tuple[list[float], int]:
    """Seconds from sending a check_alerts task to its result, `checks` times in a row, while `backlog`
    mentions wait in gather and score messages served by one busy worker each; returns the latencies and the
    messages still waiting at the end (to show the backlog was there throughout)."""
    (folder / "redis").mkdir(parents=True)
    server = RedisServer(folder / "redis").start()
    env = worker_env(folder, server.url, LISTENER_VISIBILITY_TIMEOUT="3600", LISTENER_TASK_TIME_LIMIT="1800")
    # a real rule, so each check runs the library's detectors over the store the backlog is filling
    with open(folder / "project.toml", "a", encoding="utf-8") as project:
        project.write('\n[[alert]]\nname = "acme volume"\nbrand = "Acme"\n')
    workers = [Worker(env, folder / f"{q}.log", queues=q, concurrency=1, name=f"lat-{q}")
               for q in ("gather", "score", "alerts")]
    try:
        for worker in workers:
            worker.wait_ready(120)
        app = producer(env)
        items = mentions(backlog, seed=5)
        for i, start in enumerate(range(0, len(items), BATCH)):
            app.send_task("listener.score_batch", args=[items[start:start + BATCH]], kwargs={"score": False},
                          queue=("gather", "score")[i % 2])
        latencies = []
        for _ in range(checks):
            sent = time.perf_counter()
            app.send_task("listener.check_alerts", queue="alerts", ignore_result=False).get(timeout=60)
            latencies.append(time.perf_counter() - sent)
            time.sleep(0.05)
        import redis

        waiting = sum(redis.Redis.from_url(server.url).llen(q) for q in ("gather", "score"))
        return latencies, waiting
    finally:
        for worker in workers:
            worker.stop()
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="mentions to score in each throughput run")
    parser.add_argument("--backlog", type=int, default=50_000, help="mentions queued during the latency run")
    parser.add_argument("--checks", type=int, default=40, help="alert checks timed")
    parser.add_argument("--skip", nargs="*", default=[], choices=["embedded", "1", "2", "latency", "publish"])
    args = parser.parse_args()
    items = mentions(args.n, seed=11)
    root = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    try:
        def run_folder(name: str) -> Path:
            folder = root / name
            folder.mkdir()
            return folder

        if "embedded" not in args.skip:
            folder = run_folder("embedded")
            worker_env(folder, "redis://unused")  # writes the project file
            print(f"embedded, 1 process:        {embedded(items, folder / 'data'):8.1f} scored mentions/s "
                  f"({args.n} mentions)", flush=True)
        for processes in (1, 2):
            if str(processes) not in args.skip:
                rate = distributed(items, run_folder(f"celery{processes}"), processes)
                print(f"celery on Redis, {processes} process(es): {rate:8.1f} scored mentions/s "
                      f"({args.n} mentions, {BATCH} per message)", flush=True)
        if "publish" not in args.skip:
            plain, through_ledger = publish_cost(run_folder("publish"), 100)
            print(f"publishing a {BATCH}-mention message: {plain:.1f} ms plain, {through_ledger:.1f} ms through the "
                  f"ledger (100 messages each)", flush=True)
        if "latency" not in args.skip:
            latencies, waiting = alert_latency(run_folder("latency"), args.backlog, args.checks)
            latencies.sort()
            p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
            print(f"alert check latency with a {args.backlog}-mention backlog: p50 "
                  f"{statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max "
                  f"{latencies[-1] * 1000:.1f} ms ({len(latencies)} checks; {waiting} backlog messages still "
                  f"waiting at the end)", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

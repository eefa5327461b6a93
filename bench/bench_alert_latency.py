"""Benchmark: time from a mention being stored to its alert e-mail being accepted by an SMTP server.

- `--runtime embedded` (default): a real `listener run --every 5s --no-score` process;
- `--runtime distributed`: a private redis-server, a real `celery worker -Q alerts` and `celery beat` whose
  project file schedules the alert check every `--every` (workers/beat.py).

Either runs against a temporary SQLite store holding three quiet days of K brands; an SMTP sink (aiosmtpd)
listens on 127.0.0.1. For each brand in turn, at a random moment, the benchmark stores a burst of
complaints about it, and measures until the sink accepts the e-mail whose subject names that brand.
Prints p50 / p95 / max.

    python bench/bench_alert_latency.py [--runtime embedded|distributed] [--brands 10] [--every 5s]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from listener.model import Mention  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet(brand: str, now: datetime, rng: random.Random) -> list[Mention]:
    out = []
    t = now - timedelta(days=3)
    i = 0
    while t < now - timedelta(minutes=30):
        for _ in range(rng.randint(3, 8)):
            i += 1
            out.append(Mention(source=rng.choice(["reddit", "trustpilot"]), native_id=f"{brand}-q{i}",
                               text=f"{brand.lower()} works fine", brands=[brand],
                               published_at=t + timedelta(seconds=rng.randrange(3600))))
        t += timedelta(hours=1)
    return out


def burst(brand: str, now: datetime, size: int) -> list[Mention]:
    return [Mention(source="reddit", native_id=f"{brand}-b{i}", url=f"https://example.com/{brand}/{i}",
                    title=f"{brand.lower()} is down", text=f"cannot log in to {brand.lower()}", brands=[brand],
                    published_at=now - timedelta(seconds=size - i)) for i in range(size)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=10, help="brands = trials (each raises one alert)")
    parser.add_argument("--every", default="5s", help="listener run --every")
    parser.add_argument("--window", default="1h", help="the rule's window")
    parser.add_argument("--burst", type=int, default=40, help="mentions stored per incident")
    parser.add_argument("--runtime", choices=("embedded", "distributed"), default="embedded")
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller

    received: list[tuple[float, str]] = []
    arrived = threading.Condition()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            from email import message_from_bytes, policy

            subject = str(message_from_bytes(envelope.content, policy=policy.default)["Subject"])
            with arrived:
                received.append((time.time(), subject))
                arrived.notify_all()
            return "250 OK"

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        brands = [f"Brand{i}" for i in range(args.brands)]
        project = tmp_path / "project.toml"
        lines = []
        for name in brands:
            lines += ["[[brand]]", f'name = "{name}"', f'query = "{name.lower()}"', ""]
        lines += ["[schedule]", f'alerts = "{args.every}"', "",
                  "[[alert]]", 'name = "Spike"', 'metric = "volume"', f'window = "{args.window}"',
                  'channels = ["mailto:lead@example.com"]', ""]
        project.write_text("\n".join(lines))
        db = tmp_path / "listener.db"
        now = datetime.now(timezone.utc)
        with SqliteStore(db) as store:
            for name in brands:
                store.upsert(quiet(name, now, rng))
        port = free_port()
        controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        controller.start()
        env = {**os.environ, "LISTENER_DATA": str(tmp_path), "LISTENER_STORE": f"sqlite:///{db}",
               "LISTENER_SMTP_HOST": "127.0.0.1", "LISTENER_SMTP_PORT": str(port), "LISTENER_SMTP_SECURITY": "none",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        processes = []
        if args.runtime == "embedded":
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "listener.cli", "run", "--every", args.every, "--no-score", "--project",
                 str(project)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        else:
            from tests.celery_harness import RedisServer

            redis = RedisServer(tmp_path).start()
            env.update({"LISTENER_BROKER_URL": redis.url, "LISTENER_PROJECT": str(project)})
            log = open(tmp_path / "celery.log", "ab")
            for role in (["worker", "-Q", "alerts", "-c", "1", "--without-gossip", "--without-mingle"],
                         ["beat", "-s", str(tmp_path / "celerybeat-schedule")]):
                processes.append(subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.app", *role],
                                                  env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                                  start_new_session=True))
        latencies = []
        try:
            time.sleep(3.0 if args.runtime == "embedded" else 8.0)  # start-up and a first check: nothing to raise
            if received:
                print(f"warning: {len(received)} e-mail(s) before any incident: {received}")
            for name in brands:
                time.sleep(rng.uniform(0.5, 5.0))
                with SqliteStore(db) as store:
                    store.upsert(burst(name, datetime.now(timezone.utc), args.burst))
                stored = time.time()
                deadline = stored + 120
                got = None
                with arrived:
                    while got is None and time.time() < deadline:
                        got = next((t for t, subject in received if f"{name}:" in subject), None)
                        if got is None:
                            arrived.wait(timeout=0.5)
                if got is None:
                    print(f"{name}: no e-mail within 120 s")
                    continue
                latencies.append(got - stored)
                print(f"{name}: {got - stored:5.2f} s", flush=True)
        finally:
            for proc in processes:
                os.killpg(proc.pid, signal.SIGINT if args.runtime == "embedded" else signal.SIGTERM)
            for proc in processes:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            if args.runtime == "distributed":
                redis.kill()
            controller.stop()
        if not latencies:
            log_file = tmp_path / "celery.log"
            print("no alert arrived", log_file.read_text(errors="replace")[-3000:] if log_file.exists() else "")
            return 1
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
        print(f"stored -> e-mail accepted, {args.runtime}, {len(latencies)}/{len(brands)} alerts, "
              f"checks every {args.every}: "
              f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real Celery workers and real Redis for the workers' integration tests: worker subprocesses (killable as a
whole process group), a private redis-server with append-only persistence, a producer, and store counts."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = '[[brand]]\nname = "Acme"\nquery = "acme"\n[brand.sources]\nreddit_search = false\n'
WORDS = ("login", "refund", "card", "update", "slow", "great", "support", "fees", "crash", "verify", "transfer",
         "limit", "bonus", "screen", "password", "email", "delay", "friendly", "broken", "fast", "account", "code")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_available(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


def worker_env(tmp_path: Path, broker: str, **extra: str) -> dict[str, str]:
    (tmp_path / "project.toml").write_text(PROJECT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_")}
    env.update({"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
                "LISTENER_BROKER_URL": broker, "LISTENER_DATA": str(tmp_path / "data"),
                "LISTENER_PROJECT": str(tmp_path / "project.toml"),
                # a dead worker's message goes to another after 8 s, not the production hour; so no task may
                # run longer than 5 s (killed at 6 s): workers.config refuses a timeout that does not exceed that
                "LISTENER_VISIBILITY_TIMEOUT": "8", "LISTENER_TASK_TIME_LIMIT": "5", **extra})
    return env


def producer(env: dict[str, str]):
    """A Celery app configured like the workers (same config function), for sending tasks by name."""
    from celery import Celery

    from workers.config import celery_config

    app = Celery("listener-test-producer")
    app.conf.update(celery_config(env))
    return app


def mentions(count: int, seed: int = 7, prefix: str = "m") -> list[dict]:
    """`count` distinct JSON mentions of Acme (varied words, so none is a near-duplicate of another); ids
    differ between prefixes."""
    from listener.model import Mention

    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return [Mention(source="forum", native_id=f"{prefix}{i}", url=f"https://forum.example/{prefix}/{i}",
                    text=f"acme {' '.join(rng.choice(WORDS) for _ in range(14))} number {i}",
                    published_at=start + timedelta(seconds=37 * i)).model_dump(mode="json")
            for i in range(count)]


def send_batches(app, items: list[dict], size: int, score: bool = False) -> int:
    """Send score batches as the runtime does (workers.tasks.publish): through the ledger."""
    import redis

    from workers import ledger

    client = redis.Redis.from_url(app.conf.broker_url)
    try:
        for start in range(0, len(items), size):
            ledger.send(app, client, "listener.score_batch", args=[items[start:start + size]],
                        kwargs={"score": score}, queue="score")
    finally:
        client.close()
    return (len(items) + size - 1) // size


class Worker:
    """`celery -A workers.app worker` in its own process group, so SIGKILL reaches the parent and its children."""

    def __init__(self, env: dict[str, str], log: Path, queues: str = "score", concurrency: int = 1, name: str = "w",
                 include: str = ""):
        self.log_path = log
        self._log = open(log, "ab")
        # include: more task modules for this worker (Celery's --include), e.g. the tests' slow task
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", queues, "-c", str(concurrency),
             "-P", "prefork", "--without-gossip", "--without-mingle", "-n", f"{name}-{os.getpid()}@%h",
             "--loglevel", "info", *(["--include", include] if include else [])],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)

    def wait_ready(self, timeout: float = 60) -> "Worker":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def freeze(self) -> None:
        """SIGSTOP the whole worker: it holds whatever it had taken, so the test can look before killing."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as a crashed machine would."""
        with _quiet():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with _quiet():
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._log.close()


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        return kind is ProcessLookupError


class RedisServer:
    """A private redis-server on a free port, append-only with fsync on every write, stoppable by PID."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                                      str(self.folder), "--appendonly", "yes", "--appendfsync", "always",
                                      "--save", "", "--protected-mode", "yes"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_available(self.url):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def stored(data_dir: Path) -> tuple[int, int]:
    """(rows, distinct ids) in the embedded store's mention table, read directly."""
    path = data_dir / "listener.db"
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(path, timeout=10)
    try:
        table = _mention_table(db)
        if table is None:
            return 0, 0
        rows, ids = db.execute(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}").fetchone()
        return rows, ids
    finally:
        db.close()


def _mention_table(db) -> str | None:
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return "mentions" if "mentions" in names else "mention" if "mention" in names else None


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"gave up waiting {timeout:.0f} s for {what}")

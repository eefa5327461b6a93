"""Checkpoints for incremental sources: a small durable key-value store and a bounded seen-set.

Every incremental source (Reddit listings, feeds, review pages, YouTube) keeps its position here, so a
second run fetches only what is new. `open_checkpoints(settings)` picks where:
- embedded runtime: a SQLite file in the data folder (`state.db`); each `set` is atomic, so a crash never
  leaves a half-written checkpoint.
- distributed runtime (LISTENER_BROKER_URL set): the broker's Redis, under `listener:checkpoint` and
  `listener:seen:<scope>`. Every gather worker on every machine sees the same positions, a value is one
  atomic HSET, and the Redis of deploy/ runs with append-only persistence, so positions survive restarts.
  Redis rather than the store because the store may be Elasticsearch, whose writes become visible only
  after a refresh: two workers could both read an old position. Redis is already a hard dependency here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from listener.privacy import private_file


class CheckpointStore:
    """Durable JSON values by key, e.g. `reddit:search:Nimbus` -> {"newest_utc": 1700000000}."""

    def __init__(self, path: str | Path):
        self.path = private_file(path)  # which posts were read and where: owner-only, like the store
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS checkpoint (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
                         " updated REAL NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (scope TEXT NOT NULL, item TEXT NOT NULL,"
                         " at REAL NOT NULL, PRIMARY KEY (scope, item)) WITHOUT ROWID")

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM checkpoint WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT INTO checkpoint (key, value, updated) VALUES (?, ?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                             (key, json.dumps(value), time.time()))

    def unseen(self, scope: str, items: Iterable[str]) -> list[str]:
        """The items not yet marked seen in this scope, in their order (for URLs, entry ids, ...)."""
        items = list(dict.fromkeys(items))
        if not items:
            return []
        seen: set[str] = set()
        with self._lock:
            for start in range(0, len(items), 500):  # stay under SQLite's variable limit
                chunk = items[start:start + 500]
                marks = ",".join("?" * len(chunk))
                seen.update(r[0] for r in self._db.execute(
                    f"SELECT item FROM seen WHERE scope = ? AND item IN ({marks})", (scope, *chunk)))
        return [item for item in items if item not in seen]

    def mark_seen(self, scope: str, items: Iterable[str]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO seen (scope, item, at) VALUES (?, ?, ?)",
                                 [(scope, item, now) for item in items])
            self._db.execute("COMMIT")

    def forget(self, prefix: str = "") -> None:
        """Drop checkpoints and seen marks whose key/scope starts with prefix (all when empty)."""
        with self._lock:
            self._db.execute("DELETE FROM checkpoint WHERE key LIKE ? || '%'", (prefix,))
            self._db.execute("DELETE FROM seen WHERE scope LIKE ? || '%'", (prefix,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisCheckpointStore:
    """The CheckpointStore interface over Redis, shared by every worker (see the module docstring)."""

    PREFIX = "listener:"

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._values = f"{self.PREFIX}checkpoint"

    def _seen_key(self, scope: str) -> str:
        return f"{self.PREFIX}seen:{scope}"

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._redis.hget(self._values, key)
        return json.loads(raw) if raw is not None else default

    def set(self, key: str, value: Any) -> None:
        self._redis.hset(self._values, key, json.dumps(value))

    def unseen(self, scope: str, items: Iterable[str]) -> list[str]:
        items = list(dict.fromkeys(items))
        if not items:
            return []
        flags: list[int] = []
        for start in range(0, len(items), 1000):
            flags.extend(self._redis.smismember(self._seen_key(scope), items[start:start + 1000]))
        return [item for item, seen in zip(items, flags) if not seen]

    def mark_seen(self, scope: str, items: Iterable[str]) -> None:
        items = list(items)
        for start in range(0, len(items), 1000):
            self._redis.sadd(self._seen_key(scope), *items[start:start + 1000])

    def forget(self, prefix: str = "") -> None:
        stale = [key for key in self._redis.hkeys(self._values) if key.decode().startswith(prefix)]
        if stale:
            self._redis.hdel(self._values, *stale)
        for key in self._redis.scan_iter(match=f"{self._seen_key(prefix)}*", count=500):
            self._redis.delete(key)

    def close(self) -> None:
        self._redis.close()


def open_checkpoints(settings) -> "CheckpointStore | RedisCheckpointStore":
    """The checkpoints of this deployment: the broker's Redis when there is one, else the data folder's file."""
    if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCheckpointStore(settings.broker_url)
    return CheckpointStore(settings.data_dir / "state.db")


class BoundedSeen:
    """An in-memory seen-set that forgets the oldest entries past `size` (as PRAW's stream does),
    for long-running polls where the durable store is consulted only at start-up."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._items: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> bool:
        """Add an item; True when it was new."""
        if item in self._items:
            self._items.move_to_end(item)
            return False
        self._items[item] = None
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return True

    def __contains__(self, item: str) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)


def backoff_delays(base: float = 1.0, cap: float = 60.0):
    """Capped exponential backoff: 1, 2, 4, ... up to `cap` seconds, forever (caller decides when to stop)."""
    delay = base
    while True:
        yield delay
        delay = min(delay * 2, cap)

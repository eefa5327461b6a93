"""Rank history: every check of every question, kept beside the mentions in the SQLite database file.

Two tables of their own (`serp_checks`, `serp_results`) in the store's file (LISTENER_STORE sqlite:///…), so
the store interface does not change; with Elasticsearch as the store they live in `seo.db` in the data
folder. A third, `serp_requests`, counts requests per provider for the daily quota. The history is also the
cache: `latest()` within the check interval answers instead of the provider.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from listener.config import Settings
from listener.seo.model import SerpPage, SerpResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS serp_checks (
    id INTEGER PRIMARY KEY,
    question TEXT NOT NULL,             -- listener.seo.questions.Question.key: text and market
    brand TEXT NOT NULL,
    engine TEXT NOT NULL,
    checked_at INTEGER NOT NULL,        -- epoch seconds, UTC
    features TEXT NOT NULL              -- JSON list of SERP features present
);
CREATE INDEX IF NOT EXISTS serp_checks_question ON serp_checks(question, checked_at);
CREATE TABLE IF NOT EXISTS serp_results (
    check_id INTEGER NOT NULL REFERENCES serp_checks(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    position INTEGER NOT NULL,
    feature TEXT NOT NULL,
    url TEXT NOT NULL,
    domain TEXT,
    category TEXT,
    kind TEXT,
    title TEXT NOT NULL,
    snippet TEXT NOT NULL,
    PRIMARY KEY (check_id, ord)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS serp_requests (engine TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS serp_requests_engine ON serp_requests(engine, at);
"""


@dataclass
class Check:
    """One stored check: a question's result page at a time."""

    id: int
    question: str
    brand: str
    page: SerpPage


def history_path(settings: Settings) -> Path:
    """The SQLite file of the mention store when it is SQLite, else seo.db in the data folder."""
    url = settings.store_url
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:"):].removeprefix("//")
        if rest.startswith("//"):
            rest = rest[1:]
        if rest not in ("", ":memory:", "/:memory:"):
            return Path(rest)
    return settings.data_dir / "seo.db"


def _epoch(value: datetime) -> int:
    return int(value.astimezone(timezone.utc).timestamp())


class RankHistory:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")  # as the mention store: readers never wait for a check
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)

    @classmethod
    def open(cls, settings: Settings) -> "RankHistory":
        return cls(history_path(settings))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RankHistory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def record(self, question: str, brand: str, page: SerpPage) -> int:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "INSERT INTO serp_checks (question, brand, engine, checked_at, features) VALUES (?, ?, ?, ?, ?)",
                (question, brand, page.engine, _epoch(page.fetched_at), json.dumps(page.features)))
            check_id = cur.lastrowid
            self._db.executemany(
                "INSERT INTO serp_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(check_id, n, r.position, r.feature, r.url, r.domain, r.category, r.kind, r.title, r.snippet)
                 for n, r in enumerate(page.results)])
        return check_id

    def _load(self, row) -> Check:
        check_id, question, brand, engine, checked_at, features = row
        results = [SerpResult(position=p, feature=f, url=u, domain=d, category=c, kind=k, title=t, snippet=s)
                   for p, f, u, d, c, k, t, s in self._db.execute(
                       "SELECT position, feature, url, domain, category, kind, title, snippet FROM serp_results "
                       "WHERE check_id = ? ORDER BY ord", (check_id,))]
        page = SerpPage(engine=engine, query=question.rsplit(" [", 1)[0], results=results,
                        features=json.loads(features),
                        fetched_at=datetime.fromtimestamp(checked_at, timezone.utc))
        return Check(id=check_id, question=question, brand=brand, page=page)

    def latest(self, question: str, newer_than: datetime | None = None) -> Check | None:
        row = self._db.execute(
            "SELECT id, question, brand, engine, checked_at, features FROM serp_checks WHERE question = ? "
            "AND checked_at >= ? ORDER BY checked_at DESC, id DESC LIMIT 1",
            (question, _epoch(newer_than) if newer_than else 0)).fetchone()
        return self._load(row) if row else None

    def checks(self, question: str, limit: int = 50) -> list[Check]:
        """The question's checks, oldest first (the last `limit`)."""
        rows = self._db.execute(
            "SELECT id, question, brand, engine, checked_at, features FROM serp_checks WHERE question = ? "
            "ORDER BY checked_at DESC, id DESC LIMIT ?", (question, limit)).fetchall()
        return [self._load(row) for row in reversed(rows)]

    def questions(self) -> list[str]:
        return [q for (q,) in self._db.execute("SELECT DISTINCT question FROM serp_checks ORDER BY question")]

    # ------------------------------------------------------------------ quota

    def count_request(self, engine: str, at: datetime) -> None:
        self._db.execute("INSERT INTO serp_requests VALUES (?, ?)", (engine, _epoch(at)))

    def requests_since(self, engine: str, since: datetime) -> int:
        return self._db.execute("SELECT count(*) FROM serp_requests WHERE engine = ? AND at >= ?",
                                (engine, _epoch(since))).fetchone()[0]


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


__all__ = ["Check", "RankHistory", "history_path", "start_of_day"]

"""The embedded store: one SQLite file (WAL) with an FTS5 index, for `sqlite:///path/to/listener.db`.

Layout
------
- `mentions`: one narrow row per mention, with the columns the filters and the query compiler read
  (listener.query.sqlite.SCHEMA_SQL is the part the query reads; its `index_values` fills those columns and
  the FTS row, so the store and the in-memory matcher cannot drift apart). The `rowid` encodes the
  published time: ``rowid = published_second << SLOT_BITS | n << 1 | duplicate``, n counting mentions of
  the same second, and the lowest bit set for near-duplicates. So `ORDER BY rowid` IS date order,
  `since`/`until` are rowid ranges, and every single-column index (source, author, brand, topic) is
  sorted by time within each value: "the latest 20 where x" walks one b-tree backwards whatever x is,
  however out of order the mentions arrived. A plain text search (with a date range, duplicates left out)
  is answered by the FTS index alone, without reading a table row: all it needs is in the rowid.
  (The alternative, arrival-order rowids plus an index on published_at, measured on 1M documents: 3 to
  9 times slower for "the latest 20 with this word", thousands of times slower with a source filter, and
  about 20 % smaller, since FTS5 stores rowid deltas; `bench/bench_store.py --compare-layouts`.)
- `mention_docs`: the full Mention as JSON, so `get` round-trips exactly. Apart from `mentions` so counts,
  filters and aggregations scan narrow rows, and a page reads only the documents it shows.
- `mentions_fts` (FTS5, unicode61 without diacritic folding): title and body after
  `listener.text.normalise`, rowid = mentions.rowid. Normalising in Python on both sides (here and in the
  query compiler) is what makes «كتاب» find «کتاب».
- `mention_brands`, `mention_topics`: the multi-valued fields, one row per value.
- `mention_bands`: the near-duplicate fingerprint bands (listener.dedupe.bands) of originals (mentions with
  a fingerprint and no duplicate_of), each as a 64-bit hash of the band key, for `find_fingerprints`.

Searching
---------
Filters and the query become one WHERE clause over `mentions m` (`_Selection`). When there is a
"driver" (the query's text part as one FTS5 expression, or a single brand or topic), its rows are walked
newest first (both indexes iterate by rowid, i.e. by time) and the rest is checked row by row, instead of
first collecting every match of a common word or a big brand. Date sort: rowid descending (keyset cursor:
the last rowid). Relevance ranks by bm25 the newest `relevance_window` matches of the query's words and
lists the other matches after them by date (see `_ranked_page`). `total` is exact up to `count_limit`
and remembered until the next write by any connection, so paging on does not count again. Counting is
what costs at scale: about a microsecond per selected row, unless the driver alone is the selection.

Statistics
----------
Counts, breakdowns (terms) and time series read the summary tables of listener.store.sqlite_rollups
(quarter-hour counts by up to two of brand, source, lang and sentiment, and by topic alone, with brand or
with sentiment; by domain alone; by rating alone and with sentiment; per-day author counts), kept exact
in the same transactions as the mentions, whenever the filters and the split are among what they keep;
the whole-year daily series is then about 1,500 summary rows instead of a million mentions. Anything else
(a query, an author, three dimensions at once) counts the mentions, as do the ragged edges of a date range.

Concurrency
-----------
A SqliteStore holds ONE connection, shared by every thread that uses the object and guarded by a lock
(the web app may share one store between worker threads; calls are serialised). Other processes or Store
objects open their own connections to the same file: WAL lets readers read while one writer writes, and
writers wait up to `busy_timeout` for each other. Every upsert batch is one transaction (BEGIN IMMEDIATE),
so a failed batch leaves nothing behind and can be retried whole.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import logging
import math
import re
import sqlite3
import threading
import time
from bisect import bisect_right
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Literal, Sequence
from zoneinfo import ZoneInfo

from listener.model import MIXED_MIN, SENTIMENT_LABELS, Mention
from listener.privacy import private_file
from listener.store import register
from listener.store.base import (
    INTERVALS, TERM_FIELDS, CursorError, Filters, Hit, Page, QueryTooSlow, SeriesTooLong, Store, UpsertResult,
    too_slow_message,
)
from listener.store import sqlite_rollups as rollups
from listener.text import normalise, tokens

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5  # 2: mention_brands and mention_topics carry the sentiment; 3: rollups; 4: rollups by domain
#                     and rating; 5: the sentiment's three probabilities (see _UPGRADES)
#: low bits of the rowid: up to 2**(SLOT_BITS - 1) mentions may share one published second. Beyond that the
#: allocator spills into the next second's slots, and for those mentions date order, date filters and time
#: buckets (all read the time from the rowid) are off by the few seconds they spilled.
SLOT_BITS = 16
#: FTS5 bm25 column weights (title, body): a word in the title counts double.
BM25_WEIGHTS = (2.0, 1.0)
SNIPPET_CHARS = 200
_SNIPPET_LEAD = 60  # characters of context kept before the first match
MAX_BUCKETS = 100_000
_PROGRESS_STEPS = 10_000
#: a date-sorted search walks at most this many text matches before switching to the general plan
DRIVE_BUDGET = 2000

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS listener_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mentions (
    rowid INTEGER PRIMARY KEY,          -- published_at << {SLOT_BITS} | n << 1 | (duplicate_of IS NOT NULL)
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    lang TEXT,
    domain TEXT,
    author_key TEXT,                    -- listener.query.author_key(author_name), for author: queries
    author_id TEXT,
    published_at INTEGER NOT NULL,      -- epoch seconds, UTC
    sentiment TEXT,                     -- NULL when unscored
    sentiment_score REAL,
    rating REAL,
    duplicate_of TEXT,
    sentiment_negative REAL,            -- the model's probabilities (NULL: unscored, or scored before
    sentiment_neutral REAL,             -- they were kept), for Filters.mixed (no semicolons in comments
    sentiment_positive REAL             -- here: the schema is split on them)
);
CREATE TABLE IF NOT EXISTS mention_docs (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL);  -- Mention JSON
-- Each index entry ends with the rowid, i.e. the time: "latest 20 where source = x" walks one index
-- backwards. Searches leave duplicates out by default, so the filter columns also get partial indexes over
-- originals only, which answer those searches and the terms aggregations without reading table rows.
CREATE INDEX IF NOT EXISTS mentions_source ON mentions(source);
CREATE INDEX IF NOT EXISTS mentions_author_id ON mentions(author_id);
CREATE INDEX IF NOT EXISTS originals_source ON mentions(source) WHERE duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS originals_lang ON mentions(lang) WHERE duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS originals_sentiment ON mentions(sentiment) WHERE duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS originals_author_id ON mentions(author_id) WHERE duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS originals_domain ON mentions(domain) WHERE duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS duplicates ON mentions(duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS mentions_fts USING fts5(
    title, body, tokenize='unicode61 remove_diacritics 0');
-- The mention's sentiment rides along (NULL: unscored): "the latest negative mentions of a brand", a brand
-- manager's most common search, then walks one index instead of checking each of the brand's rows.
CREATE TABLE IF NOT EXISTS mention_brands (
    rowid INTEGER NOT NULL, brand TEXT NOT NULL, sentiment TEXT, PRIMARY KEY (rowid, brand)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mention_brands_brand ON mention_brands(brand);
CREATE TABLE IF NOT EXISTS mention_topics (
    rowid INTEGER NOT NULL, topic TEXT NOT NULL, sentiment TEXT, PRIMARY KEY (rowid, topic)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mention_topics_topic ON mention_topics(topic);
CREATE TABLE IF NOT EXISTS mention_bands (
    band INTEGER NOT NULL, rowid INTEGER NOT NULL, PRIMARY KEY (band, rowid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mention_bands_rowid ON mention_bands(rowid);
"""

# Steps from each older schema version to the next, run in one transaction when an older file is opened.
_UPGRADES: dict[int, list[str]] = {
    1: [f"ALTER TABLE {table} ADD COLUMN sentiment TEXT" for table in ("mention_brands", "mention_topics")]
       + [f"UPDATE {table} SET sentiment = (SELECT m.sentiment FROM mentions m WHERE m.rowid = {table}.rowid)"
          for table in ("mention_brands", "mention_topics")],
    # the summary tables exist (SCHEMA creates them, empty); they are filled by the next step, once
    2: [],
    # the summaries gain the domain and rating dimensions: add the columns, then (re)build from the mentions
    3: [rollups.add_columns, rollups.build],
    # the model's probabilities, as columns for Filters.mixed; filled from the stored documents (mentions
    # scored before probabilities were kept have none: NULL, never mixed, until `listener rescore`)
    4: [f"ALTER TABLE mentions ADD COLUMN sentiment_{label} REAL" for label in SENTIMENT_LABELS]
       + ["UPDATE mentions SET " + ", ".join(
           f"sentiment_{label} = (SELECT json_extract(d.doc, '$.sentiment.probabilities.{label}') "
           f"FROM mention_docs d WHERE d.rowid = mentions.rowid)" for label in SENTIMENT_LABELS)
          + " WHERE sentiment IS NOT NULL"],
}
# Indexes on columns an upgrade adds: created after the upgrades, so an old file has the columns by then.
_LATE_INDEXES = """
CREATE INDEX IF NOT EXISTS mention_brands_sentiment ON mention_brands(brand, sentiment);
CREATE INDEX IF NOT EXISTS mention_topics_sentiment ON mention_topics(topic, sentiment);
-- A conversation's mentions, for the web app's mention page (`thread`). Partial: most mentions have no thread.
-- An expression index on the JSON document, so the narrow `mentions` row stays as it is (an older file gets
-- it when first opened).
CREATE INDEX IF NOT EXISTS mention_docs_thread ON mention_docs(json_extract(doc, '$.thread_id'))
    WHERE json_extract(doc, '$.thread_id') IS NOT NULL;
"""

_COLUMNS = ("rowid", "id", "source", "lang", "domain", "author_key", "author_id", "published_at", "sentiment",
            "sentiment_score", "rating", "duplicate_of", "sentiment_negative", "sentiment_neutral",
            "sentiment_positive")
_INSERT_MENTION = (f"INSERT OR REPLACE INTO mentions ({', '.join(_COLUMNS)}) "
                   f"VALUES ({', '.join('?' for _ in _COLUMNS)})")
_SIDE_TABLES = ("mention_brands", "mention_topics", "mention_bands")  # rows replaced on every upsert

# The value a term aggregation or a split groups by (None = skipped), and the join it needs.
_TERM_SQL: dict[str, tuple[str, str]] = {
    "sentiment": ("coalesce(m.sentiment, 'unscored')", ""),
    "source": ("m.source", ""),
    "lang": ("m.lang", ""),
    "domain": ("m.domain", ""),
    "author": ("m.author_id", ""),
    "brand": ("t.brand", "JOIN mention_brands t ON t.rowid = m.rowid"),
    "topic": ("t.topic", "JOIN mention_topics t ON t.rowid = m.rowid"),
}
assert set(_TERM_SQL) == set(TERM_FIELDS)


def _band_key(band: str) -> int:
    """A band key ("2:89ab...") as a signed 64-bit integer: a third of the size of the text in two indexes.
    A collision only adds a candidate, which the pipeline's similarity check then rejects."""
    return int.from_bytes(hashlib.blake2b(band.encode(), digest_size=8).digest(), "big", signed=True)


def _fingerprint_bands(fingerprint: str) -> tuple[str, ...]:
    from listener.dedupe import bands  # numpy: imported on the first fingerprinted upsert only

    return bands(fingerprint)


def _epoch(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return math.floor(value.timestamp())


def _path_of(url: str) -> str:
    """`sqlite:///abs/path.db` and `sqlite:////abs/path.db` -> /abs/path.db; `sqlite://rel.db` -> rel.db;
    `sqlite://:memory:` -> :memory:"""
    if not url.startswith("sqlite:"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite:"):]
    if rest.startswith("//"):
        rest = rest[2:]
    if rest.startswith("//"):  # four slashes: f"sqlite:///{absolute_path}"
        rest = rest[1:]
    if rest in ("", ":memory:", "/:memory:"):
        return ":memory:"
    return rest


@register("sqlite")
def open_sqlite(url: str) -> "SqliteStore":
    return SqliteStore(_path_of(url))


class SqliteStore(Store):
    """The embedded back end. One connection per object, shared by threads under a lock."""

    scheme = "sqlite"
    #: relevance sort ranks the newest this-many matches of the query's words by bm25 (see _ranked_page)
    relevance_window: int | None = 10_000
    #: a search page's `total` stops counting here and says so (`Page.total_exact` False), as Elasticsearch's
    #: track_total_hits does: counting a million matches exactly costs more than the page itself.
    #: `count()` (statistics) is always exact. None counts exactly everywhere.
    count_limit: int | None = 10_000
    #: seconds a search, count or aggregation may run before it is stopped (QueryTooSlow). A hostile or
    #: careless query (thousands of one-letter prefixes NEAR each other) must not hold a core and gigabytes
    #: for minutes; normal searches take milliseconds (bench/bench_store.py). None: no limit.
    query_timeout: float | None = 20.0
    #: answer counts, breakdowns and time series from the summary tables (listener.store.sqlite_rollups)
    #: when they can do so exactly; False counts the mentions themselves every time (the property test
    #: compares both ways).
    use_rollups: bool = True

    def __init__(self, path: str | Path = ":memory:", *, busy_timeout: float = 10.0):
        self.path = str(path)
        if self.path != ":memory:":
            private_file(self.path)  # other people's words and names: owner-only, from the first byte
        self._lock = threading.RLock()
        # isolation_level=None: no implicit transactions; upsert and forget_author open their own.
        self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        self._closed = False
        self._writes = 0  # this connection's commits: with PRAGMA data_version, says when counts went stale
        self._totals: dict[tuple, tuple[tuple, int]] = {}
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # Deleted rows are overwritten with zeros, not left in free pages: `forget` must leave no trace,
            # and stock SQLite builds have this off.
            self._db.execute("PRAGMA secure_delete=ON")
            # NORMAL in WAL mode: a crash of the process loses nothing; a power cut may lose the last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA temp_store=MEMORY")
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB
            self._db.execute("PRAGMA mmap_size=268435456")
            with self._transaction():  # two processes creating the same new file do it one after the other
                for statement in (SCHEMA + rollups.SCHEMA).split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("INSERT OR IGNORE INTO listener_meta VALUES ('schema_version', ?)",
                                 (str(SCHEMA_VERSION),))
                version = int(self._db.execute(
                    "SELECT value FROM listener_meta WHERE key = 'schema_version'").fetchone()[0])
                while version in _UPGRADES:
                    log.warning("%s: upgrading the store from schema %d to %d", self.path, version, version + 1)
                    for statement in _UPGRADES[version]:
                        if callable(statement):
                            statement(self._db)
                        else:
                            self._db.execute(statement)
                    version += 1
                    self._db.execute("UPDATE listener_meta SET value = ? WHERE key = 'schema_version'",
                                     (str(version),))
                if version == SCHEMA_VERSION:
                    for statement in _LATE_INDEXES.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
        if version != SCHEMA_VERSION:
            self._db.close()
            raise RuntimeError(f"{self.path} has store schema {version}; this listener reads {SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    # ------------------------------------------------------------ writing

    def upsert(self, mentions: Sequence[Mention]) -> UpsertResult:
        by_id: dict[str, Mention] = {}
        for mention in mentions:  # the same id twice in one batch: the later copy wins
            by_id.pop(mention.id, None)
            by_id[mention.id] = mention
        result = UpsertResult()
        if not by_id:
            return result
        with self._lock, self._transaction():
            db = self._db
            existing = {row[0]: (row[1], row[2]) for row in db.execute(
                "SELECT id, rowid, published_at FROM mentions WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(by_id)),))}
            rows: list[list] = []
            texts: list[tuple[str, str]] = []
            docs: list[str] = []
            need_rowid: list[tuple[list, int, int]] = []
            stale: list[tuple[int]] = []  # rowids whose FTS and side rows are replaced
            moved: list[tuple[int]] = []  # rowids of mentions whose published second changed
            for mention_id, mention in by_id.items():
                published = _epoch(mention.published_at)
                duplicate = 0 if mention.duplicate_of is None else 1
                row, values = _row(mention, published)
                rows.append(row)
                texts.append((values["title"], values["body"]))
                docs.append(mention.to_json())
                old = existing.get(mention_id)
                if old is None:
                    result.inserted += 1
                    need_rowid.append((row, published, duplicate))
                    continue
                result.updated += 1
                stale.append((old[0],))
                if old[1] == published and old[0] & 1 == duplicate:
                    row[0] = old[0]
                else:  # a new second, or it became (or stopped being) a duplicate: a new rowid
                    moved.append((old[0],))
                    need_rowid.append((row, published, duplicate))
            if stale:
                # what the old copies counted in the summary tables, read before their rows go
                rollups.apply(db, rollups.facts_of(db, [rowid for rowid, in stale]), -1)
                db.executemany("DELETE FROM mentions_fts WHERE rowid = ?", stale)
                for table in _SIDE_TABLES:
                    db.executemany(f"DELETE FROM {table} WHERE rowid = ?", stale)
                db.executemany("DELETE FROM mentions WHERE rowid = ?", moved)
                db.executemany("DELETE FROM mention_docs WHERE rowid = ?", moved)
            self._allocate_rowids(need_rowid)
            db.executemany(_INSERT_MENTION, rows)
            db.executemany("INSERT OR REPLACE INTO mention_docs (rowid, doc) VALUES (?, ?)",
                           [(row[0], doc) for row, doc in zip(rows, docs)])
            db.executemany("INSERT INTO mentions_fts (rowid, title, body) VALUES (?, ?, ?)",
                           [(row[0], title, body) for row, (title, body) in zip(rows, texts)])
            labels = [m.sentiment.label if m.sentiment else None for m in by_id.values()]
            db.executemany("INSERT OR IGNORE INTO mention_brands VALUES (?, ?, ?)",
                           [(row[0], b, label) for row, m, label in zip(rows, by_id.values(), labels)
                            for b in m.brands])
            db.executemany("INSERT OR IGNORE INTO mention_topics VALUES (?, ?, ?)",
                           [(row[0], t, label) for row, m, label in zip(rows, by_id.values(), labels)
                            for t in m.topics])
            db.executemany("INSERT OR IGNORE INTO mention_bands VALUES (?, ?)",
                           [(_band_key(band), row[0]) for row, m in zip(rows, by_id.values())
                            if m.fingerprint and m.duplicate_of is None
                            for band in _fingerprint_bands(m.fingerprint)])
            rollups.apply(db, [rollups.Fact(row[0] >> SLOT_BITS, row[0] & 1, row[2], row[3], label, row[6],
                                            frozenset(m.brands), frozenset(m.topics), row[4], row[10])
                               for row, m, label in zip(rows, by_id.values(), labels)], +1)
            self._writes += 1
        result.ids = list(by_id)
        return result

    def _allocate_rowids(self, pending: list[tuple[list, int, int]]) -> None:
        """Give each row the next free slot in its published second, with its duplicate bit (see the module
        docstring)."""
        if not pending:
            return
        seconds = sorted({published for _, published, _ in pending})
        top: dict[int, int] = {}  # the highest rowid used in each second (two below the first slot if none)
        for published, highest in self._db.execute(
                "SELECT j.value, (SELECT max(rowid) FROM mentions WHERE rowid >= (j.value << ?) "
                "AND rowid < ((j.value + 1) << ?)) FROM json_each(?) j", (SLOT_BITS, SLOT_BITS, json.dumps(seconds))):
            top[published] = (published << SLOT_BITS) - 2 if highest is None else highest
        taken: set[int] = set()
        for row, published, duplicate in pending:
            candidate = (((top[published] >> 1) + 1) << 1) | duplicate
            if candidate >= (published + 1) << SLOT_BITS:
                candidate = self._spill(candidate, taken)
            row[0] = candidate
            taken.add(candidate)
            top[published] = max(top[published], candidate)

    def _spill(self, candidate: int, taken: set[int]) -> int:
        log.warning("more than %d mentions in one published second; date order there becomes approximate",
                    1 << (SLOT_BITS - 1))
        while candidate in taken or self._db.execute("SELECT 1 FROM mentions WHERE rowid = ?",
                                                     (candidate,)).fetchone():
            candidate += 2  # keeps the duplicate bit
        return candidate

    def forget_author(self, author_id: str) -> int:
        with self._lock:
            with self._transaction():
                rowids = [(r[0],) for r in self._db.execute("SELECT rowid FROM mentions WHERE author_id = ?",
                                                             (author_id,))]
                if rowids:
                    rollups.apply(self._db, rollups.facts_of(self._db, [rowid for rowid, in rowids]), -1)
                    rollups.forget_author_number(self._db, author_id)
                    self._db.executemany("DELETE FROM mentions_fts WHERE rowid = ?", rowids)
                    for table in _SIDE_TABLES + ("mention_docs", "mentions"):
                        self._db.executemany(f"DELETE FROM {table} WHERE rowid = ?", rowids)
                    self._writes += 1
            if rowids:
                self._scrub()
            return len(rowids)

    def _scrub(self) -> None:
        """Leave no trace of deleted rows: FTS5 keeps a deleted document's words in its index segments until
        they are merged, so merge them all; then copy the WAL (which still holds the old pages) into the
        database and truncate it. secure_delete (set at open) has zeroed the freed pages and cells."""
        with self._transaction():
            self._db.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('optimize')")
        busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.warning("%s: another process is reading; the forgotten rows leave the WAL file at its next "
                        "checkpoint", self.path)

    def optimize(self) -> None:
        """Merge the FTS5 index into one segment and refresh planner statistics (after a bulk load)."""
        with self._lock:
            self._db.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('optimize')")
            self._db.execute("ANALYZE")

    # ------------------------------------------------------------ reading

    def get(self, mention_id: str) -> Mention | None:
        with self._lock:
            row = self._db.execute("SELECT d.doc FROM mentions m JOIN mention_docs d ON d.rowid = m.rowid "
                                   "WHERE m.id = ?", (mention_id,)).fetchone()
        return Mention.from_json(row[0]) if row else None

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._lock:
            return {r[0] for r in self._db.execute(
                "SELECT id FROM mentions WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(list(ids)),))}

    def find_fingerprints(self, bands: Sequence[str]) -> list[tuple[str, str]]:
        """Originals sharing a band, earliest published first."""
        if not bands:
            return []
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute(
                "SELECT m.id, json_extract(d.doc, '$.fingerprint') FROM mentions m "
                "JOIN mention_docs d ON d.rowid = m.rowid WHERE m.rowid IN (SELECT rowid FROM mention_bands "
                "WHERE band IN (SELECT value FROM json_each(?))) ORDER BY m.rowid",
                (json.dumps([_band_key(band) for band in bands]),))]

    def count(self, filters: Filters) -> int:
        selection = _select(filters)
        with self._reading():
            cube = rollups.counts_cube(filters, None) if self.use_rollups else None
            if cube is None:
                return self._count(selection, None)
            first, end, edges = _whole_units(selection, rollups.SLOT_SECONDS)
            total = 0
            if first is None or end is None or first < end:
                total = int(rollups.slot_counts(self._db, cube, filters, None, first, end)[3].sum())
            return total + sum(self._count(_select(edge), None) for edge in _edge_filters(filters, edges))

    def _count(self, sel: "_Selection", count_limit: int | None) -> int:
        """count(*) of the selection, remembered until the next write by any connection: paging on and
        re-drawing a dashboard do not count the same rows again. With `count_limit`, stops there."""
        key = (sel.where, tuple(sel.params), count_limit)
        version = (self._db.execute("PRAGMA data_version").fetchone()[0], self._writes)
        cached = self._totals.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        db = self._db
        if sel.where in (_ORIGINALS, "1"):
            # No filter: count(*) of a whole table counts b-tree pages, not rows; duplicates have an index.
            total = db.execute("SELECT count(*) FROM mentions").fetchone()[0]
            if sel.where == _ORIGINALS:
                total -= db.execute("SELECT count(*) FROM mentions WHERE duplicate_of IS NOT NULL").fetchone()[0]
            if count_limit:
                total = min(total, count_limit)
        else:
            limit = f" LIMIT {int(count_limit)}" if count_limit else ""
            source, params = sel.from_where(columns=False)
            total = db.execute(f"SELECT count(*) FROM (SELECT 1 {source}{limit})", params).fetchone()[0]
        if len(self._totals) >= 256:
            self._totals.clear()
        self._totals[key] = (version, total)
        return total

    def search(self, filters: Filters, sort: Literal["date", "relevance"] = "date", limit: int = 20,
               cursor: str | None = None) -> Page:
        """Date sort: newest first, ties (the same second) by the order they were stored. Relevance: bm25
        over title (weight 2) and text, best first, `Hit.score` = -bm25 (higher is better), among the newest
        `relevance_window` matches of the query's words; the other matches follow by date with score 0.0
        (see _ranked_page). Relevance falls back to date when the query has no positive words. `total` is
        exact unless `count_limit` is set. A cursor is only valid with the filters and sort that made it."""
        if sort not in ("date", "relevance"):
            raise ValueError(f"sort must be 'date' or 'relevance', not {sort!r}")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        sel = _select(filters)
        rank = sel.query.rank if sel.query else None
        kind = "r" if sort == "relevance" and rank else "d"
        after = _decode_cursor(cursor, kind)
        with self._reading():
            total = self._count(sel, self.count_limit)
            if kind == "d":
                rows = self._date_page(sel, None if after is None else after[0], limit + 1)
            else:
                rows = self._ranked_page(sel, rank, after, limit + 1)
            next_cursor = None
            if len(rows) > limit:
                rows = rows[:limit]
                last = rows[-1]
                next_cursor = _encode_cursor(kind, [last[0]] if kind == "d" else [last[1], last[0]])
            docs = self._docs([r[0] for r in rows])
        terms = sel.query.highlight if sel.query else []
        hits = []
        for rowid, score in rows:
            mention = Mention.from_json(docs[rowid])
            hits.append(Hit(mention=mention, snippet=snippet(mention, terms), score=score))
        exact = self.count_limit is None or total < self.count_limit
        return Page(hits=hits, total=total, next_cursor=next_cursor, total_exact=exact)

    def _date_page(self, sel: "_Selection", below: int | None, size: int, floor: int | None = None,
                   score: float | None = None) -> list[tuple]:
        """(rowid, score) of the newest `size` selected rows with rowid < below (and >= floor)."""
        hi = below if sel.hi is None or (below is not None and below < sel.hi) else sel.hi
        lo = floor if sel.lo is None or (floor is not None and floor > sel.lo) else sel.lo
        if sel.index_only:
            return self._db.execute(f"SELECT rowid, ? FROM ({sel.driver_rows(lo, hi)}) ORDER BY rowid DESC LIMIT ?",
                                    [score, *sel.driver_params, size]).fetchall()
        if sel.driver is not None:
            # Walk the driver newest first and check the rest of the selection on each row: no need to
            # collect every match of a common word or a big brand first. Bounded, because a rare filter
            # could make the walk long; then the general plan below answers.
            rows = self._db.execute(
                f"SELECT m.rowid, ? FROM ({sel.driver_rows(lo, hi)} ORDER BY rowid DESC LIMIT {DRIVE_BUDGET}) d "
                f"CROSS JOIN mentions m ON m.rowid = d.rowid WHERE {sel.base} ORDER BY m.rowid DESC LIMIT ?",
                [score, *sel.driver_params, *sel.base_params, size]).fetchall()
            if len(rows) == size:
                return rows
        return self._db.execute(
            f"SELECT m.rowid, ? FROM mentions m WHERE {sel.where}{_bounds('m.rowid', lo, hi)} "
            f"ORDER BY m.rowid DESC LIMIT ?", [score, *sel.params, size]).fetchall()

    def _ranked_page(self, sel: "_Selection", rank: str, after: list | None, size: int) -> list[tuple]:
        """(rowid, score) of one relevance page. Ranked first: the matches among the newest
        `relevance_window` rows matching the query's words, by -bm25. Then every other match (older text
        matches, and rows matching only through a field filter, e.g. `acme OR site:x`) by date, with score
        0.0. bm25 costs about a microsecond per matching row, so the window is what keeps a query for a word
        in half of a million mentions at tens of milliseconds; None ranks them all."""
        db = self._db
        # With a driving expression every match satisfies it, so it is also what to rank by.
        match = sel.drive or rank
        floor = None
        if self.relevance_window:
            row = db.execute(f"SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?{sel.rowid_conditions()} "
                             f"ORDER BY rowid DESC LIMIT 1 OFFSET ?", (match, self.relevance_window - 1)).fetchone()
            floor = row[0] if row else None
        lo = floor if sel.lo is None or (floor is not None and floor > sel.lo) else sel.lo
        rows: list[tuple] = []
        if after is None or after[0] > 0:
            keyset, keyset_params = "", []
            if after is not None:
                keyset = " AND (r.score < ? OR (r.score = ? AND r.rowid < ?))"
                keyset_params = [after[0], after[0], after[1]]
            ranked = (f"SELECT rowid, -bm25(mentions_fts, {BM25_WEIGHTS[0]}, {BM25_WEIGHTS[1]}) AS score "
                      f"FROM mentions_fts WHERE mentions_fts MATCH ?{sel.rowid_conditions('rowid', lo)}")
            if sel.index_only and sel.drive:  # nothing to check in the mentions table
                join, where, params = "", "1", []
            else:
                join = "JOIN mentions m ON m.rowid = r.rowid"
                where, params = (sel.base, sel.base_params) if sel.drive else (sel.where, sel.params)
            rows = db.execute(
                f"SELECT r.rowid, r.score FROM ({ranked}) r {join} WHERE {where}{keyset} "
                f"ORDER BY r.score DESC, r.rowid DESC LIMIT ?", [match, *params, *keyset_params, size]).fetchall()
        if len(rows) < size:
            below = after[1] if after is not None and after[0] <= 0 else None
            if sel.drive:  # every match matches the driving expression: the rest are the older ones
                if floor is not None:
                    below = floor if below is None else min(below, floor)
                    rows += self._date_page(sel, below, size - len(rows), score=0.0)
            else:
                window = "" if floor is None else f" AND rowid >= {int(floor)}"
                hi = _bounds("m.rowid", None, below)
                rows += db.execute(
                    f"SELECT m.rowid, 0.0 FROM mentions m WHERE {sel.where}{hi} AND m.rowid NOT IN "
                    f"(SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?{window}) ORDER BY m.rowid DESC "
                    f"LIMIT ?", [*sel.params, rank, size - len(rows)]).fetchall()
        return rows

    def _docs(self, rowids: list[int]) -> dict[int, str]:
        if not rowids:
            return {}
        return dict(self._db.execute("SELECT rowid, doc FROM mention_docs WHERE rowid IN "
                                     "(SELECT value FROM json_each(?))", (json.dumps(rowids),)))

    def iter_mentions(self, filters: Filters, batch_size: int = 1000) -> Iterator[Mention]:
        sel = _select(filters)
        last = None
        while True:
            page_where, page_params = sel.where, list(sel.params)
            if last is not None:
                page_where += " AND m.rowid > ?"
                page_params.append(last)
            with self._lock:  # held per batch only: other threads may use the store between batches
                rows = self._db.execute(
                    f"SELECT m.rowid, d.doc FROM mentions m JOIN mention_docs d ON d.rowid = m.rowid "
                    f"WHERE {page_where} ORDER BY m.rowid LIMIT ?", [*page_params, batch_size]).fetchall()
            for _, doc in rows:
                yield Mention.from_json(doc)
            if len(rows) < batch_size:
                return
            last = rows[-1][0]

    def thread(self, source: str, thread_id: str, limit: int = 500) -> list[Mention]:
        with self._lock:
            rows = self._db.execute(
                # CROSS JOIN: walk the thread index first; the planner would otherwise walk a whole source
                "SELECT d.doc FROM mention_docs d CROSS JOIN mentions m ON m.rowid = d.rowid "
                "WHERE json_extract(d.doc, '$.thread_id') = ? AND json_extract(d.doc, '$.thread_id') IS NOT NULL "
                "AND m.source = ? ORDER BY m.rowid LIMIT ?", (thread_id, source, limit)).fetchall()
        return [Mention.from_json(row[0]) for row in rows]

    # ------------------------------------------------------------ aggregations

    def terms(self, filters: Filters, field: str, size: int = 10) -> list[tuple[str, int]]:
        """Most common values, ties by value. `author` counts by author_id (the value Filters.authors takes);
        `sentiment` includes "unscored"; mentions without a value (no lang, no domain) are not counted."""
        _term_sql(field)
        sel = _select(filters)
        size = None if size < 0 else size  # as SQL's LIMIT -1: all of them
        with self._reading():
            if self.use_rollups and field == "author" and rollups.authors_answerable(filters):
                return self._rollup_authors(filters, sel, size)
            if self.use_rollups and rollups.counts_cube(filters, field) is not None:
                return self._rollup_terms(filters, sel, field, size)
            return self._raw_terms(sel, field, size)

    def _raw_terms(self, sel: "_Selection", field: str, size: int | None) -> list[tuple[str, int]]:
        """Counts of the field's values among the selected mentions, the `size` most common (None: all)."""
        value, join = _term_sql(field)
        if join and sel.where in (_ORIGINALS, "1"):
            # brands or topics of everything: that table's own index, grouped in order, no mentions rows
            source, params = f"FROM {join.split()[1]} t WHERE 1{sel.rowid_conditions('t.rowid')}", []
        else:
            source, params = sel.from_where(join, columns=not join)
        limit = "" if size is None else f" LIMIT {int(size)}"
        return [(r[0], r[1]) for r in self._db.execute(
            f"SELECT {value} AS v, count(*) AS n {source} AND v IS NOT NULL "
            f"GROUP BY v ORDER BY n DESC, v{limit}", params)]

    def _rollup_terms(self, filters: Filters, sel: "_Selection", field: str,
                      size: int | None) -> list[tuple[str, int]]:
        """terms() from the quarter-hour counts, plus the raw counts of the range's ragged edges."""
        import numpy as np

        first, end, edges = _whole_units(sel, rollups.SLOT_SECONDS)
        totals: dict[str, int] = {}
        if first is None or end is None or first < end:
            values, which, _, counts = rollups.slot_counts(self._db, rollups.counts_cube(filters, field), filters,
                                                           field, first, end)
            if values:
                sums = np.bincount(which, weights=counts, minlength=len(values)).astype(np.int64).tolist()
                totals = {v: n for v, n in zip(values, sums) if n}
        for edge in _edge_filters(filters, edges):
            for v, n in self._raw_terms(_select(edge), field, None):
                totals[v] = totals.get(v, 0) + n
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:size]

    def _rollup_authors(self, filters: Filters, sel: "_Selection", size: int | None) -> list[tuple[str, int]]:
        """Top authors from the per-day author counts, plus the raw counts of the partial first and last
        days; ties by author id, as the raw path."""
        import numpy as np

        first, end, edges = _whole_units(sel, rollups.DAY_SECONDS)
        totals = np.zeros(0, np.int64)
        if first is None or end is None or first < end:
            totals = rollups.author_counts(self._db, filters, first, end)
        edge_counts: dict[str, int] = {}
        for edge in _edge_filters(filters, edges):
            for v, n in self._raw_terms(_select(edge), "author", None):
                edge_counts[v] = edge_counts.get(v, 0) + n
        numbers = rollups.author_numbers(self._db, list(edge_counts))
        if numbers:
            totals = np.pad(totals, (0, max(0, max(numbers.values()) + 1 - len(totals))))
            for author_id, number in numbers.items():
                totals[number] += edge_counts[author_id]
        candidates = np.nonzero(totals)[0]
        if size is not None and len(candidates) > size:  # only authors that can make the cut
            if size <= 0:
                return []
            cut = -np.partition(-totals[candidates], size - 1)[size - 1]  # the size-th largest count
            candidates = candidates[totals[candidates] >= cut]
        ids = rollups.author_ids(self._db, candidates.tolist())
        return sorted(((ids[k], int(totals[k])) for k in candidates.tolist()),
                      key=lambda item: (-item[1], item[0]))[:size]

    def timeseries(self, filters: Filters, interval: str = "1d", tz: str = "UTC",
                   split: str | None = None) -> list[tuple[datetime, dict[str, int]]]:
        """Buckets start where the wall clock in `tz` reads a multiple of `interval` past local midnight:
        a "1d" bucket is a local calendar day (23 or 25 hours long on DST changes), and an hour repeated
        when clocks go back is two "1h" buckets. Bucket keys are aware datetimes in `tz`. When split,
        every bucket holds every value seen in the series (0 where absent)."""
        try:
            step = INTERVALS[interval]
        except KeyError:
            raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}") from None
        zone = ZoneInfo(tz)
        join = _term_sql(split)[1] if split else ""
        selection = _select(filters)
        source, params = selection.from_where(join, columns=bool(split) and not join)
        with self._reading():
            # two statements: SQLite answers a lone min() or max() from the b-tree's edge, both together by a scan
            oldest = self._db.execute("SELECT min(rowid) FROM mentions").fetchone()[0]
            newest = self._db.execute("SELECT max(rowid) FROM mentions").fetchone()[0]
            if oldest is None:
                return []
            # The series spans what the filter selects, not the table: one row dated 0001-01-01 or 9999
            # must not stretch (or break) every series.
            oldest = oldest if selection.lo is None else max(oldest, selection.lo)
            newest = newest if selection.hi is None else min(newest, selection.hi - 1)
            if oldest > newest:
                return []
            if ((newest - oldest) >> SLOT_BITS) // step >= MAX_BUCKETS:
                # The edges are far apart; the selected rows may not be: look (one scan of the selection).
                oldest, newest = self._db.execute(f"SELECT min(m.rowid), max(m.rowid) {source}", params).fetchone()
                if oldest is None:
                    return []
                if ((newest - oldest) >> SLOT_BITS) // step >= MAX_BUCKETS:
                    first, last = ((_EPOCH + timedelta(seconds=r >> SLOT_BITS)).date().isoformat()
                                   for r in (oldest, newest))
                    raise SeriesTooLong(f"the selected mentions run from {first} to {last}: more "
                                        f"than {MAX_BUCKETS:,} buckets of {interval}; narrow it with --since/--until "
                                        "or choose a larger --interval")
            counts = self._rollup_series(filters, selection, step, tz, split) if self.use_rollups else None
            if counts is None:
                counts = self._raw_series(selection, split, step, tz, oldest, newest)
        if not counts:
            return []
        keys = {v for bucket in counts.values() for v in bucket}
        starts = sorted(counts)
        out = []
        segments = _offset_segments(tz, starts[0] // 86400, starts[-1] // 86400)
        transitions = [t for t, _ in segments[1:]]
        current, last = starts[0], starts[-1]
        while True:
            bucket = counts.get(current, {})
            out.append((datetime.fromtimestamp(current, zone), {key: bucket.get(key, 0) for key in sorted(keys)}))
            if current >= last:
                return out
            if len(out) >= MAX_BUCKETS:
                raise SeriesTooLong(f"more than {MAX_BUCKETS:,} buckets; choose a larger interval or a shorter range")
            current = _next_bucket(current, step, zone, transitions)

    def _raw_series(self, sel: "_Selection", split: str | None, step: int, tz: str, oldest: int,
                    newest: int) -> dict[int, dict[str, int]]:
        """{bucket start: {value: count}} of the selected mentions (rowids oldest..newest), by reading them."""
        value, join = _term_sql(split) if split else ("'all'", "")
        source, params = sel.from_where(join, columns=bool(split) and not join)
        segments = _offset_segments(tz, (oldest >> SLOT_BITS) // 86400, (newest >> SLOT_BITS) // 86400)
        offset_sql = _offset_case(segments)
        shift = 86400 * 1_000_000  # keeps the division's operand positive, so / floors; a multiple of step
        rows = self._db.execute(
            f"SELECT (t + o + {shift}) / {step} - {shift // step} AS k, o, v, count(*) FROM "
            f"(SELECT (m.rowid >> {SLOT_BITS}) AS t, {offset_sql} AS o, {value} AS v {source}) "
            f"WHERE v IS NOT NULL GROUP BY k, o, v", params).fetchall()
        zone = ZoneInfo(tz)
        counts: dict[int, dict[str, int]] = {}
        for k, offset, v, n in rows:
            bucket = counts.setdefault(_resolve(k * step, offset, zone), {})
            bucket[v] = bucket.get(v, 0) + n
        return counts

    def _rollup_series(self, filters: Filters, sel: "_Selection", step: int, tz: str,
                       split: str | None) -> dict[int, dict[str, int]] | None:
        """What _raw_series gives, from the quarter-hour counts (plus the raw counts of the range's ragged
        edges); None when they cannot answer exactly: a filter or split they do not keep, a bucket that is
        not whole quarter hours, or a zone whose offset then was not whole quarter hours (local mean time)."""
        import numpy as np

        cube = rollups.counts_cube(filters, split)
        if cube is None or step % rollups.SLOT_SECONDS:
            return None
        first, end, edges = _whole_units(sel, rollups.SLOT_SECONDS)
        counts: dict[int, dict[str, int]] = {}
        if first is None or end is None or first < end:
            values, which, slots, n = rollups.slot_counts(self._db, cube, filters, split, first, end)
            if len(slots):
                t = slots * rollups.SLOT_SECONDS
                segments = _offset_segments(tz, int(t.min()) // 86400, int(t.max()) // 86400)
                if any(offset % rollups.SLOT_SECONDS for _, offset in segments) or \
                        any(start % rollups.SLOT_SECONDS for start, _ in segments[1:]):
                    return None
                transitions = np.array([start for start, _ in segments[1:]], np.int64)
                offsets = [offset for _, offset in segments]
                segment = np.searchsorted(transitions, t, side="right")
                k = (t + np.array(offsets, np.int64)[segment]) // step  # the bucket's number in wall time
                # (k, offset, value) -> count, as the raw path groups them, as one integer key
                low = int(k.min())
                key = ((k - low) * len(offsets) + segment) * len(values) + which
                if int(key.max()) < 1 << 20:  # a year of quarter hours split 8 ways fits: count in place
                    sums = np.bincount(key, weights=n)
                    groups = np.nonzero(sums)[0]
                    sums = sums[groups]
                else:
                    groups, inverse = np.unique(key, return_inverse=True)
                    sums = np.bincount(inverse.ravel(), weights=n)
                zone = ZoneInfo(tz)
                starts: dict[int, int] = {}
                for group, total in zip(groups.tolist(), sums.astype(np.int64).tolist()):
                    rest, v = divmod(group, len(values))
                    if rest not in starts:
                        k_low, i = divmod(rest, len(offsets))
                        starts[rest] = _resolve((k_low + low) * step, offsets[i], zone)
                    bucket = counts.setdefault(starts[rest], {})
                    bucket[values[v]] = bucket.get(values[v], 0) + total
        for edge in _edge_filters(filters, edges):
            edge_sel = _select(edge)
            for start, bucket in self._raw_series(edge_sel, split, step, tz, edge_sel.lo, edge_sel.hi - 1).items():
                merged = counts.setdefault(start, {})
                for v, total in bucket.items():
                    merged[v] = merged.get(v, 0) + total
        return counts

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._db.execute("PRAGMA optimize")  # SQLite's advice: refresh stale planner statistics
                except sqlite3.Error:  # pragma: no cover - e.g. the database is locked by a long writer
                    pass
                self._db.close()

    # ------------------------------------------------------------ helpers

    def _transaction(self):
        return _Transaction(self._db)

    @contextlib.contextmanager
    def _reading(self):
        """The store's lock, and a time limit on what runs under it (SQLite's progress handler)."""
        with self._lock:
            if self.query_timeout is None:
                yield
                return
            deadline = time.monotonic() + self.query_timeout
            # Called every N virtual-machine steps (~a millisecond); a true result interrupts the statement.
            self._db.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
            try:
                yield
            except sqlite3.OperationalError as err:
                if str(err) != "interrupted":
                    raise
                raise QueryTooSlow(too_slow_message(self.query_timeout)) from None
            finally:
                self._db.set_progress_handler(None, 0)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error: takes the write lock up front, so two writers
    never deadlock upgrading a read lock."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # some errors (disk full, I/O) have rolled back already
            self.db.execute("ROLLBACK")


def _row(mention: Mention, published: int) -> tuple[list, dict]:
    """The mentions row (rowid still None) and the query compiler's index values of one mention."""
    from listener.query.sqlite import index_values

    values = index_values(mention)  # the query compiler's own view of the columns it reads
    sentiment = mention.sentiment
    probabilities = sentiment.probabilities if sentiment else None
    return [None, mention.id, values["source"], values["lang"], values["domain"], values["author_key"],
            values["author_id"], published, sentiment.label if sentiment else None,
            sentiment.score if sentiment else None, mention.rating, mention.duplicate_of,
            *(probabilities.get(label) if probabilities else None for label in SENTIMENT_LABELS)], values


def _term_sql(field: str) -> tuple[str, str]:
    try:
        return _TERM_SQL[field]
    except KeyError:
        raise ValueError(f"field must be one of {', '.join(TERM_FIELDS)}, not {field!r}") from None


# ---------------------------------------------------------------- filters and the query language


class _Query:
    """A parsed query, compiled for this store: WHERE fragment, FTS5 rank expression, highlight terms,
    and, when the query is "text AND other things", the text part as one FTS5 expression (`drive`) and
    the other things compiled on their own (`rest`), so a search can walk the text matches newest first."""

    def __init__(self, text: str):
        from listener.query import And, Not, parse
        from listener.query import sqlite as compiler

        node = parse(text)
        self.sql, params = compiler.compile_sqlite(node, alias="m")
        self.params = list(params)
        self.rank: str | None = compiler.rank_match(node)
        self.highlight: list[tuple[tuple[str, ...], bool]] = compiler.highlight_terms(node)
        # TODO(query): use a public name for "this node as one FTS5 expression, or None" when there is one.
        fts = compiler.fts_expression
        self.drive: str | None = fts(node)
        self.rest: str | None = None
        self.rest_params: list = []
        if self.drive is None and isinstance(node, And):
            def is_text(child):
                return fts(child) is not None or (isinstance(child, Not) and fts(child.child) is not None)

            text = [child for child in node.children if is_text(child)]
            others = [child for child in node.children if not is_text(child)]
            if text and others and any(fts(child) is not None for child in text):
                self.drive = fts(And.of(*text))
                if self.drive is not None:
                    rest, rest_params = compiler.compile_sqlite(And.of(*others), alias="m")
                    self.rest, self.rest_params = rest, list(rest_params)


@lru_cache(maxsize=256)
def _compile(text: str) -> _Query:
    return _Query(text)


_ORIGINALS = "m.duplicate_of IS NULL"  # the default filter; partial indexes are declared with the same words


class _Selection:
    """What Filters select, as SQL over `mentions m`:

    - `where`/`params`: everything (filters and the whole query), for the general plan;
    - `lo`/`hi`: the rowid range of since/until (None: open);
    - `driver`/`driver_params`: a query yielding, by rowid, rows of ONE index among which every selected
      row is (the FTS matches of the query's text part, or the rows of the one brand or topic asked for),
      or None; then `base`/`base_params` is the rest of the selection, checked on each driver row. Walking
      a driver newest first finds "the latest 20" without collecting every match first;
    - `drive`: the FTS5 expression when the driver is the text index (relevance ranks by it);
    - `index_only`: the driver (in the date range, duplicates in or out) IS the selection, so counts and
      pages read that index alone: the rowid says the time and whether a row is a duplicate."""

    def __init__(self, filters: Filters):
        query = self.query = _compile(filters.query) if filters.query and filters.query.strip() else None
        clauses: list[tuple[str, list]] = []  # (sql, params) over m, in order
        if not filters.include_duplicates:
            clauses.append((_ORIGINALS, []))
        # the same condition on the rowid of any index (the rowid's lowest bit mirrors duplicate_of)
        self._originals = "" if filters.include_duplicates else " AND ({column} & 1) = 0"
        for column, values in (("m.source", filters.sources), ("m.lang", filters.langs),
                               ("m.author_id", filters.authors)):
            if values:
                clauses.append((f"{column} IN ({', '.join('?' for _ in values)})", list(values)))
        sentiment_clause = None
        if filters.sentiments:
            labels = [s for s in filters.sentiments if s != "unscored"]
            parts = [f"m.sentiment IN ({', '.join('?' for _ in labels)})"] if labels else []
            if "unscored" in filters.sentiments:
                parts.append("m.sentiment IS NULL")
            sentiment_clause = len(clauses)
            clauses.append((f"({' OR '.join(parts)})", labels))
        # The rowid encodes the published second, so a date range is a rowid range: no index needed, and
        # it bounds the brand/topic lookups and the full-text walk too.
        self.lo = None if filters.since is None else _epoch(filters.since) << SLOT_BITS
        self.hi = None if filters.until is None else math.ceil(
            filters.until.replace(tzinfo=filters.until.tzinfo or timezone.utc).timestamp()) << SLOT_BITS
        multi = {}  # table -> (clause index, the one value) for a brand or topic filter with one value
        for table, column, values in (("mention_brands", "brand", filters.brands),
                                      ("mention_topics", "topic", filters.topics)):
            if values:
                if len(values) == 1:
                    multi[table] = (len(clauses), column, values[0])
                clauses.append((f"m.rowid IN (SELECT rowid FROM {table} WHERE {column} IN "
                                f"({', '.join('?' for _ in values)}){_bounds('rowid', self.lo, self.hi)})",
                                list(values)))
        if self.lo is not None or self.hi is not None:
            clauses.append((_bounds("m.rowid", self.lo, self.hi)[len(" AND "):], []))
        if filters.rating_min is not None:
            clauses.append(("m.rating >= ?", [filters.rating_min]))
        if filters.rating_max is not None:
            clauses.append(("m.rating <= ?", [filters.rating_max]))
        if filters.mixed:
            clauses.append(("m.sentiment_negative >= ? AND m.sentiment_positive >= ?", [MIXED_MIN, MIXED_MIN]))
        range_and_originals = 1 + (self.lo is not None or self.hi is not None) - filters.include_duplicates

        everything = ([(f"({query.sql})", query.params)] if query else []) + clauses
        self.where, self.params = _join(everything)
        self.drive = query.drive if query else None
        self.driver = None
        self.driver_params: list = []
        self.index_only = False
        if self.drive is not None:
            self.driver, self.driver_params = "SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?", [self.drive]
            rest = [(f"({query.rest})", query.rest_params)] if query.rest else []
            self.base, self.base_params = _join(rest + clauses)
            self.index_only = not rest and len(clauses) == range_and_originals
        elif multi:
            table = "mention_brands" if "mention_brands" in multi else "mention_topics"
            index, column, value = multi[table]
            self.driver, self.driver_params = f"SELECT rowid FROM {table} WHERE {column} = ?", [value]
            dropped = {index}
            if len(filters.sentiments) == 1:
                # the side tables carry the sentiment: one index walk answers "latest negative of a brand"
                label = filters.sentiments[0]
                if label == "unscored":
                    self.driver += " AND sentiment IS NULL"
                else:
                    self.driver += " AND sentiment = ?"
                    self.driver_params.append(label)
                dropped.add(sentiment_clause)
            others = [clause for i, clause in enumerate(clauses) if i not in dropped]
            self.base, self.base_params = _join(([(f"({query.sql})", query.params)] if query else []) + others)
            self.index_only = not query and len(others) == range_and_originals

    def rowid_conditions(self, column: str = "rowid", lo: int | None = None, hi: int | None = None) -> str:
        """Conditions on a rowid (of any index) that every selected row meets: the date range, narrowed to
        lo..hi, and leaving duplicates out."""
        lo = self.lo if lo is None or (self.lo is not None and self.lo > lo) else lo
        hi = self.hi if hi is None or (self.hi is not None and self.hi < hi) else hi
        return _bounds(column, lo, hi) + self._originals.format(column=column)

    def driver_rows(self, lo: int | None = None, hi: int | None = None) -> str:
        """The driver's rowids within the selection's date range (narrowed to lo..hi), duplicates out."""
        return self.driver + self.rowid_conditions("rowid", lo, hi)

    def from_where(self, join: str = "", columns: bool = True) -> tuple[str, list]:
        """"FROM ... WHERE ..." over every selected row as `m` (plus `join`) and its parameters. With a
        driver, its rows are the outer loop (CROSS JOIN fixes the order) and the rest is checked on each,
        instead of collecting every match into a temporary list first. columns=False: the caller reads
        only m.rowid (and `join`), so an index-only selection does not touch the mentions table."""
        if self.index_only and not columns:
            return f"FROM ({self.driver_rows()}) m {join} WHERE 1", list(self.driver_params)
        if self.driver is not None:
            return (f"FROM ({self.driver_rows()}) d CROSS JOIN mentions m ON m.rowid = d.rowid {join} "
                    f"WHERE {self.base}", [*self.driver_params, *self.base_params])
        return f"FROM mentions m {join} WHERE {self.where}", list(self.params)


def _whole_units(sel: "_Selection", unit: int) -> tuple[int | None, int | None, list[tuple[int, int]]]:
    """The selection's date range as [first, end) whole units of `unit` seconds (None: open on that side)
    and the (start, end) seconds it covers beyond them, at most one piece at each edge."""
    lo = None if sel.lo is None else sel.lo >> SLOT_BITS
    hi = None if sel.hi is None else sel.hi >> SLOT_BITS
    if lo is not None and hi is not None and lo >= hi:
        return 0, 0, []  # selects nothing
    first = None if lo is None else -(-lo // unit)
    end = None if hi is None else hi // unit
    if first is not None and end is not None and first >= end:
        return 0, 0, [(lo, hi)]  # no whole unit inside
    edges = []
    if lo is not None and lo < first * unit:
        edges.append((lo, first * unit))
    if hi is not None and end * unit < hi:
        edges.append((end * unit, hi))
    return first, end, edges


def _edge_filters(filters: Filters, edges: list[tuple[int, int]]) -> list[Filters]:
    """The filters narrowed to each edge piece (seconds)."""
    return [replace(filters, since=datetime.fromtimestamp(lo, timezone.utc),
                    until=datetime.fromtimestamp(hi, timezone.utc)) for lo, hi in edges]


def _join(parts: list[tuple[str, list]]) -> tuple[str, list]:
    return " AND ".join(sql for sql, _ in parts) or "1", [p for _, params in parts for p in params]


def _select(filters: Filters) -> _Selection:
    return _Selection(filters)


def _bounds(column: str, lo: int | None, hi: int | None) -> str:
    """' AND column >= lo AND column < hi' for the given bounds (integers, inlined)."""
    out = ""
    if lo is not None:
        out += f" AND {column} >= {int(lo)}"
    if hi is not None:
        out += f" AND {column} < {int(hi)}"
    return out


# ---------------------------------------------------------------- cursors


def _cursor_key_ok(kind: str, key: list) -> bool:
    """A date key is [rowid]; a relevance key [score, rowid]. Checked so an edited cursor is a ValueError,
    not a TypeError in the comparison or a silently wrong page (the store contract's forged-cursor test)."""
    types = ((int,),) if kind == "d" else ((int, float), (int,))
    return len(key) == len(types) and all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types))


def _encode_cursor(kind: str, key: list) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, kind: str) -> list | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, list) or not data or data[0] != kind or not _cursor_key_ok(kind, data[1:]):
            raise ValueError
        return data[1:]
    except (ValueError, TypeError, IndexError, UnicodeDecodeError):
        raise CursorError("invalid cursor for this search; start again without one") from None


# ---------------------------------------------------------------- snippets

# Words of the ORIGINAL text: letters and digits (as listener.text.tokens) plus the marks and format
# characters `normalise` deletes (Arabic harakat, Latin combining accents, tatweel, ZWJ), so «أَحْمَد» stays
# one word instead of shattering at its vowel marks. ZWNJ is not included: normalise makes it a word break.
_WORD_RE = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
                      r"\u200d\u200e\u200f\ufeff])+")
_SPACES = re.compile(r"\s+")


def _marks(text: str, terms: Sequence[tuple[tuple[str, ...], bool]]) -> list[tuple[int, int]]:
    """Character spans of the words of `text` that match any term (a phrase marks each of its words)."""
    if not text or not terms:
        return []
    words: list[tuple[str, int, int]] = []  # (normalised token, start, end in the original)
    for match in _WORD_RE.finditer(text):
        for token in tokens(normalise(match.group())):
            words.append((token, match.start(), match.end()))
    spans: set[tuple[int, int]] = set()
    for term, prefix in terms:
        if not term:
            continue
        size = len(term)
        for i in range(len(words) - size + 1):
            if all(words[i + j][0] == term[j] for j in range(size - 1)):
                last = words[i + size - 1][0]
                if last == term[-1] or (prefix and last.startswith(term[-1])):
                    spans.update((words[i + j][1], words[i + j][2]) for j in range(size))
    return sorted(spans)


def _render(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    out = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if s < pos or e > end:
            continue
        out.append(_SPACES.sub(" ", html.escape(text[pos:s], quote=False)))
        out.append(f"<mark>{html.escape(text[s:e], quote=False)}</mark>")
        pos = e
    out.append(_SPACES.sub(" ", html.escape(text[pos:end], quote=False)))
    if end < len(text):
        out.append("…")
    return "".join(out).strip()


def _window(text: str, first: int) -> tuple[int, int]:
    """About SNIPPET_CHARS characters around position `first`, cut at white space where possible."""
    if len(text) <= SNIPPET_CHARS:
        return 0, len(text)
    start = max(0, first - _SNIPPET_LEAD)
    if start > 0:
        space = text.find(" ", start, first)
        if space != -1 and space - start < 20:
            start = space + 1
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", max(first + 1, end - 20), end)
        if space != -1:
            end = space
    return start, end


def snippet(mention: Mention, terms: Sequence[tuple[tuple[str, ...], bool]]) -> str:
    """About SNIPPET_CHARS characters of the mention's text around the first match, matched words in
    <mark></mark>, everything else HTML-escaped. Falls back to the title when only the title matches, and
    to the start of the text when nothing is highlighted (no query, or matches only on other fields)."""
    for text in (mention.text, mention.title or ""):
        spans = _marks(text, terms)
        if spans:
            start, end = _window(text, spans[0][0])
            return _render(text, spans, start, end)
    text = mention.text or mention.title or ""
    return _render(text, [], *_window(text, 0))


# ---------------------------------------------------------------- time zones


_FIRST_SECOND = int(datetime(1, 1, 2, tzinfo=timezone.utc).timestamp())  # a day in, so no offset leaves year 1
_LAST_SECOND = int(datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp())


def _offset_at(t: int, zone: ZoneInfo) -> int:
    t = min(max(t, _FIRST_SECOND), _LAST_SECOND)  # rows dated at datetime's edges get the edge's offset
    return int(datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


@lru_cache(maxsize=256)
def _offset_segments(tz: str, first_day: int, last_day: int) -> tuple[tuple[int | None, int], ...]:
    """((None, offset), (transition, offset), ...): the zone's UTC offsets between two days (epoch days)."""
    zone = ZoneInfo(tz)
    t = (first_day - 1) * 86400
    end = (last_day + 2) * 86400
    offset = _offset_at(t, zone)
    segments: list[tuple[int | None, int]] = [(None, offset)]
    step = 21600  # two transitions less than 6 hours apart would be missed; no zone does that
    while t < end:
        nxt = _offset_at(t + step, zone)
        if nxt != offset:
            hi = _first_second_after(t, t + step, offset, zone)
            segments.append((hi, _offset_at(hi, zone)))
            offset = nxt
        t += step
    return tuple(segments)


def _offset_case(segments: Sequence[tuple[int | None, int]]) -> str:
    """An SQL expression for the UTC offset at the mention's published second (the rowid's high bits, so an
    index scan needs no table row): a balanced CASE over the zone's transitions."""
    if len(segments) == 1:
        return str(segments[0][1])
    mid = len(segments) // 2
    return (f"(CASE WHEN m.rowid < {segments[mid][0] << SLOT_BITS} THEN {_offset_case(segments[:mid])} "
            f"ELSE {_offset_case(segments[mid:])} END)")


_EPOCH = datetime(1970, 1, 1)


def _resolve(local: int, offset: int, zone: ZoneInfo) -> int:
    """The instant (epoch seconds) at which the wall clock in `zone` reads `local` (wall seconds since the
    epoch), for a bucket whose rows had UTC offset `offset`. A repeated wall time (clocks going back) is
    resolved by the offset; a skipped one (clocks going forward) starts at the transition."""
    naive = _EPOCH + timedelta(seconds=local)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    off1, off2 = int(first.utcoffset().total_seconds()), int(second.utcoffset().total_seconds())
    if off1 == off2:
        return local - off1
    exists = first.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == naive
    if exists:  # repeated: pick the occurrence the rows belong to
        return local - (off2 if offset == off2 else off1)
    return _first_second_after(local - off2, local - off1, off1, zone)  # skipped: the transition is in between


def _first_second_after(lo: int, hi: int, offset: int, zone: ZoneInfo) -> int:
    """The first second in (lo, hi] whose UTC offset in `zone` is no longer `offset` (the offset at lo),
    by bisection: one clock change lies in between."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset_at(mid, zone) == offset:
            lo = mid
        else:
            hi = mid
    return hi


def _bucket_of(t: int, step: int, zone: ZoneInfo) -> int:
    offset = _offset_at(t, zone)
    return _resolve((t + offset) // step * step, offset, zone)


def _next_bucket(current: int, step: int, zone: ZoneInfo, transitions: list[int]) -> int:
    i = bisect_right(transitions, current)
    if i == len(transitions) or current + step < transitions[i]:
        return current + step  # no change of offset before the next bucket: plain arithmetic
    probe = current + step
    while (nxt := _bucket_of(probe, step, zone)) <= current:
        probe += 900  # a bucket stretched by a DST change ends later than `step`
    return nxt

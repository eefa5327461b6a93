"""Summary tables (rollups) of the SQLite store: exact counts per quarter hour, so the statistics a page
draws on every view (a year's daily series, counts, breakdowns, top authors) read a few thousand summary
rows instead of a million mentions.

Why this shape
--------------
- Counts are kept per UTC quarter hour, the finest step every time zone of today agrees on (offsets and
  clock changes fall on quarter hours: +3:30 Tehran, +5:45 Kathmandu). So one table answers a day, an hour
  or 15 minutes in ANY zone: a bucket of the query's zone is a set of whole quarter hours. A day's 96
  quarter hours sit in one row (a BLOB of 96 int32), so a year is 365 rows per value, not 35,040.
- `rollup_counts`: one row per (cube, values, duplicate or not, UTC day). A cube is a set of at most two
  of the dimensions brand, source, lang, sentiment, or topic alone, with brand or with sentiment (14
  cubes); a row holds the counts of the mentions with those values, the other dimensions summed over. Two
  dimensions keep the table small (a cube of all five would have about as many rows as there are
  mentions) and answer what a page asks: one filter and a split (a brand's sentiment per day), or a
  breakdown under one filter. Narrower selections (two filters and a split, a query) select few enough
  mentions that the raw path is fast anyway.
  Two more dimensions serve the statistics every stats page asks for over the whole range: `domain` alone
  (the domain breakdown) and `rating` alone or with sentiment (the rating agreement: the counts of each
  sentiment among 1-2, 3 and 4-5 stars). A rating is kept as its exact value (sources give a handful:
  1..5, halves), so any rating_min/rating_max range is answered exactly by a range over the rows.
  A mention with two brands (topics) counts once in each brand's row, as the raw split does, so a brand
  cube only answers "one brand" or "split by brand", never "either of two brands" (counted twice).
- `rollup_authors`: per (UTC day, source, sentiment, duplicate or not), the (author number, count) pairs of
  that day, with `rollup_author_ids` numbering the author ids. Top authors over a year add up those pairs
  (numpy) instead of grouping a million rows. A forgotten author's pairs and number are deleted: no count
  is left with their id.
- Maintained in the store's write path (upsert and forget subtract what a mention counted before and add
  what it counts now, in the same transaction), one way for every write, as Python code rather than
  triggers: a trigger per row cannot rewrite a day's BLOB without reading it once per mention.
- Times come from the rowid (its high bits are the published second), exactly as the raw path reads them,
  so both agree even for mentions spilled into a neighbouring second.

A query uses them only when they can answer exactly (`counts_cube`, `authors_answerable`); the parts of a
range that do not fill whole quarter hours (whole days for authors) are counted by the raw path and added.
"""

from __future__ import annotations

import json
import logging
import sys
from array import array
from itertools import combinations
from typing import Iterable, NamedTuple

from listener.store.base import Filters

log = logging.getLogger(__name__)

SLOT_SECONDS = 900  # a quarter hour
SLOTS_PER_DAY = 86400 // SLOT_SECONDS
DAY_SECONDS = 86400
#: the dimensions counts are kept by (columns of rollup_counts, and the Filters fields that select them)
DIMS = ("brand", "source", "lang", "sentiment", "topic", "domain", "rating")
_FILTER_OF = {"brand": "brands", "source": "sources", "lang": "langs", "sentiment": "sentiments", "topic": "topics"}
#: dimensions that are only ever split by (no Filters field selects a domain) or only filtered by a range
_SPLIT_ONLY = {"domain"}
_RANGE = {"rating"}
#: cube id (bit i set: DIMS[i] is kept): every set of at most two of the first four dimensions, and topic
#: alone, by brand and by sentiment (the topic breakdown of a page, of a brand's page, topics' tone); domain
#: alone (the domain breakdown); rating alone and by sentiment (rating agreement, listener.stats)
CUBES: tuple[int, ...] = tuple(sorted(
    {sum(1 << DIMS.index(d) for d in dims) for size in (0, 1, 2) for dims in combinations(DIMS[:4], size)}
    | {sum(1 << DIMS.index(d) for d in dims) for dims in (("topic",), ("brand", "topic"), ("sentiment", "topic"),
                                                          ("domain",), ("rating",), ("sentiment", "rating"))}))

SCHEMA = """
CREATE TABLE IF NOT EXISTS rollup_counts (
    cube INTEGER NOT NULL,              -- bit i set: DIMS[i] is kept (the other dimension columns are NULL)
    brand TEXT, source TEXT, lang TEXT, sentiment TEXT, topic TEXT,  -- NULL lang or sentiment: none
    dup INTEGER NOT NULL,               -- 1: near-duplicates
    day INTEGER NOT NULL,               -- UTC day (epoch days)
    slots BLOB NOT NULL,                -- 96 little-endian int32 counts, one per UTC quarter hour
    domain TEXT, rating REAL            -- (added by store schema 4) NULL domain or rating: none
);
-- reads: one cube, its values, a range of days (writes: the rows of the days a batch touches)
CREATE INDEX IF NOT EXISTS rollup_counts_values
    ON rollup_counts(cube, brand, source, lang, sentiment, topic, dup, day);
CREATE INDEX IF NOT EXISTS rollup_counts_day ON rollup_counts(day);
CREATE TABLE IF NOT EXISTS rollup_authors (
    day INTEGER NOT NULL, source TEXT NOT NULL, sentiment TEXT, dup INTEGER NOT NULL,
    pairs BLOB NOT NULL                 -- (author number, count) as little-endian int32 pairs, by number
);
CREATE INDEX IF NOT EXISTS rollup_authors_day ON rollup_authors(day);
CREATE TABLE IF NOT EXISTS rollup_author_ids (num INTEGER PRIMARY KEY, author_id TEXT NOT NULL UNIQUE);
"""

_INT32 = "<i4"  # the BLOBs' numbers: little-endian int32, whatever the machine
_SWAP = sys.byteorder != "little"
assert array("i").itemsize == 4


class Fact(NamedTuple):
    """What one stored mention counts in the rollups."""

    second: int  # rowid >> SLOT_BITS: the second the raw path reads
    dup: int
    source: str
    lang: str | None
    sentiment: str | None
    author_id: str | None
    brands: frozenset[str]
    topics: frozenset[str]
    domain: str | None = None
    rating: float | None = None


def facts_of(db, rowids: Iterable[int]) -> list[Fact]:
    """The facts of stored mentions, read from the mentions and mention_brands tables."""
    from listener.store.sqlite import SLOT_BITS

    rowids = list(rowids)
    out = []
    for start in range(0, len(rowids), 10_000):
        chunk = json.dumps(rowids[start:start + 10_000])
        out += [_fact(row, SLOT_BITS) for row in db.execute(
            f"SELECT {_FACT_COLUMNS} FROM mentions m WHERE m.rowid IN (SELECT value FROM json_each(?))", (chunk,))]
    return out


_FACT_COLUMNS = ("m.rowid, m.source, m.lang, m.sentiment, m.author_id, "
                 "(SELECT json_group_array(b.brand) FROM mention_brands b WHERE b.rowid = m.rowid), "
                 "(SELECT json_group_array(t.topic) FROM mention_topics t WHERE t.rowid = m.rowid), "
                 "m.domain, m.rating")


def _fact(row, slot_bits: int) -> Fact:
    rowid, source, lang, sentiment, author_id, brands, topics, domain, rating = row
    return Fact(rowid >> slot_bits, rowid & 1, source, lang, sentiment, author_id, frozenset(json.loads(brands)),
                frozenset(json.loads(topics)), domain, rating)


def add_columns(db) -> None:
    """Store schema 4: the domain and rating columns on a summary table made before them (a table made
    by this version's SCHEMA has them already)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(rollup_counts)")}
    for column, kind in (("domain", "TEXT"), ("rating", "REAL")):
        if column not in have:
            db.execute(f"ALTER TABLE rollup_counts ADD COLUMN {column} {kind}")


def build(db) -> None:
    """Fill the rollups from every stored mention (the migration to store schema 4), from empty tables."""
    from listener.store.sqlite import SLOT_BITS

    for table in ("rollup_counts", "rollup_authors", "rollup_author_ids"):
        db.execute(f"DELETE FROM {table}")
    last = None
    while True:
        rows = db.execute(
            f"SELECT {_FACT_COLUMNS} FROM mentions m WHERE m.rowid > ? ORDER BY m.rowid LIMIT 50000",
            (-(1 << 63) if last is None else last,)).fetchall()
        if not rows:
            return
        apply(db, [_fact(row, SLOT_BITS) for row in rows], +1)
        last = rows[-1][0]


# ---------------------------------------------------------------- writing


def cube_keys(fact: Fact, day: int) -> list[tuple]:
    """The rollup_counts keys (cube, brand, source, lang, sentiment, topic, domain, rating, dup, day) one
    mention counts in: one per cube, the brand and topic cubes once per brand, topic, or (brand, topic).
    Spelled out, not looped over CUBES: this runs a dozen times per mention written
    (tests/test_store_rollups.py checks it)."""
    s, l, e, d, o, r = fact.source, fact.lang, fact.sentiment, fact.dup, fact.domain, fact.rating
    keys = [(0, None, None, None, None, None, None, None, d, day), (2, None, s, None, None, None, None, None, d, day),
            (4, None, None, l, None, None, None, None, d, day), (8, None, None, None, e, None, None, None, d, day),
            (6, None, s, l, None, None, None, None, d, day), (10, None, s, None, e, None, None, None, d, day),
            (12, None, None, l, e, None, None, None, d, day), (32, None, None, None, None, None, o, None, d, day),
            (64, None, None, None, None, None, None, r, d, day), (72, None, None, None, e, None, None, r, d, day)]
    for b in fact.brands:
        keys += [(1, b, None, None, None, None, None, None, d, day), (3, b, s, None, None, None, None, None, d, day),
                 (5, b, None, l, None, None, None, None, d, day), (9, b, None, None, e, None, None, None, d, day)]
        keys += [(17, b, None, None, None, t, None, None, d, day) for t in fact.topics]
    for t in fact.topics:
        keys += [(16, None, None, None, None, t, None, None, d, day), (24, None, None, None, e, t, None, None, d, day)]
    return keys


def apply(db, facts: Iterable[Fact], sign: int) -> None:
    """Add (sign +1) or take away (-1) what these mentions count, inside the caller's transaction."""
    counts: dict[tuple, dict[int, int]] = {}  # key -> {quarter hour of the day: change}
    authors: dict[tuple, dict[str, int]] = {}  # (day, source, sentiment, dup) -> {author id: change}
    for fact in facts:
        day, slot = divmod(fact.second // SLOT_SECONDS, SLOTS_PER_DAY)
        for key in cube_keys(fact, day):
            changes = counts.get(key)
            if changes is None:
                changes = counts[key] = {}
            changes[slot] = changes.get(slot, 0) + sign
        if fact.author_id is not None:
            changes = authors.setdefault((day, fact.source, fact.sentiment, fact.dup), {})
            changes[fact.author_id] = changes.get(fact.author_id, 0) + sign
    if counts:
        _write_counts(db, counts)
    if authors:
        _write_authors(db, authors)


def _ints(blob: bytes | None) -> array:
    """A BLOB of little-endian int32 as an array (the stdlib's: for a 96-number row numpy costs more)."""
    out = array("i")
    if blob is not None:
        out.frombytes(blob)
        if _SWAP:
            out.byteswap()
    return out


def _blob(numbers: array) -> bytes:
    if _SWAP:
        numbers = array("i", numbers)
        numbers.byteswap()
    return numbers.tobytes()


def _write_counts(db, by_key: dict[tuple, dict[int, int]]) -> None:
    days = sorted({key[-1] for key in by_key})
    existing = {}
    for start in range(0, len(days), 500):
        for rowid, *key, slots in db.execute(
                "SELECT rowid, cube, brand, source, lang, sentiment, topic, domain, rating, dup, day, slots "
                "FROM rollup_counts "
                "WHERE day IN (SELECT value FROM json_each(?))", (json.dumps(days[start:start + 500]),)):
            existing[tuple(key)] = (rowid, slots)
    inserts, updates, deletes = [], [], []
    empty = array("i", bytes(4 * SLOTS_PER_DAY))
    for key, changes in by_key.items():
        rowid, blob = existing.get(key, (None, None))
        slots = array("i", empty) if blob is None else _ints(blob)
        for slot, delta in changes.items():
            slots[slot] += delta
        if not any(slots):
            if rowid is not None:
                deletes.append((rowid,))
        elif rowid is None:
            inserts.append((*key, _blob(slots)))
        else:
            updates.append((_blob(slots), rowid))
    db.executemany("DELETE FROM rollup_counts WHERE rowid = ?", deletes)
    db.executemany("UPDATE rollup_counts SET slots = ? WHERE rowid = ?", updates)
    db.executemany("INSERT INTO rollup_counts (cube, brand, source, lang, sentiment, topic, domain, rating, dup, day, "
                   "slots) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)


def _write_authors(db, by_key: dict[tuple, dict[str, int]]) -> None:
    ids = sorted({author_id for changes in by_key.values() for author_id in changes})
    numbers = author_numbers(db, ids)
    missing = [author_id for author_id in ids if author_id not in numbers]
    if missing:
        db.executemany("INSERT INTO rollup_author_ids (author_id) VALUES (?)", [(a,) for a in missing])
        numbers.update(author_numbers(db, missing))
    days = sorted({key[0] for key in by_key})
    existing = {}
    for start in range(0, len(days), 500):
        for rowid, *key, pairs in db.execute(
                "SELECT rowid, day, source, sentiment, dup, pairs FROM rollup_authors "
                "WHERE day IN (SELECT value FROM json_each(?))", (json.dumps(days[start:start + 500]),)):
            existing[tuple(key)] = (rowid, pairs)
    inserts, updates, deletes = [], [], []
    for key, changes in by_key.items():
        rowid, blob = existing.get(key, (None, None))
        pairs = _ints(blob)
        counts = dict(zip(pairs[0::2], pairs[1::2]))
        for author_id, delta in changes.items():
            number = numbers[author_id]
            value = counts.get(number, 0) + delta
            if value:
                counts[number] = value
            else:
                counts.pop(number, None)
        if not counts:
            if rowid is not None:
                deletes.append((rowid,))
            continue
        blob = _blob(array("i", [x for pair in sorted(counts.items()) for x in pair]))
        if rowid is None:
            inserts.append((*key, blob))
        else:
            updates.append((blob, rowid))
    db.executemany("DELETE FROM rollup_authors WHERE rowid = ?", deletes)
    db.executemany("UPDATE rollup_authors SET pairs = ? WHERE rowid = ?", updates)
    db.executemany("INSERT INTO rollup_authors (day, source, sentiment, dup, pairs) VALUES (?, ?, ?, ?, ?)", inserts)


def author_numbers(db, author_ids: list[str]) -> dict[str, int]:
    out = {}
    for start in range(0, len(author_ids), 10_000):
        out.update((a, n) for n, a in db.execute(
            "SELECT num, author_id FROM rollup_author_ids WHERE author_id IN (SELECT value FROM json_each(?))",
            (json.dumps(author_ids[start:start + 10_000]),)))
    return out


def forget_author_number(db, author_id: str) -> None:
    """The forgotten author's number goes too (their pairs went with their mentions' facts)."""
    db.execute("DELETE FROM rollup_author_ids WHERE author_id = ?", (author_id,))


# ---------------------------------------------------------------- reading


def counts_cube(filters: Filters, field: str | None) -> int | None:
    """The cube that answers counts of `filters` split by `field` (None: not split) exactly, or None."""
    if (filters.query and filters.query.strip()) or filters.authors or filters.mixed:
        return None
    if field is not None and (field not in DIMS or field in _RANGE):
        return None
    for dim in ("brand", "topic"):  # the many-valued ones
        values = getattr(filters, _FILTER_OF[dim])
        if len(values) > 1 or (values and field == dim):
            return None  # "either brand" would count a two-brand mention twice; a brand split under a brand
            # filter also counts the other brands of the selected mentions
    dims = {d for d in _FILTER_OF if getattr(filters, _FILTER_OF[d])} | ({field} if field else set())
    if filters.rating_min is not None or filters.rating_max is not None:
        dims.add("rating")
    cube = sum(1 << DIMS.index(d) for d in dims)
    return cube if cube in CUBES else None


def authors_answerable(filters: Filters) -> bool:
    return not ((filters.query and filters.query.strip()) or filters.topics or filters.authors or filters.brands
                or filters.langs or filters.rating_min is not None or filters.rating_max is not None or filters.mixed)


def _conditions(filters: Filters, dims: Iterable[str], unkept: Iterable[str] = ()) -> tuple[str, list]:
    """SQL conditions on the rollup columns for the filters on these dimensions, and duplicates. The
    `unkept` dimensions' columns are NULL: saying so lets the index lead to the day range."""
    sql, params = "", []
    for dim in unkept:
        sql += f" AND {dim} IS NULL"
    if not filters.include_duplicates:
        sql += " AND dup = 0"
    for dim in dims:
        if dim in _SPLIT_ONLY:
            continue
        values = getattr(filters, _FILTER_OF[dim]) if dim in _FILTER_OF else ()
        if not values and dim not in _RANGE:
            continue
        if dim == "sentiment":
            labels = [v for v in values if v != "unscored"]
            parts = [f"sentiment IN ({', '.join('?' for _ in labels)})"] if labels else []
            if "unscored" in values:
                parts.append("sentiment IS NULL")
            sql += f" AND ({' OR '.join(parts)})"
            params += labels
        elif dim == "rating":
            # as the raw path's `m.rating >= ? AND m.rating <= ?`: a mention without a rating is never in range
            sql += " AND rating IS NOT NULL"
            for op, bound in ((">=", filters.rating_min), ("<=", filters.rating_max)):
                if bound is not None:
                    sql += f" AND rating {op} ?"
                    params.append(bound)
        else:
            sql += f" AND {dim} IN ({', '.join('?' for _ in values)})"
            params += list(values)
    return sql, params


def slot_counts(db, cube: int, filters: Filters, field: str | None, first_slot: int | None,
                end_slot: int | None) -> tuple:
    """The quarter hours with mentions in [first_slot, end_slot) (None: open): (values, value index,
    slot number, count) per non-zero quarter hour and value of `field` ("all" when None). The value is as
    the raw path reports it: "unscored" for no sentiment; no lang is left out."""
    import numpy as np

    column = field or "'all'"
    where, params = _conditions(filters, [d for d in DIMS if cube >> DIMS.index(d) & 1],
                                [d for d in DIMS if not cube >> DIMS.index(d) & 1])
    if first_slot is not None:
        where += f" AND day >= {first_slot // SLOTS_PER_DAY}"
    if end_slot is not None:
        where += f" AND day <= {(end_slot - 1) // SLOTS_PER_DAY}"
    rows = db.execute(f"SELECT {column}, day, slots FROM rollup_counts WHERE cube = {cube}{where}", params).fetchall()
    if field == "sentiment":
        rows = [("unscored" if v is None else v, day, slots) for v, day, slots in rows]
    elif field in ("lang", "domain"):
        rows = [row for row in rows if row[0] is not None]
    if not rows:
        empty = np.zeros(0, np.int64)
        return [], empty, empty, empty
    values = sorted({row[0] for row in rows})
    index = {v: i for i, v in enumerate(values)}
    matrix = np.frombuffer(b"".join(row[2] for row in rows), _INT32).reshape(len(rows), SLOTS_PER_DAY)
    slots = np.array([row[1] for row in rows], np.int64)[:, None] * SLOTS_PER_DAY + np.arange(SLOTS_PER_DAY)
    which = np.broadcast_to(np.array([index[row[0]] for row in rows], np.int64)[:, None], matrix.shape)
    keep = matrix != 0
    if first_slot is not None:
        keep &= slots >= first_slot
    if end_slot is not None:
        keep &= slots < end_slot
    return values, which[keep], slots[keep], matrix[keep].astype(np.int64)


def author_counts(db, filters: Filters, first_day: int | None, end_day: int | None):
    """Mentions per author number over the whole UTC days [first_day, end_day) (None: open), as a numpy
    array indexed by author number (a few hundred thousand authors: kept out of Python objects)."""
    import numpy as np

    where, params = _conditions(filters, ("source", "sentiment"))
    if first_day is not None:
        where += f" AND day >= {int(first_day)}"
    if end_day is not None:
        where += f" AND day < {int(end_day)}"
    blobs = [row[0] for row in db.execute(f"SELECT pairs FROM rollup_authors WHERE 1{where}", params)]
    if not blobs:
        return np.zeros(0, np.int64)
    pairs = np.frombuffer(b"".join(blobs), _INT32).reshape(-1, 2)
    numbers, counts = pairs[:, 0], pairs[:, 1]
    # most authors post once a day: count those without float weights (three times faster), then the rest
    totals = np.bincount(numbers).astype(np.int64)
    more = counts != 1
    if more.any():
        totals += np.bincount(numbers[more], weights=counts[more] - 1, minlength=len(totals)).astype(np.int64)
    return totals


def author_ids(db, numbers: list[int]) -> dict[int, str]:
    out = {}
    for start in range(0, len(numbers), 10_000):
        out.update(db.execute("SELECT num, author_id FROM rollup_author_ids WHERE num IN "
                              "(SELECT value FROM json_each(?))", (json.dumps(numbers[start:start + 10_000]),)))
    return out

"""Store benchmark: bulk upsert rate, search and aggregation latency (p50/p95), bytes on disk per mention.

    python bench/bench_store.py --n 100000
    python bench/bench_store.py --n 1000000 --db /tmp/bench-1m.db          # keep the file
    python bench/bench_store.py --db /tmp/bench-1m.db --skip-load          # re-run the queries only
    python bench/bench_store.py --n 200000 --compare-layouts               # rowid-as-time vs index

Synthetic mentions: English 60 %, Persian 20 %, Arabic 20 %, words drawn from a Zipf distribution (so
there are very common, medium and rare words), a year of published times arriving roughly but not
exactly in order, 3 % near-duplicates, brands, topics, sentiment (10 % unscored), ratings on review
sources. It prints numbers; it is not a test. Target: search p95 <= 50 ms at 1M mentions.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listener.model import Mention, Sentiment  # noqa: E402
from listener.store.base import Filters  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402
from listener.text import normalise  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
SPAN = 365 * 86400
SOURCES = ["reddit", "trustpilot", "appstore", "playstore", "rss", "forum", "youtube", "news"]
REVIEW_SOURCES = {"trustpilot", "appstore", "playstore"}
BRANDS = ["acme", "globex", "initech", "umbrella"]
TOPICS = ["price", "support", "delivery", "app", "refund", "quality", "account", "security"]

_SYLLABLES = {
    "en": ["ka", "ro", "ti", "men", "sal", "ver", "on", "pri", "de", "lo", "tan", "ex", "bu", "ri", "ce", "mo"],
    "fa": ["کا", "رو", "تی", "من", "سا", "ور", "پر", "دی", "لو", "تن", "گر", "بو", "ری", "شه", "مو", "زا"],
    "ar": ["كا", "رو", "تي", "من", "سا", "ور", "بر", "دي", "لو", "تن", "قر", "بو", "ري", "شه", "مو", "زا"],
}
# Fixed phrases mixed into texts, so phrase queries have something to find.
PHRASES = {"en": ["customer service", "refund request", "login problem", "fast delivery"],
           "fa": ["پشتیبانی مشتری", "بازپرداخت پول"], "ar": ["خدمة العملاء", "استرداد المبلغ"]}
_REAL = {"en": ["acme", "globex", "price", "support", "app", "great", "terrible", "slow", "love", "broken"],
         "fa": ["کتاب\u200cها", "اکمی", "قیمت", "پشتیبانی", "برنامه", "عالی", "بد", "کند"],
         "ar": ["أَحْمَد", "كتاب", "السعر", "الدعم", "التطبيق", "ممتاز", "سيء", "بطيء"]}


def vocabulary(lang: str, size: int, rng: random.Random) -> list[str]:
    words, syllables = list(_REAL[lang]), _SYLLABLES[lang]
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Generator:
    def __init__(self, n: int, seed: int = 7, vocab: int = 20000):
        self.rng = random.Random(seed)
        self.n = n
        self.vocab = {lang: vocabulary(lang, vocab, self.rng) for lang in ("en", "fa", "ar")}
        # Zipf-like weights: the k-th word is drawn with weight 1/k
        self.cum = list(_cumulative([1 / (k + 1) for k in range(vocab)]))
        self.authors = [f"user{i}" for i in range(max(100, n // 20))]
        self.originals: list[tuple[str, str]] = []

    def word(self, lang: str) -> str:
        idx = _bisect(self.cum, self.rng.random() * self.cum[-1])
        return self.vocab[lang][idx]

    def mention(self, i: int) -> Mention:
        rng = self.rng
        lang = rng.choices(("en", "fa", "ar"), (6, 2, 2))[0]
        words = [self.word(lang) for _ in range(rng.randint(12, 50))]
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), rng.choice(PHRASES[lang]))
        # mostly in time order, with some arriving days late
        t = i / self.n * SPAN + (rng.uniform(-3, 0) * 86400 if rng.random() < 0.2 else rng.uniform(0, 600))
        source = rng.choice(SOURCES)
        duplicate_of = None
        fingerprint = None
        if rng.random() < 0.6:
            fingerprint = f"{rng.getrandbits(64):016x}"
            if self.originals and rng.random() < 0.05:
                duplicate_of, fingerprint = rng.choice(self.originals)
            elif len(self.originals) < 10000:
                self.originals.append((None, fingerprint))
        m = Mention(
            source=source, native_id=str(i), lang=lang, text=" ".join(words),
            title=" ".join(self.word(lang) for _ in range(rng.randint(3, 8))) if rng.random() < 0.3 else None,
            published_at=START + timedelta(seconds=max(0.0, t)), author_name=rng.choice(self.authors),
            url=f"https://{source}.example/{i}", domain=f"{source}.example",
            brands=rng.sample(BRANDS, rng.choice((1, 1, 1, 2))), topics=rng.sample(TOPICS, rng.choice((0, 1, 1, 2))),
            sentiment=None if rng.random() < 0.1 else Sentiment(
                label=rng.choice(("negative", "neutral", "positive")), score=round(rng.uniform(0.4, 1), 3)),
            rating=float(rng.randint(1, 5)) if source in REVIEW_SOURCES else None,
            fingerprint=fingerprint, duplicate_of=duplicate_of,
        )
        if fingerprint and duplicate_of is None and self.originals and self.originals[-1] == (None, fingerprint):
            self.originals[-1] = (m.id, fingerprint)
        return m


def _cumulative(weights):
    total = 0.0
    for w in weights:
        total += w
        yield total


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(name: str, ms: list[float], extra: str = "") -> None:
    print(f"  {name:<38} p50 {statistics.median(ms):8.2f} ms   p95 {percentile(ms, 95):8.2f} ms   "
          f"max {max(ms):8.2f} ms  {extra}")


def load(store: SqliteStore, gen: Generator, n: int, batch: int) -> None:
    spent = 0.0
    done = 0
    for start in range(0, n, batch):
        mentions = [gen.mention(i) for i in range(start, min(n, start + batch))]
        t0 = time.perf_counter()
        store.upsert(mentions)
        spent += time.perf_counter() - t0
        done += len(mentions)
        if done % (batch * 100) == 0:
            print(f"  ... {done:,} mentions, {done / spent:,.0f}/s", flush=True)
    print(f"upsert: {n:,} mentions in batches of {batch}: {spent:.1f} s, {n / spent:,.0f} mentions/s")
    # re-upsert one batch (updates): the idempotent path
    mentions = [gen.mention(i) for i in range(0, min(n, batch))]
    t0 = time.perf_counter()
    result = store.upsert(mentions)
    dt = time.perf_counter() - t0
    print(f"re-upsert of {len(mentions)} existing ids: {len(mentions) / dt:,.0f} mentions/s "
          f"(updated {result.updated})")


def disk_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal", path + "-shm") if os.path.exists(p))


def run_queries(store: SqliteStore, gen: Generator, repeat: int, warm: bool = False) -> None:
    rng = random.Random(11)
    search = store.search
    if not warm:  # the store remembers totals until the next write; measure the first page, not a re-visit

        def cold_search(*args, **kwargs):
            store._totals.clear()
            return search(*args, **kwargs)

        store.search = cold_search
    en, fa, ar = gen.vocab["en"], gen.vocab["fa"], gen.vocab["ar"]
    common = en[:5] + fa[:2] + ar[:2]
    medium = en[100:140] + fa[100:120] + ar[100:120]
    rare = en[5000:5100] + fa[5000:5050] + ar[5000:5050]
    phrases = [f'"{p}"' for lang in PHRASES for p in PHRASES[lang]]
    last_month = START + timedelta(days=335)
    limit, store.count_limit = store.count_limit, None
    total = store.count(Filters(include_duplicates=True))
    store.count_limit = limit
    print(f"\nqueries on {total:,} mentions ({repeat} runs each; search = one page of 20 + total + snippets)")
    cases = [
        ("latest 20, no query", lambda i: store.search(Filters())),
        ("latest 20, one brand", lambda i: store.search(Filters(brands=(BRANDS[i % 4],)))),
        ("latest 20, brand + negative", lambda i: store.search(Filters(brands=(BRANDS[i % 4],),
                                                                       sentiments=("negative",)))),
        ("term, common (date)", lambda i: store.search(Filters(query=common[i % len(common)]))),
        ("term, medium (date)", lambda i: store.search(Filters(query=medium[i % len(medium)]))),
        ("term, rare (date)", lambda i: store.search(Filters(query=rare[i % len(rare)]))),
        ("phrase (date)", lambda i: store.search(Filters(query=phrases[i % len(phrases)]))),
        ("boolean a OR b -c (date)", lambda i: store.search(Filters(
            query=f"({medium[i % 40]} OR {medium[(i + 7) % 40]}) -{common[i % 5]}"))),
        ("prefix medium* (date)", lambda i: store.search(Filters(query=medium[i % len(medium)][:4] + "*"))),
        ("filtered: term+brand+sentiment+30d", lambda i: store.search(Filters(
            query=medium[i % len(medium)], brands=(BRANDS[i % 4],), sentiments=("negative",), since=last_month))),
        ("filtered: source+lang, no query", lambda i: store.search(Filters(
            sources=(SOURCES[i % len(SOURCES)],), langs=("fa",)))),
        ("filtered: rating<=2 + topic", lambda i: store.search(Filters(
            rating_max=2, topics=(TOPICS[i % len(TOPICS)],)))),
        ("relevance, common term", lambda i: store.search(Filters(query=common[i % len(common)]), sort="relevance")),
        ("relevance, medium term", lambda i: store.search(Filters(query=medium[i % len(medium)]), sort="relevance")),
        ("relevance, rare term", lambda i: store.search(Filters(query=rare[i % len(rare)]), sort="relevance")),
        ("relevance, 2 medium terms OR", lambda i: store.search(Filters(
            query=f"{medium[i % 40]} OR {medium[(i + 3) % 40]}"), sort="relevance")),
    ]
    search_ms: list[float] = []
    for name, fn in cases:
        ms = timed(fn, repeat)
        search_ms += ms
        report(name, ms)
    page1 = store.search(Filters(query=medium[0]), limit=20)
    report("page 2 via cursor (medium term, cold)", timed(lambda i: store.search(
        Filters(query=medium[0]), cursor=page1.next_cursor), repeat))
    report("page 2 via cursor (total remembered)", timed(lambda i: search(
        Filters(query=medium[0]), cursor=page1.next_cursor), repeat))
    report("count only, common term", timed(lambda i: (store._totals.clear(), store.count(
        Filters(query=common[i % len(common)]))), repeat))
    print(f"  {'ALL SEARCHES':<38} p50 {statistics.median(search_ms):8.2f} ms   "
          f"p95 {percentile(search_ms, 95):8.2f} ms")

    print("aggregations")
    agg_repeat = max(5, repeat // 4)
    report("timeseries 1h, last 30 days, brand", timed(lambda i: store.timeseries(
        Filters(brands=(BRANDS[i % 4],), since=last_month), "1h", "America/New_York"), agg_repeat))
    report("timeseries 1h, whole year, medium term", timed(lambda i: store.timeseries(
        Filters(query=medium[i % len(medium)]), "1h", "UTC"), agg_repeat))
    report("timeseries 1d, whole year, all", timed(lambda i: store.timeseries(Filters(), "1d", "Europe/Berlin"),
                                                   agg_repeat))
    report("timeseries 1d split sentiment, 30 days", timed(lambda i: store.timeseries(
        Filters(since=last_month), "1d", "UTC", split="sentiment"), agg_repeat))
    report("timeseries 1d split sentiment, year, brand", timed(lambda i: store.timeseries(
        Filters(brands=(BRANDS[i % 4],)), "1d", "Asia/Tehran", split="sentiment"), agg_repeat))
    report("count, whole year, brand + negative", timed(lambda i: store.count(
        Filters(brands=(BRANDS[i % 4],), sentiments=("negative",))), agg_repeat))
    for field in ("source", "brand", "topic", "author"):
        report(f"terms {field}, whole year", timed(lambda i, f=field: store.terms(Filters(), f), agg_repeat))
    report("terms author, last 30 days, negative", timed(lambda i: store.terms(
        Filters(sentiments=("negative",), since=last_month), "author"), agg_repeat))
    report("terms topic, medium term", timed(lambda i: store.terms(Filters(query=medium[i % 40]), "topic"),
                                             agg_repeat))
    report("find_fingerprints (16 bands)", timed(lambda i: store.find_fingerprints(
        [f"{b}:{rng.getrandbits(16):04x}" for b in range(4) for _ in range(4)]), repeat))
    report("iter_mentions, 10k oldest", timed(lambda i: sum(1 for _ in zip(range(10000), store.iter_mentions(
        Filters()))), 3))


# ---------------------------------------------------------------- layout comparison


def compare_layouts(n: int, repeat: int) -> None:
    """The same documents two ways: rowid = published time (what the store does) vs rowid = arrival
    order with an index on published_at; "latest 20" queries of the kinds the store runs."""
    gen = Generator(n, seed=3)
    docs = []
    for i in range(n):
        m = gen.mention(i)
        docs.append((int(m.published_at.timestamp()), m.source, normalise(m.text)))
    tmp = tempfile.mkdtemp()
    layouts = {}
    for layout in ("time-rowid", "arrival-rowid+index"):
        db = sqlite3.connect(os.path.join(tmp, f"{layout}.db"), isolation_level=None)
        db.executescript("PRAGMA journal_mode=WAL; CREATE TABLE mentions (rowid INTEGER PRIMARY KEY, "
                         "published_at INTEGER, source TEXT); CREATE INDEX ms ON mentions(source);"
                         "CREATE VIRTUAL TABLE fts USING fts5(body, tokenize='unicode61 remove_diacritics 0');")
        if layout == "time-rowid":
            seen: dict[int, int] = {}
            rows = []
            for t, source, body in docs:
                k = seen.get(t, 0)
                seen[t] = k + 1
                rows.append(((t << 16) + k, t, source, body))
        else:
            db.execute("CREATE INDEX mp ON mentions(published_at)")
            rows = [(i + 1, t, source, body) for i, (t, source, body) in enumerate(docs)]
        db.execute("BEGIN")
        db.executemany("INSERT INTO mentions VALUES (?, ?, ?)", [r[:3] for r in rows])
        db.executemany("INSERT INTO fts (rowid, body) VALUES (?, ?)", [(r[0], r[3]) for r in rows])
        db.execute("COMMIT")
        layouts[layout] = db
    en = gen.vocab["en"]
    order = {"time-rowid": "m.rowid DESC", "arrival-rowid+index": "m.published_at DESC, m.rowid DESC"}
    queries = [
        ("latest 20", "1", lambda i: []),
        ("latest 20, source", "m.source = ?", lambda i: [SOURCES[i % 8]]),
        ("latest 20, common term", "m.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)", lambda i: [en[i % 5]]),
        ("latest 20, medium term", "m.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)",
         lambda i: [en[100 + i % 40]]),
        ("latest 20, rare term", "m.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)",
         lambda i: [en[5000 + i % 100]]),
        ("latest 20, medium term + source", "m.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?) AND m.source = ?",
         lambda i: [en[100 + i % 40], SOURCES[i % 8]]),
        ("latest 20, last 30 days", "m.published_at >= ?", lambda i: [int(START.timestamp()) + 335 * 86400]),
    ]
    print(f"\nlayout comparison on {n:,} documents (p50 / p95 ms)")
    for name, where, params in queries:
        line = f"  {name:<34}"
        for layout, db in layouts.items():
            sql = f"SELECT m.rowid FROM mentions m WHERE {where} ORDER BY {order[layout]} LIMIT 20"
            ms = timed(lambda i: db.execute(sql, params(i)).fetchall(), repeat)
            line += f"  {layout}: {statistics.median(ms):7.2f} / {percentile(ms, 95):7.2f}"
        print(line)
    for layout, db in layouts.items():
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"  {layout}: {disk_bytes(os.path.join(tmp, f'{layout}.db')) / n:,.0f} bytes/document")
        db.close()
    shutil.rmtree(tmp)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="mentions to generate (default 100000)")
    parser.add_argument("--batch", type=int, default=1000, help="mentions per upsert batch")
    parser.add_argument("--queries", type=int, default=50, help="runs of each search query kind")
    parser.add_argument("--db", help="database file to use and keep (default: a temporary file, removed)")
    parser.add_argument("--skip-load", action="store_true", help="query an existing --db without loading")
    parser.add_argument("--optimize", action="store_true", help="merge the FTS index after loading")
    parser.add_argument("--compare-layouts", action="store_true", help="also compare rowid layouts (raw SQL)")
    parser.add_argument("--warm", action="store_true", help="let searches reuse remembered totals")
    parser.add_argument("--count-limit", type=int, help="count totals only up to this many (store.count_limit)")
    args = parser.parse_args(argv)

    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    tmp = None
    path = args.db
    if path is None:
        tmp = tempfile.mkdtemp()
        path = os.path.join(tmp, "bench.db")
    store = SqliteStore(path)
    store.count_limit = args.count_limit
    gen = Generator(args.n)
    if not args.skip_load:
        load(store, gen, args.n, args.batch)
    if args.optimize:
        t0 = time.perf_counter()
        store.optimize()
        print(f"FTS optimize: {time.perf_counter() - t0:.1f} s")
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.count_limit = None
    count = store.count(Filters(include_duplicates=True))
    store.count_limit = args.count_limit
    print(f"disk: {disk_bytes(path) / 1e6:,.1f} MB, {disk_bytes(path) / max(count, 1):,.0f} bytes per mention")
    run_queries(store, gen, args.queries, warm=args.warm)
    store.close()
    if args.compare_layouts:
        compare_layouts(min(args.n, 1_000_000), args.queries)
    if tmp:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()

"""The embedded SQLite store: the shared contract, plus what only SQLite has (WAL, files, connections, plans)."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from listener.store import open_store
from listener.store import sqlite as sqlite_module
from listener.store.base import Filters
from listener.store.sqlite import SCHEMA_VERSION, SLOT_BITS, SqliteStore, snippet
from listener.text import normalise
from store_contract import StoreContract, corpus, mention, sentiment

UTC = timezone.utc


class TestSqliteContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        store = SqliteStore(tmp_path / "contract.db")
        yield store
        store.close()


# ---------------------------------------------------------------- files, URLs, reopening


def test_open_store_urls(tmp_path):
    path = tmp_path / "sub" / "listener.db"
    with open_store(f"sqlite:///{path}") as store:
        assert isinstance(store, SqliteStore) and store.path == str(path)
        store.upsert([mention("a")])
    assert path.exists()
    # three slashes and an absolute path, or four (SQLAlchemy's spelling, and what f"sqlite:///{abs}" gives)
    with open_store(f"sqlite://{path}") as store:
        assert store.path == str(path) and store.count(Filters()) == 1
    assert sqlite_module._path_of("sqlite://relative/listener.db") == "relative/listener.db"
    for url in ("sqlite://:memory:", "sqlite:///:memory:", "sqlite://"):
        with open_store(url) as store:
            assert store.path == ":memory:"
            store.upsert([mention("a")])
            assert store.count(Filters()) == 1


def test_wal_mode_and_reopen(tmp_path):
    path = tmp_path / "listener.db"
    mentions = corpus()
    with SqliteStore(path) as store:
        store.upsert(mentions)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with SqliteStore(path) as again:
        assert again.count(Filters(include_duplicates=True)) == 8
        assert again.get(mentions[0].id) == mentions[0]


def test_refuses_another_schema_version(tmp_path):
    path = tmp_path / "listener.db"
    SqliteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE listener_meta SET value = '99' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(RuntimeError, match="schema 99"):
        SqliteStore(path)


# ---------------------------------------------------------------- layout


def _raw(store: SqliteStore, sql: str, *params):
    return store._db.execute(sql, params).fetchall()


def test_rowid_encodes_published_time(sqlite_store):
    base = datetime(2024, 6, 1, tzinfo=UTC)
    late, early = [mention(f"l{i}", at=base + timedelta(days=1)) for i in range(3)], [mention("e", at=base)]
    sqlite_store.upsert(late)
    sqlite_store.upsert(early)  # arrives after, published before
    rows = _raw(sqlite_store, "SELECT rowid, published_at, id FROM mentions ORDER BY rowid")
    assert [r[2] for r in rows] == [early[0].id] + [m.id for m in late]
    assert all(r[0] >> SLOT_BITS == r[1] for r in rows)
    assert len({r[0] for r in rows}) == 4


def test_fts_and_side_rows_are_replaced(sqlite_store):
    m = mention("a", "first words", brands=["acme"], topics=["price", "support"], fingerprint="0123abcd" * 18)
    sqlite_store.upsert([m])
    for i in range(3):
        sqlite_store.upsert([m.model_copy(update={"text": f"version {i}", "brands": ["acme", "globex"],
                                                  "published_at": m.published_at + timedelta(hours=i)})])
    assert _raw(sqlite_store, "SELECT count(*) FROM mentions_fts") == [(1,)]
    assert _raw(sqlite_store, "SELECT body FROM mentions_fts") == [("version 2",)]
    assert _raw(sqlite_store, "SELECT count(*) FROM mention_brands") == [(2,)]
    assert _raw(sqlite_store, "SELECT count(*) FROM mention_topics") == [(2,)]
    assert _raw(sqlite_store, "SELECT count(*) FROM mention_bands") == [(6,)]  # listener.dedupe.BANDS
    assert sqlite_store.forget_author("nobody") == 0
    sqlite_store.upsert([m.model_copy(update={"author_id": "x"})])
    assert sqlite_store.forget_author("x") == 1
    for table in ("mentions", "mention_docs", "mentions_fts", "mention_brands", "mention_topics", "mention_bands"):
        assert _raw(sqlite_store, f"SELECT count(*) FROM {table}") == [(0,)], table


def test_indexed_text_is_normalised(sqlite_store):
    sqlite_store.upsert([mention("a", "أَحْمَد كتاب‌ها", title="ÉCOLE", author_name="Zoë")])
    assert _raw(sqlite_store, "SELECT title, body FROM mentions_fts") == [("ecole", "احمد کتاب ها")]
    assert _raw(sqlite_store, "SELECT author_key FROM mentions") == [("zoe",)]


def test_a_failed_batch_leaves_nothing(sqlite_store):
    sqlite_store.upsert([mention("keep")])
    sqlite_store._db.execute("CREATE TEMP TRIGGER boom BEFORE INSERT ON mentions WHEN NEW.source = 'boom' "
                             "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    batch = [mention("a"), mention("b", "new words"), mention("keep", "changed"), mention("c", source="boom")]
    with pytest.raises(sqlite3.DatabaseError, match="boom"):
        sqlite_store.upsert(batch)
    assert sqlite_store.count(Filters()) == 1
    assert sqlite_store.get(mention("keep").id).text == "text of keep"
    assert _raw(sqlite_store, "SELECT count(*) FROM mentions_fts") == [(1,)]
    sqlite_store.upsert(batch[:3])  # the store is usable again
    assert sqlite_store.count(Filters()) == 3


def test_many_mentions_in_one_second_spill_over(sqlite_store, monkeypatch):
    monkeypatch.setattr(sqlite_module, "SLOT_BITS", 2)  # 4 slots per second
    at = datetime(2024, 1, 1, tzinfo=UTC)
    sqlite_store.upsert([mention("next", at=at + timedelta(seconds=1))])
    sqlite_store.upsert([mention(f"s{i}", at=at) for i in range(6)])
    sqlite_store.upsert([mention(f"t{i}", at=at) for i in range(3)])
    assert sqlite_store.count(Filters()) == 10
    assert len(list(sqlite_store.iter_mentions(Filters()))) == 10


def test_stores_the_bands_of_the_dedupe_module(sqlite_store):
    from listener.dedupe import BANDS, bands, fingerprint

    fp = fingerprint(normalise("one two three four five six seven eight nine ten eleven"))
    sqlite_store.upsert([mention("a", fingerprint=fp), mention("b", fingerprint=fp, duplicate_of="x")])
    assert _raw(sqlite_store, "SELECT count(*) FROM mention_bands") == [(BANDS,)]
    assert sqlite_store.find_fingerprints(bands(fp)[-1:]) == [(mention("a").id, fp)]


# ---------------------------------------------------------------- query plans


def _plans(store: SqliteStore, action) -> list[str]:
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        action()
    finally:
        store._db.set_trace_callback(None)
    return [" | ".join(r[3] for r in store._db.execute("EXPLAIN QUERY PLAN " + sql))
            for sql in statements if sql.lstrip().upper().startswith("SELECT")]


@pytest.mark.parametrize("filters", [Filters(), Filters(sources=("reddit",)), Filters(brands=("acme",)),
                                     Filters(since=datetime(2024, 5, 2, tzinfo=UTC))],
                         ids=["all", "source", "brand", "since"])
def test_date_sorted_search_needs_no_sort_step(sqlite_store, filters):
    sqlite_store.upsert(corpus())
    plans = _plans(sqlite_store, lambda: sqlite_store.search(filters, limit=5))
    page_plans = [p for p in plans if "ORDER BY" in p or "SCAN" in p or "SEARCH" in p]
    assert page_plans
    assert not any("TEMP B-TREE FOR ORDER BY" in p for p in plans), plans


# ---------------------------------------------------------------- concurrency


def test_second_connection_reads_while_one_writes(tmp_path):
    path = tmp_path / "listener.db"
    writer, reader = SqliteStore(path), SqliteStore(path)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    errors: list[BaseException] = []
    seen: list[int] = []

    def write():
        try:
            for batch in range(20):
                writer.upsert([mention(f"w{batch}-{i}", f"batch {batch} item {i}", at=base + timedelta(minutes=i))
                               for i in range(50)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    while thread.is_alive():
        seen.append(reader.count(Filters()))
        reader.search(Filters(), limit=5)
    thread.join()
    assert not errors
    assert seen == sorted(seen)  # a reader sees whole batches, never a half-written one
    assert all(n % 50 == 0 for n in seen)
    assert reader.count(Filters()) == 1000
    writer.close()
    reader.close()


def test_two_writers_on_one_file(tmp_path):
    path = tmp_path / "listener.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    errors: list[BaseException] = []
    at = datetime(2024, 1, 1, tzinfo=UTC)

    def write(n: int):
        try:
            for batch in range(15):
                # both writers fill the same seconds: rowid allocation must not collide
                stores[n].upsert([mention(f"{n}-{batch}-{i}", at=at + timedelta(seconds=i)) for i in range(40)])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert stores[0].count(Filters()) == 2 * 15 * 40
    for s in stores:
        s.close()


def test_one_store_shared_by_threads(sqlite_store):
    errors: list[BaseException] = []
    at = datetime(2024, 1, 1, tzinfo=UTC)

    def work(n: int):
        try:
            for i in range(20):
                sqlite_store.upsert([mention(f"t{n}-{i}", at=at + timedelta(seconds=i))])
                sqlite_store.search(Filters(), limit=3)
                list(sqlite_store.iter_mentions(Filters(), batch_size=7))
                sqlite_store.timeseries(Filters(), "1h")
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sqlite_store.count(Filters()) == 80


def test_iterating_while_writing_keeps_memory_flat(sqlite_store):
    at = datetime(2024, 1, 1, tzinfo=UTC)
    sqlite_store.upsert([mention(f"i{i}", at=at + timedelta(minutes=i)) for i in range(30)])
    it = sqlite_store.iter_mentions(Filters(), batch_size=10)
    first = [next(it) for _ in range(10)]
    sqlite_store.upsert([mention("late", at=at + timedelta(days=1))])  # the lock is not held between batches
    rest = list(it)
    assert [m.native_id for m in first + rest] == [f"i{i}" for i in range(30)] + ["late"]


# ---------------------------------------------------------------- snippets and time zones (helpers)


@pytest.mark.parametrize("text, terms, expected", [
    ("قال أَحْمَد", [(("احمد",), False)], "قال <mark>أَحْمَد</mark>"),
    ("كتابها و کتاب\u200cها", [(("کتاب",), False)], "كتابها و <mark>کتاب</mark>\u200cها"),
    ("کتاب\u200cها", [(("کتاب", "ها"), False)], "<mark>کتاب</mark>\u200c<mark>ها</mark>"),
    ("Cafe\u0301 CAFÉ cafes", [(("cafe",), False)], "<mark>Cafe\u0301</mark> <mark>CAFÉ</mark> cafes"),
    ("Cafés", [(("caf",), True)], "<mark>Cafés</mark>"),
    ("a < b & c", [(("b",), False)], "a &lt; <mark>b</mark> &amp; c"),
    ("line\n\nbreaks", [], "line breaks"),
    ("۱۲۳ ١٢٣ 123", [(("123",), False)], "<mark>۱۲۳</mark> <mark>١٢٣</mark> <mark>123</mark>"),
    ("new york and york new", [(("new", "york"), False)], "<mark>new</mark> <mark>york</mark> and york new"),
])
def test_snippet_helper(text, terms, expected):
    assert snippet(mention("x", text), terms) == expected


def test_offset_segments_new_york_2024():
    segments = sqlite_module._offset_segments("America/New_York", 19723, 20088)  # 2024-01-01 .. 2024-12-31
    transitions = [(datetime.fromtimestamp(t, UTC), off) for t, off in segments[1:]]
    assert transitions == [(datetime(2024, 3, 10, 7, tzinfo=UTC), -4 * 3600),
                           (datetime(2024, 11, 3, 6, tzinfo=UTC), -5 * 3600)]
    assert segments[0][1] == -5 * 3600


def test_timeseries_over_years_in_a_dst_zone(sqlite_store):
    at = datetime(2020, 1, 1, 12, tzinfo=UTC)
    sqlite_store.upsert([mention(f"y{i}", at=at + timedelta(days=i * 7)) for i in range(200)])
    series = sqlite_store.timeseries(Filters(), "1d", "Europe/London")
    assert sum(c["all"] for _, c in series) == 200
    assert all((t.hour, t.minute) == (0, 0) for t, _ in series)
    assert len(series) == 199 * 7 + 1


def test_relevance_window_ranks_the_newest_matches_then_the_rest_by_date(sqlite_store):
    base = datetime(2024, 1, 1, tzinfo=UTC)
    # m0 is the best match (the word three times) but the oldest
    sqlite_store.upsert([mention(f"m{i}", "parcel " * (3 if i == 0 else 1) + f"filler {i}",
                                 at=base + timedelta(hours=i)) for i in range(12)]
                        + [mention("other", "no match here", at=base + timedelta(days=1))])
    sqlite_store.relevance_window = 5
    filters = Filters(query="parcel OR source:reddit")
    hits = []
    cursor = None
    while True:
        page = sqlite_store.search(filters, sort="relevance", limit=3, cursor=cursor)
        hits += page.hits
        cursor = page.next_cursor
        if cursor is None:
            break
    names = [h.mention.native_id for h in hits]
    assert sorted(names) == sorted([f"m{i}" for i in range(12)] + ["other"])
    assert all(h.score > 0 for h in hits[:5]) and all(h.score == 0 for h in hits[5:])
    assert set(names[:5]) == {"m7", "m8", "m9", "m10", "m11"}
    assert names[5:] == ["other"] + [f"m{i}" for i in range(6, -1, -1)]
    sqlite_store.relevance_window = None
    assert sqlite_store.search(filters, sort="relevance").hits[0].mention.native_id == "m0"


@pytest.mark.parametrize("budget, window, count_limit", [(1, 1, None), (3, 2, None), (2000, None, None),
                                                         (2000, 10_000, 3)])
def test_plans_agree(sqlite_store, monkeypatch, budget, window, count_limit):
    """The text-driven plan (with its walking budget), the general plan, the relevance window and the count
    limit change how rows are found, never which."""
    from store_contract import all_pages

    monkeypatch.setattr(sqlite_module, "DRIVE_BUDGET", budget)
    sqlite_store.relevance_window = window
    sqlite_store.count_limit = count_limit  # search totals stop here; count() stays exact
    base = datetime(2024, 1, 1, tzinfo=UTC)
    words = ["parcel", "late", "refund", "great"]
    sqlite_store.upsert([
        mention(f"x{i}", " ".join(words[j] for j in range(4) if (i >> j) & 1) + f" n{i}",
                source=("reddit", "forum", "rss")[i % 3], brands=["acme"] if i % 2 else ["globex"],
                topics=["price", "app"][: i % 3],
                at=base + timedelta(hours=i * 5 % 37), duplicate_of="x0" if i % 7 == 6 else None)
        for i in range(40)])
    cases = [Filters(query="parcel"), Filters(query="parcel late"), Filters(query="parcel -late"),
             Filters(query="parcel source:forum"), Filters(query="parcel -source:forum", brands=("acme",)),
             Filters(query="(parcel OR refund) source:rss", include_duplicates=True),
             Filters(query="parcel OR source:rss"), Filters(query="-parcel"),
             Filters(query="refund", since=base + timedelta(hours=10), until=base + timedelta(hours=30)),
             Filters(query="great late", sources=("reddit",), brands=("globex",)),
             Filters(query="parcel", include_duplicates=True),
             Filters(query="late -parcel", since=base + timedelta(hours=3), include_duplicates=True),
             Filters(brands=("acme",)), Filters(brands=("acme",), include_duplicates=True),
             Filters(brands=("acme",), until=base + timedelta(hours=20)), Filters(brands=("acme",), sources=("rss",)),
             Filters(topics=("app",), brands=("acme", "globex")), Filters(topics=("price",), sentiments=("unscored",)),
             Filters(query="parcel OR source:rss", brands=("globex",)), Filters(query="-late", topics=("price",))]
    for filters in cases:
        expected = {m.native_id for m in sqlite_store.iter_mentions(filters)}
        total = len(expected) if count_limit is None else min(len(expected), count_limit)
        for sort in ("date", "relevance"):
            hits = all_pages(sqlite_store, filters, sort=sort, limit=2)
            names = [h.mention.native_id for h in hits]
            assert sorted(names) == sorted(expected), (filters, sort)
            if sort == "date":
                times = [h.mention.published_at for h in hits]
                assert times == sorted(times, reverse=True)
            page = sqlite_store.search(filters, sort=sort)
            assert page.total == total
            assert page.total_exact == (count_limit is None or len(expected) < count_limit)
        assert sqlite_store.count(filters) == len(expected)  # statistics always count exactly
        mentions = list(sqlite_store.iter_mentions(filters))
        assert sum(c["all"] for _, c in sqlite_store.timeseries(filters, "1h")) == len(mentions)
        assert dict(sqlite_store.terms(filters, "source")) == dict(Counter(m.source for m in mentions))
        assert dict(sqlite_store.terms(filters, "brand")) == dict(Counter(b for m in mentions for b in m.brands))
        assert dict(sqlite_store.terms(filters, "topic")) == dict(Counter(t for m in mentions for t in m.topics))


def test_rowid_bit_mirrors_duplicate_of(sqlite_store):
    at = datetime(2024, 1, 1, tzinfo=UTC)
    sqlite_store.upsert([mention(f"d{i}", at=at, duplicate_of="x" if i % 2 else None) for i in range(6)])
    # flip some: an original becomes a duplicate and back, in the same published second
    sqlite_store.upsert([mention("d0", at=at, duplicate_of="x"), mention("d1", at=at)])
    sqlite_store.upsert([mention("d0", at=at)])
    rows = _raw(sqlite_store, "SELECT rowid, duplicate_of IS NOT NULL, published_at FROM mentions")
    assert len(rows) == 6
    assert all(rowid & 1 == dup and rowid >> SLOT_BITS == published for rowid, dup, published in rows)
    assert sqlite_store.count(Filters(query="text")) == 4  # d0, d1, d2, d4
    assert sqlite_store.count(Filters(query="text", include_duplicates=True)) == 6


# ---------------------------------------------------------------- brand/topic + sentiment from one index


def _brand_sentiment_corpus():
    from store_contract import sentiment

    base = datetime(2024, 6, 1, tzinfo=UTC)
    labels = ["negative", "neutral", "positive", None]
    return [mention(f"s{i}", f"post {i}", at=base + timedelta(minutes=i), brands=["acme"] if i % 3 else ["globex"],
                    topics=["price"] if i % 2 else [], sentiment=sentiment(labels[i % 4]) if labels[i % 4] else None,
                    duplicate_of="x" if i % 11 == 0 else None)
            for i in range(120)]


@pytest.mark.parametrize("field", ["brands", "topics"])
@pytest.mark.parametrize("label", ["negative", "positive", "unscored"])
def test_one_brand_or_topic_and_one_sentiment_walk_one_index(sqlite_store, field, label):
    items = _brand_sentiment_corpus()
    sqlite_store.upsert(items)
    value = "acme" if field == "brands" else "price"
    filters = Filters(**{field: (value,)}, sentiments=(label,))
    expected = [m.native_id for m in sorted(items, key=lambda m: m.published_at, reverse=True)
                if value in getattr(m, field) and m.duplicate_of is None
                and (m.sentiment.label if m.sentiment else "unscored") == label]
    page = sqlite_store.search(filters, limit=500)
    assert [h.mention.native_id for h in page.hits] == expected and page.total == len(expected)
    assert sqlite_store.count(filters) == len(expected)
    # the plan reads the (value, sentiment) index alone: no lookup of each mention's row
    sel = sqlite_module._select(filters)
    assert sel.index_only
    plan = " ".join(r[3] for r in _raw(sqlite_store, f"EXPLAIN QUERY PLAN {sel.driver_rows()}", *sel.driver_params))
    assert "_sentiment" in plan, plan


def test_rescoring_moves_a_mention_between_sentiments(sqlite_store):
    from store_contract import sentiment

    m = mention("r", "text", brands=["acme"], sentiment=sentiment("negative"))
    sqlite_store.upsert([m])
    sqlite_store.upsert([m.model_copy(update={"sentiment": sentiment("positive")})])
    assert sqlite_store.count(Filters(brands=("acme",), sentiments=("negative",))) == 0
    assert sqlite_store.count(Filters(brands=("acme",), sentiments=("positive",))) == 1


def test_a_schema_1_file_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    items = _brand_sentiment_corpus()
    with SqliteStore(path) as store:
        store.upsert(items)
    raw = sqlite3.connect(path)  # make it a file as schema 1 wrote it: no sentiment beside brands and topics
    for table in ("mention_brands", "mention_topics"):
        raw.execute(f"DROP INDEX {table}_sentiment")
        raw.execute(f"ALTER TABLE {table} DROP COLUMN sentiment")
    for table in ("rollup_counts", "rollup_authors", "rollup_author_ids"):  # schema 1 had no summary tables
        raw.execute(f"DROP TABLE {table}")
    _drop_probability_columns(raw)  # nor probabilities
    raw.execute("UPDATE listener_meta SET value = '1' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with SqliteStore(path) as store:
        expected = sum(1 for m in items if "acme" in m.brands and m.duplicate_of is None and m.sentiment
                       and m.sentiment.label == "negative")
        assert store.count(Filters(brands=("acme",), sentiments=("negative",))) == expected
        store.use_rollups = False
        assert store.count(Filters(brands=("acme",), sentiments=("negative",))) == expected
        assert store._db.execute("SELECT value FROM listener_meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)


def _drop_probability_columns(raw: sqlite3.Connection) -> None:
    for label in ("negative", "neutral", "positive"):
        raw.execute(f"ALTER TABLE mentions DROP COLUMN sentiment_{label}")


def test_a_schema_4_file_gets_the_probabilities_of_its_documents(tmp_path):
    from listener.model import Sentiment

    path = tmp_path / "v4.db"
    old = mention("old", "scored before probabilities were kept", sentiment=sentiment("negative"))
    mixed = mention("mixed", "great food, late delivery", sentiment=Sentiment.from_probabilities([0.4, 0.2, 0.4]))
    plain = mention("plain", "great food", sentiment=Sentiment.from_probabilities([0.05, 0.05, 0.9]))
    unscored = mention("none", "unscored")
    with SqliteStore(path) as store:
        store.upsert([old, mixed, plain, unscored])
    raw = sqlite3.connect(path)  # as schema 4 wrote it: no probability columns (the documents may hold them)
    _drop_probability_columns(raw)
    raw.execute("UPDATE listener_meta SET value = '4' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with SqliteStore(path) as store:
        columns = dict((row[0], row[1:]) for row in store._db.execute(
            "SELECT id, sentiment_negative, sentiment_neutral, sentiment_positive FROM mentions"))
        assert columns[mixed.id] == (0.4, 0.2, 0.4) and columns[plain.id] == (0.05, 0.05, 0.9)
        assert columns[old.id] == columns[unscored.id] == (None, None, None)
        assert [m.native_id for m in store.iter_mentions(Filters(mixed=True))] == ["mixed"]
        assert store.get(old.id) == old and store.get(mixed.id) == mixed  # documents untouched
        assert store._db.execute("SELECT value FROM listener_meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
    with SqliteStore(path) as store:  # opened again: nothing left to upgrade
        assert store.count(Filters(mixed=True)) == 1

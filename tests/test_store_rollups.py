"""The SQLite store's summary tables (listener.store.sqlite_rollups) give exactly what counting the mentions
gives: the same store is asked twice, once reading the rollups and once (use_rollups = False) the mentions,
on random mentions and filters, in zones with DST and half- and quarter-hour offsets, and again after
rescoring, moving, deleting and forgetting."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener.model import Mention, Sentiment, make_author_id
from listener.store.base import Filters
from listener.store import sqlite_rollups as rollups
from listener.store.sqlite import SqliteStore

UTC = timezone.utc
# Ten days around clock changes: Berlin (31 March), Lord Howe (30-minute change, 7 April).
START = datetime(2024, 3, 29, 13, 7, tzinfo=UTC)
SPAN = 10 * 86400
ZONES = ["UTC", "Europe/Berlin", "Asia/Tehran", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns"]
SOURCES = ["reddit", "trustpilot", "rss"]
LANGS = ["en", "fa", None]
LABELS = ["negative", "neutral", "positive", None]
BRANDS = ["acme", "globex", "initech"]
TOPICS = ["price", "support", "app"]
AUTHORS = ["ann", "bob", "cyd", "dee"]
DOMAINS = ["reddit.com", "News.Example", "forum.example", None]  # stored lower-cased
RATINGS = [None, None, 1.0, 2.0, 2.5, 3.0, 4.0, 4.5, 5.0]
FIELDS = ["author", "sentiment", "topic", "source", "brand", "lang", "domain"]  # first: what hypothesis draws most

# Quarter hours where it happens: clock changes (Berlin 01:00 UTC 31 March, Lord Howe 15:00 UTC 6 April),
# UTC and local midnights. Mentions and filter bounds crowd around them, so a range's ragged edges (counted
# raw, the rest from the summaries) hold mentions often.
HOT = [int((datetime(*t, tzinfo=UTC) - START).total_seconds()) for t in [
    (2024, 3, 31, 0, 45), (2024, 3, 31, 1, 0), (2024, 3, 30, 23, 0), (2024, 4, 1, 0, 0), (2024, 4, 6, 15, 0),
    (2024, 4, 2, 20, 30), (2024, 4, 3, 18, 15), (2024, 4, 4, 0, 0)]]
seconds = st.one_of(st.integers(0, SPAN), st.builds(lambda hot, into: hot + into, st.sampled_from(HOT),
                                                    st.integers(-600, 1799)))
records = st.fixed_dictionaries({
    "at": seconds, "source": st.sampled_from(SOURCES), "lang": st.sampled_from(LANGS),
    "label": st.sampled_from(LABELS), "brands": st.lists(st.sampled_from(BRANDS), max_size=2, unique=True),
    "author": st.sampled_from(AUTHORS + [None]), "duplicate": st.booleans(),
    "topics": st.lists(st.sampled_from(TOPICS), max_size=2, unique=True),
    "domain": st.sampled_from(DOMAINS), "rating": st.sampled_from(RATINGS),
})


def random_record(rng) -> dict:
    return {"at": rng.choice(HOT) + rng.randint(-600, 1799) if rng.random() < 0.5 else rng.randint(0, SPAN),
            "source": rng.choice(SOURCES), "lang": rng.choice(LANGS), "label": rng.choice(LABELS),
            "brands": rng.sample(BRANDS, rng.choice((0, 1, 1, 2))), "author": rng.choice(AUTHORS + [None]),
            "duplicate": rng.random() < 0.1, "topics": rng.sample(TOPICS, rng.choice((0, 1, 1, 2))),
            "domain": rng.choice(DOMAINS), "rating": rng.choice(RATINGS)}


def make(key: int, r: dict) -> Mention:
    return Mention(source=r["source"], native_id=str(key), text=f"text {key}", lang=r["lang"],
                   published_at=START + timedelta(seconds=r["at"]), author_name=r["author"], brands=r["brands"],
                   topics=r.get("topics", []), domain=r.get("domain"), rating=r.get("rating"),
                   sentiment=Sentiment(label=r["label"], score=0.9) if r["label"] else None,
                   duplicate_of="original" if r["duplicate"] else None)


moments = st.builds(lambda s, us: START + timedelta(seconds=s, microseconds=us), seconds,
                    st.sampled_from([0, 0, 250_000]))  # a fraction: floored for since, ceiled for until


@st.composite
def filters_strategy(draw) -> Filters:
    """Mostly one filter or none, as a page asks (and as the summaries answer); sometimes more, so the choice
    between the two ways is tested too; sometimes a rating range (the rating agreement's bands, open ends, a
    bound between two stars). Mostly a date range, whose ragged edges are counted raw and the rest from the
    summaries."""
    bounds = sorted(draw(st.lists(moments, min_size=2, max_size=2)))
    since, until = draw(st.sampled_from([(bounds[0], bounds[1])] * 3 + [(bounds[0], None), (None, bounds[1]),
                                                                        (None, None), (bounds[1], bounds[0])]))
    return Filters(
        brands=draw(st.sampled_from([(), (), (), ("acme",), ("globex",), ("acme", "globex")])),
        sources=draw(st.sampled_from([(), (), (), ("reddit",), ("rss", "trustpilot")])),
        langs=draw(st.sampled_from([(), (), (), ("fa",), ("en", "fa")])),
        sentiments=draw(st.sampled_from([(), (), (), ("negative",), ("unscored",), ("positive", "unscored")])),
        topics=draw(st.sampled_from([(), (), (), ("price",), ("price", "app")])),
        rating_min=draw(st.sampled_from([None, None, None, None, 0.0, 2.5, 4.0])),
        rating_max=draw(st.sampled_from([None, None, None, None, 3.0, 3.5, 5.0])),
        since=since, until=until, include_duplicates=draw(st.booleans()))


asks = st.tuples(filters_strategy(), st.sampled_from(["15m", "1h", "1d"]), st.sampled_from(ZONES),
                 st.sampled_from(["sentiment", None, "topic", "brand", "source", "lang", "author", "domain"]),
                 st.sampled_from(FIELDS), st.integers(1, 4))


def outcome(call):
    try:
        return call()
    except ValueError as err:  # e.g. SeriesTooLong: both ways must fail alike
        return type(err).__name__


def both_ways(store: SqliteStore, ask) -> None:
    filters, interval, tz, split, field, size = ask
    answers = []
    for use in (True, False):
        store.use_rollups = use
        answers.append((store.count(filters),
                        outcome(lambda: store.timeseries(filters, interval, tz, split)),
                        store.terms(filters, field, size)))
    store.use_rollups = True
    assert answers[0] == answers[1], ask


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=40), st.randoms(use_true_random=False),
       st.lists(asks, min_size=3, max_size=6), st.data())
def test_rollups_answer_as_the_mentions_do_through_every_kind_of_write(items, rng, questions, data):
    store = SqliteStore(":memory:")
    try:
        # hypothesis' own records (which it shrinks well) and a crowd of varied ones, so every cube and
        # every edge has mentions to count
        items = items + [random_record(rng) for _ in range(80)]
        mentions = [make(i, r) for i, r in enumerate(items)]
        store.upsert(mentions)
        for ask in questions:
            both_ways(store, ask)
        # rescore (new sentiment), re-tag brands, move in time, become or stop being a duplicate
        changed = []
        for mention in data.draw(st.lists(st.sampled_from(mentions), max_size=6)):
            change = data.draw(st.sampled_from(["label", "brands", "time", "duplicate", "topics", "rating"]))
            if change == "label":
                label = data.draw(st.sampled_from(LABELS))
                mention = mention.model_copy(update={"sentiment": Sentiment(label=label, score=0.5) if label else None})
            elif change == "brands":
                mention = mention.model_copy(update={"brands": data.draw(st.lists(st.sampled_from(BRANDS),
                                                                                  max_size=2, unique=True))})
            elif change == "topics":
                mention = mention.model_copy(update={"topics": data.draw(st.lists(st.sampled_from(TOPICS),
                                                                                  max_size=2, unique=True))})
            elif change == "rating":
                mention = mention.model_copy(update={"rating": data.draw(st.sampled_from(RATINGS))})
            elif change == "time":
                mention = mention.model_copy(update={"published_at": START + timedelta(seconds=data.draw(seconds))})
            else:
                mention = mention.model_copy(update={"duplicate_of": None if mention.duplicate_of else "original"})
            changed.append(mention)
        store.upsert(changed)
        for ask in questions:
            both_ways(store, ask)
        author = data.draw(st.sampled_from(AUTHORS))
        for source in SOURCES:
            store.forget_author(make_author_id(source, author))
        for ask in questions:
            both_ways(store, ask)
    finally:
        store.close()


def corpus() -> list[Mention]:
    out = []
    for i in range(400):
        r = {"at": (i * 7919) % SPAN, "source": SOURCES[i % 3], "lang": LANGS[i % 3], "label": LABELS[i % 4],
             "brands": [BRANDS[i % 3]] + ([BRANDS[(i + 1) % 3]] if i % 5 == 0 else []),
             "author": AUTHORS[i % 4], "duplicate": i % 17 == 0, "topics": TOPICS[:i % 3],
             "domain": DOMAINS[i % 4], "rating": RATINGS[i % 9]}
        out.append(make(i, r))
    return out


SUMMARISED = [Filters(), Filters(brands=("acme",)), Filters(topics=("price",)), Filters(sentiments=("negative", "unscored")),
              Filters(brands=("acme",), sentiments=("negative",)), Filters(langs=("fa",), include_duplicates=True),
              Filters(since=START + timedelta(days=2), until=START + timedelta(days=5)),
              Filters(rating_min=4.0, rating_max=5.0, sentiments=("positive",)), Filters(rating_max=2.0)]


@pytest.mark.parametrize("filters", SUMMARISED)
def test_what_a_page_draws_comes_from_the_summaries(filters, monkeypatch):
    """Without a date range, nothing of the raw path runs: the comparison above would prove nothing if the
    rollups were never asked. (With one, only the partial quarter hours or days at its edges are counted raw.)"""
    store = SqliteStore(":memory:")
    store.upsert(corpus())
    expected = {}
    store.use_rollups = False
    for field in ("sentiment", "brand", "source", "author", "topic", "domain"):
        expected[field] = store.terms(filters, field)
    expected["series"] = store.timeseries(filters, "1d", "Europe/Berlin", "sentiment")
    expected["count"] = store.count(filters)
    store.use_rollups = True
    if filters.since is None:
        def refuse(*args, **kwargs):
            raise AssertionError("the raw path ran")

        for name in ("_raw_series", "_raw_terms", "_count"):
            monkeypatch.setattr(store, name, refuse)
    for field in ("sentiment", "brand", "source", "author", "topic", "domain"):
        if not (rollups.authors_answerable(filters) if field == "author" else rollups.counts_cube(filters, field)
                is not None):
            continue  # three dimensions, a brand split under a brand filter, authors by brand: the raw path's
        assert store.terms(filters, field) == expected[field]
    assert store.timeseries(filters, "1d", "Europe/Berlin", "sentiment") == expected["series"]
    assert store.count(filters) == expected["count"] > 0
    store.close()


def test_a_stats_page_over_a_date_range_reads_only_summaries(monkeypatch):
    """/api/stats over whole days (what the web app asks for 30 days): counts, every breakdown but the top
    authors' names, the series and the rating agreement come from the summaries; the raw path never runs."""
    from listener.stats import stats_of_store

    store = SqliteStore(":memory:")
    store.upsert(corpus())
    filters = Filters(since=START.replace(hour=0, minute=0) + timedelta(days=1),
                      until=START.replace(hour=0, minute=0) + timedelta(days=8))
    store.use_rollups = False
    expected = stats_of_store(store, filters)
    store.use_rollups = True

    raw_calls, searching = [], []

    def watch(name):
        original = getattr(store, name)

        def call(*args, **kwargs):
            if not searching:
                raw_calls.append(name)
            return original(*args, **kwargs)
        return call

    def search(*args, **kwargs):  # the top authors' latest names: one indexed page of one author each
        assert kwargs.get("limit") == 1 and args[0].authors
        searching.append(1)
        try:
            return SqliteStore.search(store, *args, **kwargs)
        finally:
            searching.pop()

    for name in ("_raw_series", "_raw_terms", "_count"):
        monkeypatch.setattr(store, name, watch(name))
    monkeypatch.setattr(store, "search", search)
    got = stats_of_store(store, filters)
    assert raw_calls == []
    assert got == expected
    assert expected["breakdowns"]["domain"] and expected["rating_agreement"]["rated_and_scored"] > 0
    store.close()


def _as_written_by(raw: sqlite3.Connection, schema: int) -> None:
    """Finish turning a new file into one an older schema wrote: no sentiment probabilities (schema 5 added
    them), the older version number; then commit and close."""
    for label in ("negative", "neutral", "positive"):
        raw.execute(f"ALTER TABLE mentions DROP COLUMN sentiment_{label}")
    raw.execute("UPDATE listener_meta SET value = ? WHERE key = 'schema_version'", (str(schema),))
    raw.commit()
    raw.close()


def test_a_schema_3_store_gains_domain_and_rating_summaries_when_opened(tmp_path):
    path = tmp_path / "v3.db"
    with SqliteStore(path) as store:
        store.upsert(corpus())
    raw = sqlite3.connect(path)  # as schema 3 left it: no domain or rating in the summaries
    raw.executescript("""
        DROP INDEX rollup_counts_values; DROP INDEX rollup_counts_day;
        ALTER TABLE rollup_counts RENAME TO newer;
        CREATE TABLE rollup_counts (cube INTEGER NOT NULL, brand TEXT, source TEXT, lang TEXT, sentiment TEXT,
                                    topic TEXT, dup INTEGER NOT NULL, day INTEGER NOT NULL, slots BLOB NOT NULL);
        INSERT INTO rollup_counts SELECT cube, brand, source, lang, sentiment, topic, dup, day, slots FROM newer
            WHERE cube < 32;
        DROP TABLE newer;""")
    _as_written_by(raw, schema=3)
    with SqliteStore(path) as store:
        assert store._db.execute("SELECT count(*) FROM rollup_counts WHERE cube = 72").fetchone()[0] > 0
        for filters in SUMMARISED:
            both_ways(store, (filters, "1d", "Asia/Tehran", "sentiment", "domain", 10))


def test_a_forgotten_author_leaves_no_count_under_their_id(tmp_path):
    store = SqliteStore(tmp_path / "l.db")
    items = corpus()
    store.upsert(items)
    gone = next(m.author_id for m in items if m.author_name == "ann")
    assert gone in dict(store.terms(Filters(include_duplicates=True), "author"))
    store.forget_author(gone)
    assert gone not in dict(store.terms(Filters(include_duplicates=True), "author"))
    assert store._db.execute("SELECT count(*) FROM rollup_author_ids WHERE author_id = ?", (gone,)).fetchone()[0] == 0
    numbers = {n for n, in store._db.execute("SELECT num FROM rollup_author_ids")}
    import numpy as np

    for blob, in store._db.execute("SELECT pairs FROM rollup_authors"):
        assert set(np.frombuffer(blob, "<i4").reshape(-1, 2)[:, 0].tolist()) <= numbers  # no orphaned count
    store.close()


def test_an_existing_store_gets_its_summaries_when_opened(tmp_path):
    """A file written before the rollups (schema 2) is upgraded in place, and they then answer as the
    mentions do."""
    path = tmp_path / "old.db"
    with SqliteStore(path) as store:
        store.upsert(corpus())
    raw = sqlite3.connect(path)
    for table in ("rollup_counts", "rollup_authors", "rollup_author_ids"):
        raw.execute(f"DROP TABLE {table}")
    _as_written_by(raw, schema=2)
    with SqliteStore(path) as store:
        assert store._db.execute("SELECT count(*) FROM rollup_counts").fetchone()[0] > 0
        for filters in SUMMARISED:
            for tz in ZONES:
                both_ways(store, (filters, "1d", tz, "sentiment", "author", 3))
            both_ways(store, (filters, "15m", "Asia/Kathmandu", None, "source", 10))


def test_each_mention_counts_once_in_every_cube():
    fact = rollups.Fact(0, 0, "reddit", "en", "negative", "a1", frozenset({"acme", "globex"}),
                        frozenset({"price", "app", "support"}), "reddit.com", 4.5)
    keys = rollups.cube_keys(fact, 19000)
    assert len(keys) == len(set(keys))
    per_cube = {cube: sum(1 for key in keys if key[0] == cube) for cube in rollups.CUBES}
    assert sum(per_cube.values()) == len(keys)  # no key outside CUBES
    for cube, count in per_cube.items():  # once per combination of its many-valued dimensions' values
        assert count == (2 if cube & 1 else 1) * (3 if cube & 16 else 1), cube
    for cube, *values, dup, day in keys:  # a cube keeps its dimensions' values and no others
        for i, (dim, value) in enumerate(zip(rollups.DIMS, values)):
            if not cube >> i & 1:
                assert value is None
            elif dim in ("source", "lang", "sentiment", "domain", "rating"):
                assert value == {"source": "reddit", "lang": "en", "sentiment": "negative", "domain": "reddit.com",
                                 "rating": 4.5}[dim]

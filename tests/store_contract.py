"""The store contract: what every back end (listener.store.BACKENDS) must do, written against the
interface only (listener.store.base.Store), never a back end's internals.

Use it by subclassing `StoreContract` in a test module and providing a `store` fixture that yields an
EMPTY store of that back end, closed afterwards (tests/test_store_sqlite.py; the Elasticsearch module runs
it when LISTENER_ES_URL is set). A back end must show its writes to the next read (refresh on upsert).

Times are whole seconds: a back end may keep published_at at second precision.

What the contract pins down beyond listener/store/base.py (an implementer's checklist):
- upsert: the same id twice in one batch, the later copy wins and counts once; re-upsert replaces every
  field, including what is searchable and the multi-valued brands/topics; UpsertResult.ids in batch order.
- find_fingerprints: bands as listener.dedupe.bands computes them, stored for originals only (a fingerprint
  and no duplicate_of), earliest published first.
- Filters: `until` exclusive, `since` inclusive, naive datetimes are UTC; "unscored" selects no sentiment;
  a rating bound leaves out mentions without a rating; duplicates are left out unless include_duplicates,
  in search, count, terms, timeseries and iter_mentions alike.
- search: `total` counts every match; date sort is newest first (ties in any stable order); relevance puts
  rows matching only through a field filter (`acme OR site:x`) after the text matches and sorts by date
  when the query has no positive words; Hit.score is higher-is-better and set for relevance; an invalid
  cursor or sort raises ValueError; a bad query raises listener.query.QuerySyntaxError.
- snippets: each matched word in <mark></mark> (a phrase marks its words), everything else HTML-escaped,
  white space squashed, about 200 characters around the first match, "…" where cut; the original spelling
  is marked (harakat and all), found by normalising the original's words; title when only it matches.
- timeseries: bucket keys are aware datetimes in `tz`, starting where the local wall clock reads a multiple
  of the interval past local midnight (so a day is 23 or 25 hours on DST changes, and an hour repeated
  when clocks go back is two "1h" buckets); empty buckets between the first and last are filled;
  unsplit buckets are {"all": n}; split buckets hold every value seen in the series, 0 where absent;
  sentiment splits use "unscored"; a mention with two brands counts once in each.
- terms: most common first, ties by value ascending; `author` counts author_id values (what
  Filters.authors takes); sentiment includes "unscored"; missing values (no lang, no domain) are skipped.
"""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from listener.dedupe import bands as fingerprint_bands
from listener.model import Mention, Sentiment, SentimentProbabilities
from listener.store.base import INTERVALS, TERM_FIELDS, Filters, Store

UTC = timezone.utc
# Near-duplicate fingerprints in listener.dedupe's format (18 positions of 8 hex digits).
FP_A = "00ff00ff" * 18
FP_B = "".join(f"{i:08x}" for i in range(18))
NEW_YORK = ZoneInfo("America/New_York")


def mention(key: str, text: str = "", *, source: str = "reddit", at: datetime | None = None, **fields) -> Mention:
    """A real Mention whose native id is `key` (tests find mentions by native_id)."""
    return Mention(source=source, native_id=key, text=text or f"text of {key}",
                   published_at=at or datetime(2024, 5, 1, tzinfo=UTC), **fields)


def sentiment(label: str, score: float = 0.9) -> Sentiment:
    return Sentiment(label=label, score=score)


def corpus() -> list[Mention]:
    """Eight mentions in three languages; m7 is a near-duplicate of m1."""
    m1 = mention("m1", "Acme support was slow to answer my refund question.", source="reddit", lang="en",
                 at=datetime(2024, 5, 1, 10, tzinfo=UTC), brands=["acme"], topics=["support", "refund"],
                 sentiment=sentiment("negative", 0.9), author_name="alice", domain="reddit.com",
                 fingerprint=FP_A, url="https://reddit.com/r/acme/1")
    return [
        m1,
        mention("m2", "Great service from Acme, fast delivery!", title="Five stars", source="trustpilot",
                lang="en", at=datetime(2024, 5, 2, 12, tzinfo=UTC), brands=["acme"], topics=["delivery"],
                sentiment=sentiment("positive", 0.8), author_name="bob", rating=5.0, domain="trustpilot.com"),
        mention("m3", "Terrible app, crashes every time <script>alert(1)</script>", source="trustpilot",
                lang="en", at=datetime(2024, 5, 3, 8, tzinfo=UTC), brands=["acme"], topics=["app"],
                sentiment=sentiment("negative", 0.95), author_name="carol", rating=1.0, domain="trustpilot.com"),
        mention("m4", "کتاب\u200cها را از اکمی خریدم و خیلی راضی هستم", source="appstore", lang="fa",
                at=datetime(2024, 5, 4, 9, tzinfo=UTC), brands=["acme"], topics=["delivery"],
                sentiment=sentiment("positive", 0.7), author_name="دانیال", rating=4.0, domain="apps.apple.com"),
        mention("m5", "أَحْمَد قال إن كتاب الشركة ممتاز", source="rss", lang="ar",
                at=datetime(2024, 5, 5, 18, tzinfo=UTC), brands=["globex"], author_name="ahmad",
                domain="news.example"),
        mention("m6", "Globex pricing is confusing, the price doubled", source="reddit", lang="en",
                at=datetime(2024, 5, 6, 23, 30, tzinfo=UTC), brands=["globex"], topics=["price"],
                sentiment=sentiment("neutral", 0.6), author_name="alice", domain="reddit.com",
                fingerprint=FP_B),
        mention("m7", "Acme support was slow to answer my refund question. (repost)", source="reddit", lang="en",
                at=datetime(2024, 5, 7, 10, tzinfo=UTC), brands=["acme"], topics=["support", "refund"],
                sentiment=sentiment("negative", 0.9), author_name="dave", domain="reddit.com",
                fingerprint=FP_A, duplicate_of=m1.id),
        mention("m8", "Acme and Globex compared: acme wins on price", source="forum", lang="en",
                at=datetime(2024, 5, 8, 15, tzinfo=UTC), brands=["acme", "globex"], topics=["price"],
                sentiment=sentiment("positive", 0.55), author_name="erin", domain="forum.example"),
    ]


def keys(hits_or_mentions) -> list[str]:
    """native ids, in order, of hits or mentions"""
    return [getattr(h, "mention", h).native_id for h in hits_or_mentions]


def all_pages(store: Store, filters: Filters, sort: str = "date", limit: int = 3) -> list:
    hits, cursor = [], None
    for _ in range(1000):
        page = store.search(filters, sort=sort, limit=limit, cursor=cursor)
        assert len(page.hits) <= limit
        hits.extend(page.hits)
        cursor = page.next_cursor
        if cursor is None:
            return hits
    raise AssertionError("pagination did not end")


def utc(value: datetime) -> datetime:
    """Aware datetimes in one zone subtract as wall times; compare instants in UTC."""
    return value.astimezone(UTC)


def plain(snippet: str) -> str:
    return html.unescape(re.sub(r"</?mark>", "", snippet))


class StoreContract:
    """Subclass and provide a `store` fixture yielding an empty store."""

    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - replaced by each back end's module
        raise NotImplementedError("provide a `store` fixture")

    @pytest.fixture
    def data(self, store) -> dict[str, Mention]:
        mentions = corpus()
        store.upsert(mentions)
        return {m.native_id: m for m in mentions}

    # ------------------------------------------------------------ upsert, get, ids

    def test_get_round_trips_every_field(self, store):
        original = Mention(
            source="trustpilot", native_id="r-1", url="https://www.trustpilot.com/reviews/1", domain="trustpilot.com",
            author_name="Zoë Ünal", title="Röstet «بد» ‹okay›", text="Line one\nline two — «کتاب‌ها» & <b>bold</b>",
            lang="en", published_at=datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
            fetched_at=datetime(2024, 3, 1, 0, 0, 1, 123456, tzinfo=UTC), rating=4.5, thread_id="t1", parent_id="p1",
            score=-3, replies=2, views=1000, company_reply="Thanks!", brands=["acme", "globex"],
            sentiment=Sentiment(label="positive", score=1.0, corrected=True, probabilities=SentimentProbabilities(
                negative=0.3125, neutral=0.0625, positive=0.625)), topics=["price", "support"], fingerprint=FP_B,
            extra={"verified": True, "helpful": 3, "nested": {"a": [1, 2.5, None, "x"]}})
        store.upsert([original])
        got = store.get(original.id)
        assert got == original
        assert got.model_dump() == original.model_dump()

    def test_mixed_selects_both_likely_whatever_the_label(self, store):
        at = datetime(2024, 5, 1, 10, tzinfo=UTC)
        mixed = mention("mx", "the food was great, the delivery an hour late", lang="en", brands=["acme"],
                        sentiment=Sentiment.from_probabilities([0.45, 0.10, 0.45]), at=at)
        items = [
            mixed,
            mention("mx-pos", "great but pricey", lang="en", brands=["acme"], at=at + timedelta(hours=1),
                    sentiment=Sentiment.from_probabilities([0.30, 0.0, 0.70])),  # mixed, labelled positive
            mention("plain", "great", brands=["acme"], sentiment=Sentiment.from_probabilities([0.05, 0.15, 0.8])),
            mention("low", "meh", brands=["acme"], sentiment=Sentiment.from_probabilities([0.29, 0.42, 0.29])),
            mention("old", "scored before probabilities were kept", brands=["acme"], sentiment=sentiment("negative")),
            mention("none", "unscored", brands=["acme"]),
            mention("corrected", "a person said positive", brands=["acme"],
                    sentiment=Sentiment.from_probabilities([0.4, 0.2, 0.4]).corrected_to("positive")),
            mention("dup", "the food was great, the delivery an hour late (repost)", brands=["acme"], at=at,
                    sentiment=Sentiment.from_probabilities([0.45, 0.10, 0.45]), duplicate_of=mixed.id),
        ]
        store.upsert(items)
        only = Filters(mixed=True)
        assert sorted(keys(store.iter_mentions(only))) == ["corrected", "mx", "mx-pos"]
        assert store.count(only) == 3 and store.search(only).total == 3
        assert sorted(keys(store.iter_mentions(Filters(mixed=True, include_duplicates=True)))) == [
            "corrected", "dup", "mx", "mx-pos"]
        assert dict(store.terms(only, "sentiment")) == {"negative": 1, "positive": 2}
        assert keys(store.search(Filters(mixed=True, sentiments=("negative",), brands=("acme",))).hits) == ["mx"]
        assert sum(v["all"] for _, v in store.timeseries(only)) == 3
        assert store.count(Filters(mixed=True, query="delivery")) == 1
        got = store.get(items[1].id).sentiment
        assert got.mixed and got.label == "positive" and got.probabilities.get("negative") == 0.3
        # a re-score that is no longer mixed leaves the selection
        store.upsert([mixed.model_copy(update={"sentiment": Sentiment.from_probabilities([0.9, 0.05, 0.05])})])
        assert sorted(keys(store.iter_mentions(only))) == ["corrected", "mx-pos"]

    def test_get_missing_is_none(self, store, data):
        assert store.get("no-such-id") is None

    def test_upsert_reports_inserted_and_updated(self, store):
        a, b = mention("a"), mention("b")
        first = store.upsert([a, b])
        assert (first.inserted, first.updated) == (2, 0)
        assert sorted(first.ids) == sorted([a.id, b.id])
        second = store.upsert([mention("b", "new text"), mention("c")])
        assert (second.inserted, second.updated) == (1, 1)
        assert store.count(Filters()) == 3
        assert store.upsert([]).ids == []

    def test_reupsert_replaces_content_and_keeps_count(self, store):
        store.upsert([mention("a", "the old wording", topics=["price"], brands=["acme"])])
        store.upsert([mention("a", "a fresh wording", topics=["support"], brands=["globex"])])
        assert store.count(Filters()) == 1
        assert store.get(mention("a").id).text == "a fresh wording"
        assert store.count(Filters(query="fresh")) == 1
        assert store.count(Filters(query="old")) == 0
        assert store.count(Filters(topics=("price",))) == 0
        assert store.count(Filters(topics=("support",))) == 1
        assert store.terms(Filters(), "brand") == [("globex", 1)]

    def test_upsert_is_idempotent(self, store):
        mentions = corpus()
        store.upsert(mentions)
        before = keys(all_pages(store, Filters(include_duplicates=True)))
        store.upsert(mentions)
        store.upsert(list(reversed(mentions)))
        assert keys(all_pages(store, Filters(include_duplicates=True))) == before
        assert store.count(Filters(include_duplicates=True)) == len(mentions)

    def test_same_id_twice_in_one_batch_last_wins(self, store):
        result = store.upsert([mention("a", "first"), mention("a", "second")])
        assert store.count(Filters()) == 1
        assert result.inserted == 1
        assert store.get(mention("a").id).text == "second"

    def test_reupsert_with_new_published_time_moves_it(self, store):
        store.upsert([mention("a", at=datetime(2024, 1, 1, tzinfo=UTC)),
                      mention("b", at=datetime(2024, 1, 2, tzinfo=UTC)),
                      mention("c", at=datetime(2024, 1, 3, tzinfo=UTC))])
        store.upsert([mention("a", at=datetime(2024, 1, 5, tzinfo=UTC))])
        assert keys(store.search(Filters()).hits) == ["a", "c", "b"]
        assert keys(store.iter_mentions(Filters())) == ["b", "c", "a"]
        assert store.count(Filters(since=datetime(2024, 1, 4, tzinfo=UTC))) == 1

    def test_existing_ids(self, store, data):
        ids = [data["m1"].id, data["m7"].id, "missing"]
        assert store.existing_ids(ids) == {data["m1"].id, data["m7"].id}
        assert store.existing_ids([]) == set()

    def test_many_ids_in_one_call(self, store):
        mentions = [mention(f"k{i}", at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)) for i in range(1500)]
        assert store.upsert(mentions).inserted == 1500
        assert store.existing_ids([m.id for m in mentions] + ["x"]) == {m.id for m in mentions}
        assert store.count(Filters()) == 1500

    def test_find_fingerprints_returns_originals_only(self, store, data):
        found = store.find_fingerprints(fingerprint_bands(FP_A))
        assert found == [(data["m1"].id, FP_A)]
        # one shared band is enough
        other = "0:" + "de" * 12
        assert store.find_fingerprints([fingerprint_bands(FP_B)[2], other]) == [(data["m6"].id, FP_B)]
        assert store.find_fingerprints([other]) == []
        assert store.find_fingerprints([]) == []

    def test_find_fingerprints_follows_reupsert(self, store, data):
        demoted = data["m6"].model_copy(update={"duplicate_of": data["m1"].id})
        store.upsert([demoted])
        assert store.find_fingerprints(fingerprint_bands(FP_B)) == []

    # ------------------------------------------------------------ filters

    @pytest.mark.parametrize("filters, expected", [
        (Filters(), {"m1", "m2", "m3", "m4", "m5", "m6", "m8"}),
        (Filters(include_duplicates=True), {"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"}),
        (Filters(brands=("globex",)), {"m5", "m6", "m8"}),
        (Filters(brands=("acme", "globex")), {"m1", "m2", "m3", "m4", "m5", "m6", "m8"}),
        (Filters(brands=("initech",)), set()),
        (Filters(sources=("trustpilot",)), {"m2", "m3"}),
        (Filters(sources=("trustpilot", "appstore")), {"m2", "m3", "m4"}),
        (Filters(langs=("fa",)), {"m4"}),
        (Filters(langs=("fa", "ar")), {"m4", "m5"}),
        (Filters(sentiments=("negative",)), {"m1", "m3"}),
        (Filters(sentiments=("negative",), include_duplicates=True), {"m1", "m3", "m7"}),
        (Filters(sentiments=("unscored",)), {"m5"}),
        (Filters(sentiments=("neutral", "unscored")), {"m5", "m6"}),
        (Filters(topics=("price",)), {"m6", "m8"}),
        (Filters(topics=("delivery", "app")), {"m2", "m3", "m4"}),
        (Filters(since=datetime(2024, 5, 3, 8, tzinfo=UTC), until=datetime(2024, 5, 5, 18, tzinfo=UTC)), {"m3", "m4"}),
        (Filters(since=datetime(2024, 5, 8, 15, tzinfo=UTC)), {"m8"}),
        (Filters(until=datetime(2024, 5, 2, 12, tzinfo=UTC)), {"m1"}),
        (Filters(rating_min=4.0), {"m2", "m4"}),
        (Filters(rating_max=1.0), {"m3"}),
        (Filters(rating_min=1.0, rating_max=4.0), {"m3", "m4"}),
        (Filters(brands=("acme",), sentiments=("positive",)), {"m2", "m4", "m8"}),
        (Filters(brands=("acme",), sources=("reddit",), include_duplicates=True), {"m1", "m7"}),
    ], ids=lambda v: "" if isinstance(v, set) else None)
    def test_filters(self, store, data, filters, expected):
        assert set(keys(all_pages(store, filters))) == expected
        assert store.count(filters) == len(expected)
        assert store.search(filters).total == len(expected)
        assert set(keys(store.iter_mentions(filters))) == expected

    def test_filter_by_author_id(self, store, data):
        alice = data["m1"].author_id
        assert alice == data["m6"].author_id
        assert set(keys(store.search(Filters(authors=(alice,))).hits)) == {"m1", "m6"}
        assert store.count(Filters(authors=(alice, data["m4"].author_id))) == 3

    def test_naive_datetimes_are_utc(self, store, data):
        aware = Filters(since=datetime(2024, 5, 3, 8, tzinfo=UTC))
        naive = Filters(since=datetime(2024, 5, 3, 8))
        assert store.count(naive) == store.count(aware) == 5

    def test_since_in_another_time_zone(self, store, data):
        # 2024-05-03 04:00 in New York is 08:00 UTC, m3's time: inclusive
        assert store.count(Filters(since=datetime(2024, 5, 3, 4, tzinfo=NEW_YORK))) == 5

    # ------------------------------------------------------------ the query language

    @pytest.mark.parametrize("query, expected", [
        ("refund", {"m1"}),
        ("REFUND", {"m1"}),
        ('"fast delivery"', {"m2"}),
        ('"delivery fast"', set()),
        ("acme AND NOT price", {"m1", "m2"}),
        ("price OR refund", {"m1", "m6", "m8"}),
        ("crash*", {"m3"}),
        ("stars", {"m2"}),  # the title is searched too
        ("كتاب", {"m4", "m5"}),  # Arabic kaf finds the Persian spelling and the ZWNJ compound
        ("کتاب", {"m4", "m5"}),
        ("احمد", {"m5"}),  # finds «أَحْمَد» (hamza and harakat)
        ("اكمي", {"m4"}),  # Arabic yeh and kaf find Persian «اکمی»
        ("nothingmatchesthis", set()),
        ("-refund acme", {"m2", "m8"}),
        ("acme NEAR/1 fast", {"m2"}),
        ("title:stars", {"m2"}),
        ("title:acme", set()),
        ("site:trustpilot.com", {"m2", "m3"}),
        ("site:https://www.reddit.com/r/acme", {"m1", "m6"}),
        ("lang:fa OR lang:ar", {"m4", "m5"}),
        ("source:rss", {"m5"}),
        ("author:alice", {"m1", "m6"}),
        ("author:دانیال", {"m4"}),
        ("acme OR site:news.example", {"m1", "m2", "m5", "m8"}),
        ("(price OR refund) -source:forum", {"m1", "m6"}),
    ])
    def test_query(self, store, data, query, expected):
        assert set(keys(all_pages(store, Filters(query=query)))) == expected
        assert store.count(Filters(query=query)) == len(expected)

    def test_query_with_filters_and_duplicates(self, store, data):
        assert set(keys(store.search(Filters(query="refund", include_duplicates=True)).hits)) == {"m1", "m7"}
        assert store.count(Filters(query="acme", sources=("forum",))) == 1

    def test_query_syntax_error(self, store, data):
        from listener.query import QuerySyntaxError

        with pytest.raises(QuerySyntaxError):
            store.search(Filters(query="(acme OR"))

    # ------------------------------------------------------------ sorting and pagination

    def test_date_sort_newest_first(self, store, data):
        page = store.search(Filters(), limit=20)
        assert keys(page.hits) == ["m8", "m6", "m5", "m4", "m3", "m2", "m1"]
        assert page.next_cursor is None
        assert page.total == 7

    def test_limit_and_total(self, store, data):
        page = store.search(Filters(), limit=2)
        assert keys(page.hits) == ["m8", "m6"]
        assert page.total == 7
        assert page.next_cursor

    @pytest.mark.parametrize("sort", ["date", "relevance"])
    @pytest.mark.parametrize("limit", [1, 4, 7, 30])
    def test_pages_cover_everything_once(self, store, sort, limit):
        base = datetime(2024, 1, 1, tzinfo=UTC)
        mentions = []
        for i in range(30):
            words = " ".join(["parcel"] * (1 + i % 4) + [f"word{i}", "filler text"] * (1 + i % 3))
            # several mentions share a published second, to exercise the tie-break
            mentions.append(mention(f"p{i}", words, at=base + timedelta(hours=i // 3)))
        store.upsert(mentions)
        filters = Filters(query="parcel")
        hits = all_pages(store, filters, sort=sort, limit=limit)
        assert sorted(keys(hits)) == sorted(m.native_id for m in mentions)
        if sort == "date":
            times = [h.mention.published_at for h in hits]
            assert times == sorted(times, reverse=True)
        else:
            scores = [h.score for h in hits]
            assert all(s is not None for s in scores)
            assert scores == sorted(scores, reverse=True)

    def test_cursor_is_stable_under_inserts(self, store):
        base = datetime(2024, 3, 1, tzinfo=UTC)
        store.upsert([mention(f"o{i}", at=base + timedelta(hours=i)) for i in range(20)])
        first = store.search(Filters(), limit=5)
        assert keys(first.hits) == [f"o{i}" for i in range(19, 14, -1)]
        # while the user reads page 1, older and newer mentions arrive
        store.upsert([mention(f"old{i}", at=base - timedelta(days=1, hours=i)) for i in range(5)])
        store.upsert([mention(f"new{i}", at=base + timedelta(days=5, hours=i)) for i in range(3)])
        rest = []
        cursor = first.next_cursor
        while cursor:
            page = store.search(Filters(), limit=5, cursor=cursor)
            rest.extend(keys(page.hits))
            cursor = page.next_cursor
        assert rest == [f"o{i}" for i in range(14, -1, -1)] + [f"old{i}" for i in range(5)]

    def test_relevance_best_first(self, store, data):
        page = store.search(Filters(query="acme"), sort="relevance")
        assert set(keys(page.hits)) == {"m1", "m2", "m8"}
        assert keys(page.hits)[0] == "m8"  # says acme twice
        scores = [h.score for h in page.hits]
        assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]

    def test_relevance_ranks_field_only_matches_last(self, store, data):
        hits = store.search(Filters(query="acme OR site:news.example"), sort="relevance").hits
        assert keys(hits)[0] == "m8" and keys(hits)[-1] == "m5"
        assert store.search(Filters(query="acme OR site:news.example"), sort="relevance").total == 4

    def test_relevance_without_words_sorts_by_date(self, store, data):
        assert keys(store.search(Filters(), sort="relevance").hits) == ["m8", "m6", "m5", "m4", "m3", "m2", "m1"]
        negative_only = store.search(Filters(query="NOT refund"), sort="relevance")
        assert keys(negative_only.hits) == ["m8", "m6", "m5", "m4", "m3", "m2"]

    def test_bad_arguments(self, store, data):
        with pytest.raises(ValueError):
            store.search(Filters(), sort="random")
        with pytest.raises(ValueError):
            store.search(Filters(), cursor="not a cursor")

    def test_forged_cursors_are_refused(self, store, data):
        """A cursor that decodes but was not made by this search (another sort, wrong types, edited values) is
        the caller's ValueError, never a server error or a silently wrong page."""
        date_cursor = store.search(Filters(query="acme"), limit=1).next_cursor
        assert date_cursor is not None
        with pytest.raises(ValueError):
            store.search(Filters(query="acme"), sort="relevance", cursor=date_cursor)
        for payload in (["d", "yesterday", 5], ["d", 1, 2, 3], {"d": 1}, ["r", True, None], [], "d"):
            forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
            for sort in ("date", "relevance"):
                with pytest.raises(ValueError):
                    store.search(Filters(query="acme"), sort=sort, cursor=forged)

    def test_empty_store(self, store):
        page = store.search(Filters(query="acme"))
        assert (page.hits, page.total, page.next_cursor) == ([], 0, None)
        assert store.count(Filters()) == 0
        assert store.timeseries(Filters()) == []
        assert store.terms(Filters(), "source") == []
        assert list(store.iter_mentions(Filters())) == []
        assert store.forget_author("nobody") == 0

    # ------------------------------------------------------------ snippets

    def _hit(self, store, query, key, **filters):
        for hit in store.search(Filters(query=query, **filters), limit=50).hits:
            if hit.mention.native_id == key:
                return hit
        raise AssertionError(f"{key} not found for {query!r}")

    def test_snippet_marks_and_escapes(self, store, data):
        snippet = self._hit(store, "crashes", "m3").snippet
        assert "<mark>crashes</mark>" in snippet
        assert "<script>" not in snippet and "&lt;script&gt;" in snippet
        assert plain(snippet) == data["m3"].text

    def test_snippet_marks_every_matched_word(self, store, data):
        snippet = self._hit(store, "acme OR price", "m8").snippet
        assert snippet.count("<mark>") == 3
        assert "<mark>Acme</mark>" in snippet and "<mark>acme</mark>" in snippet and "<mark>price</mark>" in snippet

    def test_snippet_phrase_and_prefix(self, store, data):
        phrase = self._hit(store, '"fast delivery"', "m2").snippet
        assert re.search(r"<mark>fast</mark>\s*(</?mark>)?\s*delivery</mark>|<mark>fast delivery</mark>", phrase)
        assert "<mark>crashes</mark>" in self._hit(store, "crash*", "m3").snippet

    def test_snippet_persian_and_arabic(self, store, data):
        assert "<mark>کتاب</mark>" in self._hit(store, "كتاب", "m4").snippet  # stops at the ZWNJ
        assert "<mark>كتاب</mark>" in self._hit(store, "کتاب", "m5").snippet  # the original spelling is kept
        assert "<mark>أَحْمَد</mark>" in self._hit(store, "احمد", "m5").snippet  # with its harakat

    def test_snippet_of_a_long_text_is_a_window(self, store):
        text = " ".join(f"word{i}" for i in range(300)) + " needle " + " ".join(f"tail{i}" for i in range(300))
        store.upsert([mention("long", text)])
        snippet = store.search(Filters(query="needle")).hits[0].snippet
        assert "<mark>needle</mark>" in snippet
        assert 100 <= len(plain(snippet)) <= 260
        assert "word0 " not in snippet and "tail299" not in snippet

    def test_snippet_without_query_is_the_escaped_start(self, store, data):
        hit = next(h for h in store.search(Filters(sources=("trustpilot",))).hits if h.mention.native_id == "m3")
        assert "<mark>" not in hit.snippet
        assert hit.snippet.startswith("Terrible app") and "&lt;script&gt;" in hit.snippet

    def test_snippet_title_only_match(self, store, data):
        assert "<mark>stars</mark>" in self._hit(store, "stars", "m2").snippet

    # ------------------------------------------------------------ time series

    def test_timeseries_daily_utc(self, store, data):
        series = store.timeseries(Filters(), "1d", "UTC")
        assert [t for t, _ in series] == [datetime(2024, 5, d, tzinfo=UTC) for d in range(1, 9)]
        assert [c["all"] for _, c in series] == [1, 1, 1, 1, 1, 1, 0, 1]  # m7 is a duplicate: day 7 empty
        assert series[6][1] == {"all": 0}
        assert sum(c["all"] for _, c in store.timeseries(Filters(include_duplicates=True), "1d")) == 8

    def test_timeseries_split(self, store, data):
        series = store.timeseries(Filters(), "1d", "UTC", split="sentiment")
        assert all(set(c) == {"negative", "neutral", "positive", "unscored"} for _, c in series)
        assert series[0][1] == {"negative": 1, "neutral": 0, "positive": 0, "unscored": 0}
        assert series[4][1]["unscored"] == 1
        by_brand = store.timeseries(Filters(), "1d", "UTC", split="brand")
        assert by_brand[-1][1] == {"acme": 1, "globex": 1}  # m8 has both brands
        assert sum(c["globex"] for _, c in by_brand) == 3

    def test_timeseries_day_buckets_follow_local_midnight_across_dst(self, store):
        ny = NEW_YORK
        at = [datetime(2024, 11, 2, 12, tzinfo=ny), datetime(2024, 11, 3, 0, 30, tzinfo=ny),
              datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=ny),  # after the clocks went back
              datetime(2024, 11, 3, 23, 30, tzinfo=ny),  # 04:30 UTC on the 4th
              datetime(2024, 11, 5, 10, tzinfo=ny)]
        store.upsert([mention(f"d{i}", at=t) for i, t in enumerate(at)])
        series = store.timeseries(Filters(), "1d", "America/New_York")
        assert [t for t, _ in series] == [datetime(2024, 11, d, tzinfo=ny) for d in (2, 3, 4, 5)]
        assert [c["all"] for _, c in series] == [1, 3, 0, 1]
        assert [t.utcoffset() for t, _ in series] == [timedelta(hours=-4)] * 2 + [timedelta(hours=-5)] * 2
        # the 3rd of November is 25 hours long
        assert utc(series[2][0]) - utc(series[1][0]) == timedelta(hours=25)
        # in UTC the late mention falls on the 4th
        assert [c["all"] for _, c in store.timeseries(Filters(), "1d", "UTC")] == [1, 2, 1, 1]

    def test_timeseries_spring_forward_day_is_23_hours(self, store):
        ny = NEW_YORK
        store.upsert([mention("s1", at=datetime(2024, 3, 9, 23, 59, tzinfo=ny)),
                      mention("s2", at=datetime(2024, 3, 10, 0, 1, tzinfo=ny)),
                      mention("s3", at=datetime(2024, 3, 10, 23, 59, tzinfo=ny)),
                      mention("s4", at=datetime(2024, 3, 11, 0, 1, tzinfo=ny))])
        series = store.timeseries(Filters(), "1d", "America/New_York")
        assert [t for t, _ in series] == [datetime(2024, 3, d, tzinfo=ny) for d in (9, 10, 11)]
        assert [c["all"] for _, c in series] == [1, 2, 1]
        assert utc(series[2][0]) - utc(series[1][0]) == timedelta(hours=23)

    def test_timeseries_hours_when_the_clock_repeats_an_hour(self, store):
        store.upsert([mention("h1", at=datetime(2024, 11, 3, 5, 30, tzinfo=UTC)),  # 01:30 EDT
                      mention("h2", at=datetime(2024, 11, 3, 6, 30, tzinfo=UTC)),  # 01:30 EST
                      mention("h3", at=datetime(2024, 11, 3, 8, 30, tzinfo=UTC))])  # 03:30 EST
        series = store.timeseries(Filters(), "1h", "America/New_York")
        starts = [t.astimezone(UTC) for t, _ in series]
        assert starts == [datetime(2024, 11, 3, h, tzinfo=UTC) for h in (5, 6, 7, 8)]
        assert [(t.hour, t.utcoffset()) for t, _ in series] == [
            (1, timedelta(hours=-4)), (1, timedelta(hours=-5)), (2, timedelta(hours=-5)), (3, timedelta(hours=-5))]
        assert [c["all"] for _, c in series] == [1, 1, 0, 1]

    def test_timeseries_half_hour_offsets(self, store):
        # India is UTC+5:30 all year; Tehran UTC+3:30 since 2022: buckets start on the local hour/midnight
        store.upsert([mention("k1", at=datetime(2024, 5, 1, 10, 10, tzinfo=UTC)),
                      mention("k2", at=datetime(2024, 5, 1, 11, 50, tzinfo=UTC))])
        kolkata = store.timeseries(Filters(), "1h", "Asia/Kolkata")
        assert [t.astimezone(UTC) for t, _ in kolkata] == [datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
                                                          datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
                                                          datetime(2024, 5, 1, 11, 30, tzinfo=UTC)]
        assert [c["all"] for _, c in kolkata] == [1, 0, 1]
        tehran = store.timeseries(Filters(), "1d", "Asia/Tehran")
        assert [(t.astimezone(UTC), c["all"]) for t, c in tehran] == [(datetime(2024, 4, 30, 20, 30, tzinfo=UTC), 2)]

    @pytest.mark.parametrize("interval", list(INTERVALS))
    def test_timeseries_every_interval(self, store, data, interval):
        series = store.timeseries(Filters(), interval, "Europe/Berlin")
        assert sum(c["all"] for _, c in series) == 7
        steps = {utc(b[0]) - utc(a[0]) for a, b in zip(series, series[1:])}
        assert steps == {timedelta(seconds=INTERVALS[interval])}  # no DST change in May
        assert all(t.tzinfo is not None for t, _ in series)

    def test_timeseries_bad_interval(self, store, data):
        with pytest.raises(ValueError):
            store.timeseries(Filters(), "7m")

    # ------------------------------------------------------------ terms

    def test_terms(self, store, data):
        assert store.terms(Filters(), "source") == [("reddit", 2), ("trustpilot", 2), ("appstore", 1),
                                                    ("forum", 1), ("rss", 1)]
        assert store.terms(Filters(), "brand") == [("acme", 5), ("globex", 3)]
        assert store.terms(Filters(), "sentiment") == [("positive", 3), ("negative", 2), ("neutral", 1),
                                                       ("unscored", 1)]
        assert store.terms(Filters(), "topic", size=2) == [("delivery", 2), ("price", 2)]
        assert store.terms(Filters(), "lang") == [("en", 5), ("ar", 1), ("fa", 1)]
        assert store.terms(Filters(), "domain", size=1) == [("reddit.com", 2)]
        authors = store.terms(Filters(), "author")
        assert authors[0] == (data["m1"].author_id, 2)  # by author id, the value Filters.authors takes
        assert len(authors) == 6

    def test_terms_respect_filters(self, store, data):
        assert store.terms(Filters(brands=("globex",)), "source") == [("forum", 1), ("reddit", 1), ("rss", 1)]
        assert store.terms(Filters(include_duplicates=True), "topic")[:2] == [("delivery", 2), ("price", 2)]
        assert ("refund", 2) in store.terms(Filters(include_duplicates=True), "topic")
        assert store.terms(Filters(query="price"), "brand") == [("globex", 2), ("acme", 1)]

    @pytest.mark.parametrize("field", TERM_FIELDS)
    def test_terms_every_field(self, store, data, field):
        result = store.terms(Filters(), field, size=100)
        counts = [n for _, n in result]
        assert counts == sorted(counts, reverse=True) and all(n > 0 for n in counts)
        assert all(isinstance(v, str) for v, _ in result)

    def test_terms_bad_field(self, store, data):
        with pytest.raises(ValueError):
            store.terms(Filters(), "colour")

    # ------------------------------------------------------------ iterate, forget

    def test_iter_mentions_oldest_first_and_complete(self, store):
        base = datetime(2023, 12, 31, tzinfo=UTC)
        mentions = [mention(f"i{i}", at=base + timedelta(minutes=(i * 37) % 101)) for i in range(101)]
        store.upsert(mentions[50:])  # arrive out of order
        store.upsert(mentions[:50])
        got = list(store.iter_mentions(Filters(), batch_size=7))
        assert sorted(keys(got)) == sorted(m.native_id for m in mentions)
        times = [m.published_at for m in got]
        assert times == sorted(times)

    def test_iter_mentions_filters(self, store, data):
        assert keys(store.iter_mentions(Filters(brands=("acme",)), batch_size=2)) == ["m1", "m2", "m3", "m4", "m8"]
        assert keys(store.iter_mentions(Filters(brands=("acme",), include_duplicates=True), batch_size=1)) == [
            "m1", "m2", "m3", "m4", "m7", "m8"]

    def test_thread_is_one_sources_conversation_oldest_first(self, store):
        base = datetime(2024, 2, 1, tzinfo=UTC)
        store.upsert([
            mention("r2", at=base + timedelta(hours=2), thread_id="t3_x", parent_id="r1"),
            mention("root", at=base, thread_id="t3_x"),
            mention("r1", at=base + timedelta(hours=1), thread_id="t3_x", parent_id="t3_x",
                    duplicate_of="elsewhere"),  # a repost is still part of the conversation
            mention("other", at=base, thread_id="t3_y"),
            mention("same-id-elsewhere", source="forum", at=base, thread_id="t3_x"),
            mention("loose", at=base),
        ])
        assert keys(store.thread("reddit", "t3_x")) == ["root", "r1", "r2"]
        assert keys(store.thread("reddit", "t3_x", limit=2)) == ["root", "r1"]
        assert keys(store.thread("forum", "t3_x")) == ["same-id-elsewhere"]
        assert store.thread("reddit", "t3_none") == []

    def test_forget_author(self, store, data):
        alice = data["m1"].author_id
        assert store.forget_author(alice) == 2
        assert store.get(data["m1"].id) is None and store.get(data["m6"].id) is None
        assert store.count(Filters(authors=(alice,))) == 0
        assert store.count(Filters(include_duplicates=True)) == 6
        assert store.count(Filters(query="pricing")) == 0
        assert alice not in dict(store.terms(Filters(), "author", size=100))
        assert store.find_fingerprints(fingerprint_bands(FP_B)) == []
        assert store.existing_ids([data["m1"].id]) == set()
        assert sum(c["all"] for _, c in store.timeseries(Filters(), "1d")) == 5
        assert store.forget_author(alice) == 0
        assert store.get(data["m2"].id) == data["m2"]

    def test_context_manager_closes(self, store):
        with store as same:
            assert same is store

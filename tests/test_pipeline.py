"""The pipeline steps on real objects and a real (temporary SQLite) store."""

from datetime import datetime, timedelta, timezone

import pytest

from listener.model import Mention, Sentiment
from listener.dedupe import bands, fingerprint, similarity
from listener.pipeline import BrandMatcher, PipelineContext, dedupe_batch, normalise_batch, process_batch, process_stream
from listener.store import open_store
from listener.store.base import Filters
from listener.text import normalise

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
LONG = ("I have been trying to send money to my brother with Nimbus for three days and the transfer "
        "is still pending, support keeps telling me to wait another day")


def m(native_id, text, minutes=0, **kw):
    return Mention(source=kw.pop("source", "reddit"), native_id=native_id, text=text,
                   published_at=T0 + timedelta(minutes=minutes), **kw)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    yield s
    s.close()


def test_fingerprint_near_copies_are_similar_and_different_texts_are_not():
    a = fingerprint(normalise(LONG))
    b = fingerprint(normalise(LONG + " — via Fintech Daily"))
    c = fingerprint(normalise("Orbit launched a new savings feature today with a fixed rate for twelve months, "
                              "available to every customer in the region from next week"))
    assert a is not None and len(a) == 18 * 8
    assert similarity(a, b) >= 0.7 > similarity(a, c)
    assert set(bands(a)) & set(bands(b)) and not set(bands(a)) & set(bands(c))
    assert fingerprint(normalise("love it so much")) is None  # too short to call a repost


def test_normalise_batch_fills_domain_language_fingerprint():
    [x] = normalise_batch([m("1", "  " + LONG + "  ", url="https://www.Reddit.com/r/x/comments/1")])
    assert x.domain == "reddit.com" and x.lang == "en" and x.fingerprint and x.text == LONG


def test_dedupe_links_repost_to_earliest_and_keeps_last_copy_of_same_id():
    repost = m("2", LONG + " (reposting because nobody answered)", minutes=30)
    original = m("1", LONG, minutes=0)
    same_id_newer = m("1", LONG, minutes=0, score=42)
    batch = normalise_batch([repost, original, same_id_newer])
    out, repeated, near = dedupe_batch(batch, store=None)
    assert repeated == 1 and near == 1
    by_id = {x.native_id: x for x in out}
    assert by_id["1"].score == 42 and by_id["1"].duplicate_of is None
    assert by_id["2"].duplicate_of == by_id["1"].id


def test_near_duplicate_found_in_store_across_batches_and_not_counted(store):
    ctx = PipelineContext(store=store)
    first = process_batch([m("1", LONG)], ctx)
    second = process_batch([m("2", LONG + " #fintech", minutes=90, source="news")], ctx)
    assert first.inserted == 1 and second.near_duplicates == 1
    assert store.count(Filters()) == 1
    assert store.count(Filters(include_duplicates=True)) == 2
    # re-ingesting the original does not make it a duplicate of itself or of its copy
    again = process_batch([m("1", LONG)], ctx)
    assert again.updated == 1 and again.near_duplicates == 0
    assert store.get(m("1", LONG).id).duplicate_of is None


def test_brand_matching_tags_keeps_preset_and_drops_unmatched(store):
    matcher = BrandMatcher([("Nimbus", 'nimbus OR نیمبوس OR نيمبس'), ("Orbit", 'orbit NEAR/3 (app OR wallet)')])
    ctx = PipelineContext(store=store, matcher=matcher)
    report = process_batch([
        m("a", "Nimbus is down"),
        m("b", "اپ نيمبس باز نمیشه"),                      # Arabic yeh, still matches the Persian spelling
        m("c", "the orbit wallet app is slick, unlike nimbus"),
        m("d", "nothing to see here"),
        m("e", "five stars, quick refunds", source="trustpilot", brands=["Nimbus"]),  # preset by the source
    ], ctx)
    assert report.unmatched == 1 and report.inserted == 4
    brands = {x.native_id: x.brands for x in store.iter_mentions(Filters())}
    assert brands == {"a": ["Nimbus"], "b": ["Nimbus"], "c": ["Nimbus", "Orbit"], "e": ["Nimbus"]}


class _CountingScorer:
    def __init__(self):
        self.seen = 0

    def score(self, mentions):
        self.seen += len(mentions)
        for x in mentions:
            if x.lang == "en":
                x.sentiment = Sentiment(label="negative", score=0.8)


def test_scoring_is_a_step_and_unscored_stays_unscored(store):
    scorer = _CountingScorer()
    report = process_batch([m("1", "Nimbus is down"), m("2", "این برنامه خیلی کنده")],
                           PipelineContext(store=store, scorer=scorer))
    assert scorer.seen == 2 and report.scored == 1
    assert store.count(Filters(sentiments=("unscored",))) == 1
    no_scorer = process_batch([m("3", "Orbit is fine")], PipelineContext(store=store))
    assert no_scorer.scored == 0 and store.get(m("3", "x").id).sentiment is None


class _Crash(Exception):
    pass


def test_crash_mid_stream_loses_nothing_and_duplicates_nothing_on_rerun(store):
    mentions = [m(str(i), f"mention number {i} about nimbus", minutes=i) for i in range(250)]

    class CrashingScorer:
        calls = 0

        def score(self, batch):
            CrashingScorer.calls += 1
            if CrashingScorer.calls == 3:
                raise _Crash()

    with pytest.raises(_Crash):
        process_stream(iter(mentions), PipelineContext(store=store, scorer=CrashingScorer()), batch_size=100)
    assert store.count(Filters()) == 200  # two whole batches landed, the third did not half-land
    report = process_stream(iter(mentions), PipelineContext(store=store), batch_size=100)
    assert report.inserted == 50 and report.updated == 200
    assert store.count(Filters()) == 250

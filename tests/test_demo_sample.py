"""The demo's sample data: enough, in three languages, over 14+ days, with the planted incident."""

from collections import Counter
from datetime import datetime, timedelta, timezone

from demo.mentions import to_mentions
from demo.project import demo_project
from demo.sample import DAYS, INCIDENT_DAYS_AGO, build_sample, count_mentions
from listener.pipeline import PipelineContext, process_stream
from listener.runtime import brand_matcher
from listener.store import open_store
from listener.store.base import Filters

END = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def test_sample_is_large_multilingual_multi_source_and_deterministic():
    posts = build_sample(end=END)
    mentions = to_mentions(posts)
    assert count_mentions(posts) == len(mentions) >= 2000
    langs = Counter(p.lang for root in posts for p in root.walk())
    assert all(langs[lang] >= 400 for lang in ("en", "fa", "ar"))
    assert len({m.source for m in mentions}) >= 6
    times = [m.published_at for m in mentions]
    assert END - timedelta(days=DAYS) <= min(times) and max(times) <= END
    assert (max(times) - min(times)).days >= 14
    assert [m.id for m in to_mentions(build_sample(end=END))] == [m.id for m in mentions]
    assert len({m.id for m in mentions}) == len(mentions)


def test_planted_incident_is_the_busiest_nimbus_hour(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    ctx = PipelineContext(store=store, matcher=brand_matcher(demo_project()))
    report = process_stream(iter(to_mentions(build_sample(end=END))), ctx)
    assert report.inserted > 1900 and report.unmatched > 50  # off-topic "nimbus 2000" and "orbit" items dropped
    series = store.timeseries(Filters(brands=("Nimbus",)), interval="1h")
    peak_start, peak = max(series, key=lambda item: item[1]["all"])
    assert peak_start.date() == (END - timedelta(days=INCIDENT_DAYS_AGO)).date()
    counts = sorted(bucket["all"] for _, bucket in series)
    assert peak["all"] >= 10 * counts[len(counts) // 2]
    # searchable in all three languages through the query language
    for query in ('"verification code"', "کد تایید", "رمز التحقق"):
        assert store.count(Filters(query=query, since=peak_start, until=peak_start + timedelta(hours=6))) >= 3
    store.close()

"""spiders.pipelines in-process: validation, in-crawl dedupe, batches into listener.pipeline, checkpoints."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from scrapy.exceptions import DropItem

from listener.config import Project, Settings
from listener.model import Mention
from listener.store import open_store
from listener.store.base import Filters
from spiders.checkpoint import CheckpointStore
from spiders.items import SourceSpider
from spiders.pipelines import DedupePipeline, ListenerPipeline, ValidatePipeline
from spiders.settings import build_settings


def mention(n: int, **kw) -> Mention:
    data = dict(source="trustpilot", native_id=f"r{n}", text=f"Nimbus review number {n}", brands=["Nimbus"],
                published_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
    data.update(kw)
    return Mention(**data)


class Spider(SourceSpider):
    name = "test"
    from spiders.items import About

    about = About(site="-", source="trustpilot", official_api=False, key_needed=False, format="-",
                  brand_specific=True)


class Stats:
    """The part of Scrapy's stats collector the pipelines and spiders use."""

    def __init__(self):
        self.values = {}

    def get_value(self, key, default=None):
        return self.values.get(key, default)

    def set_value(self, key, value):
        self.values[key] = value

    def inc_value(self, key, count=1):
        self.values[key] = self.values.get(key, 0) + count


class Crawler:
    """Just enough of a crawler (settings, stats, spider) to run pipelines without a reactor."""

    def __init__(self, settings, spider):
        self.settings, self.stats, self.spider = settings, Stats(), spider
        spider.crawler, spider.settings = self, settings


@pytest.fixture
def crawler(tmp_path):
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_STORE": f"sqlite:///{tmp_path}/l.db"})
    project = Project.model_validate({"brand": [{"name": "Nimbus", "query": "nimbus"}]})
    spider = Spider()
    spider.listener_settings, spider.project = settings, project
    crawler = Crawler(build_settings(settings, project, {"LISTENER_BATCH_SIZE": 2}), spider)
    yield crawler
    spider.closed("finished")


def test_validate_converts_dicts_and_drops_impossible_items(crawler):
    validate = ValidatePipeline.from_crawler(crawler)
    as_dict = mention(1).model_dump()
    assert isinstance(validate.process_item(as_dict), Mention)
    with pytest.raises(DropItem, match="in the future"):
        validate.process_item(mention(2, published_at=datetime.now(timezone.utc) + timedelta(days=30)))
    with pytest.raises(DropItem, match="before 1990"):  # 0001-01-01: many sites' "no date"
        validate.process_item(mention(3, published_at=datetime(1, 1, 1, tzinfo=timezone.utc)))
    with pytest.raises(DropItem, match="not a valid mention"):
        validate.process_item({"source": "x", "text": "", "published_at": "2024-01-01T00:00:00Z", "url": "u"})
    with pytest.raises(DropItem, match="spiders yield Mentions"):
        validate.process_item(["not", "a", "mention"])
    assert crawler.stats.get_value("listener/invalid") == 4


def test_dedupe_drops_repeats_in_one_crawl(crawler):
    dedupe = DedupePipeline.from_crawler(crawler)
    dedupe.process_item(mention(1))
    with pytest.raises(DropItem):
        dedupe.process_item(mention(1, text="the same review, seen on another page"))


def test_listener_pipeline_stores_in_batches_then_marks_seen(crawler, tmp_path):
    asyncio.run(_store_in_batches(crawler, tmp_path))


async def _store_in_batches(crawler, tmp_path):
    pipeline = ListenerPipeline.from_crawler(crawler)
    pipeline.open_spider()
    spider = crawler.spider
    items = [mention(n) for n in range(3)] + [mention(9, source="trustpilot", brands=[], text="about something else")]
    spider.remember(items[0].id, "trustpilot:page", {"page": 1})
    await pipeline.process_item(items[0])
    assert crawler.stats.get_value("listener/inserted") is None  # waiting for a full batch
    assert spider.checkpoint.get("trustpilot:page") is None  # written only once stored
    await pipeline.process_item(items[1])
    assert crawler.stats.get_value("listener/inserted") == 2
    assert spider.checkpoint.get("trustpilot:page") == {"page": 1}
    for item in items[2:]:
        await pipeline.process_item(item)
    await pipeline.close_spider()
    assert crawler.stats.get_value("listener/inserted") == 3
    assert crawler.stats.get_value("listener/unmatched") == 1  # names no brand and no brand was set
    with open_store(f"sqlite:///{tmp_path}/l.db") as store:
        assert store.count(Filters()) == 3
    state = CheckpointStore(tmp_path / "state.db")
    assert state.unseen("mention:trustpilot", [m.id for m in items]) == []  # the unmatched one too
    assert [m.native_id for m in spider.new_only([mention(1), mention(5)])] == ["r5"]


def test_a_store_error_is_not_swallowed_and_marks_nothing_done(crawler, tmp_path):
    # A promise (tests/test_promises.py): a batch that the store refuses is never marked done, so the next
    # crawl fetches those pages again; the error ends the crawl loudly instead of being logged and dropped.
    asyncio.run(_store_fails(crawler, tmp_path))


async def _store_fails(crawler, tmp_path):
    pipeline = ListenerPipeline.from_crawler(crawler)
    pipeline.open_spider()
    spider = crawler.spider
    items = [mention(1), mention(2)]
    spider.remember(items[0].id, "trustpilot:page", {"page": 3})
    pipeline.store.close()  # a real failure: every write now raises sqlite3.ProgrammingError
    await pipeline.process_item(items[0])
    with pytest.raises(Exception, match="closed"):
        await pipeline.process_item(items[1])  # the batch is full: it is stored, and that fails
    assert crawler.stats.get_value("listener/inserted") is None
    assert spider.checkpoint.get("trustpilot:page") is None  # the page is not marked done
    state = CheckpointStore(tmp_path / "state.db")
    try:
        assert state.unseen("mention:trustpilot", [m.id for m in items]) == [m.id for m in items]
    finally:
        state.close()

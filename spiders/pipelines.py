"""Scrapy item pipelines, one job each, in ITEM_PIPELINES order (spiders/settings.py):

1. ValidatePipeline: a dict becomes a Mention; impossible values are dropped with the reason logged.
2. DedupePipeline: the same mention twice in one crawl (two paths to one review) is dropped.
3. ListenerPipeline: mentions go in batches through `listener.pipeline.process_batch` (normalise,
   dedupe, match brands, score, store) in a worker thread; after each stored batch the spider's
   checkpoints are written.

Resources (the store, the scorer) are opened in `open_spider` and closed in `close_spider`; settings come
through `from_crawler`.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from scrapy.exceptions import DropItem

from listener.config import Project, Settings
from listener.model import Mention, implausible_date
from listener.pipeline import BatchReport, PipelineContext, process_batch

log = logging.getLogger(__name__)

_scorers: dict[Any, Any] = {}  # one transformer per process, however many spiders run in it


class ValidatePipeline:
    """Dicts -> Mention; drops what cannot be a mention (no text, no date, dated in the future)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Any) -> Mention:
        if isinstance(item, dict):
            try:
                item = Mention.model_validate(item)
            except ValidationError as err:
                self.crawler.stats.inc_value("listener/invalid")
                raise DropItem(f"not a valid mention: {err.errors()[0]['msg']}") from None
        if not isinstance(item, Mention):
            self.crawler.stats.inc_value("listener/invalid")
            raise DropItem(f"spiders yield Mentions, got {type(item).__name__}")
        odd_date = implausible_date(item.published_at)
        if odd_date:
            self.crawler.stats.inc_value("listener/invalid")
            raise DropItem(f"{item.source} {item.native_id}: published_at {odd_date}")
        if not item.text.strip() and not (item.title or "").strip():
            self.crawler.stats.inc_value("listener/invalid")
            raise DropItem(f"{item.source} {item.native_id}: no text")
        return item


class DedupePipeline:
    """Drops a mention whose id this crawl has already passed on."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Mention) -> Mention:
        if item.id in self.seen:
            self.crawler.stats.inc_value("listener/repeated")
            raise DropItem(f"{item.source} {item.native_id} seen already in this crawl", log_level="DEBUG")
        self.seen.add(item.id)
        return item


class ListenerPipeline:
    """Batches mentions into listener.pipeline and tells the spider what was stored."""

    def __init__(self, crawler, batch_size: int, score: bool):
        self.crawler = crawler
        self.batch_size = batch_size
        self.score = score
        self.batch: list[Mention] = []
        self.total = BatchReport()
        self.store = None
        self.ctx: PipelineContext | None = None
        self._flushing = False

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, crawler.settings.getint("LISTENER_BATCH_SIZE", 200),
                   crawler.settings.getbool("LISTENER_SCORE", False))

    def open_spider(self) -> None:
        from listener.runtime import load_project_scorer, open_settings_store, pipeline_context

        env = self.crawler.settings.get("LISTENER_ENV")
        settings = Settings.model_validate(env) if env else Settings.from_env()
        raw_project = self.crawler.settings.get("LISTENER_PROJECT")
        project = Project.model_validate(raw_project) if raw_project else None
        self.store = open_settings_store(settings)
        scorer = None
        if self.score:
            key = (settings.model, project.model_dump_json() if project else None)
            if key not in _scorers:
                _scorers[key] = load_project_scorer(settings, project)
            scorer = _scorers[key]
        # The one way a pipeline context is built; the scorer is shared by the spiders of this process.
        self.ctx = pipeline_context(settings, project, self.store, score=False)
        self.ctx.scorer = scorer

    async def process_item(self, item: Mention) -> Mention:
        self.batch.append(item)
        if len(self.batch) >= self.batch_size and not self._flushing:
            await self.drain(full_only=True)
        return item

    async def drain(self, full_only: bool = False) -> None:
        """Store the waiting mentions, a batch at a time, in a worker thread: scoring a batch takes
        seconds, and the reactor keeps downloading meanwhile. One drain runs at a time; mentions that
        arrive during it join the next batch."""
        from scrapy.utils.asyncio import run_in_thread

        self._flushing = True
        try:
            while self.batch and (not full_only or len(self.batch) >= self.batch_size):
                batch, self.batch = self.batch[:self.batch_size], self.batch[self.batch_size:]
                report = await run_in_thread(process_batch, batch, self.ctx)
                self._stored(batch, report)
        finally:
            self._flushing = False

    def _stored(self, batch: list[Mention], report: BatchReport) -> None:
        self.total.add(report)
        stats = self.crawler.stats
        for name in ("received", "inserted", "updated", "repeated_in_batch", "near_duplicates", "unmatched",
                     "scored"):
            stats.inc_value(f"listener/{name}", getattr(report, name))
        spider = self.crawler.spider
        if hasattr(spider, "committed"):
            # Every mention of the batch was handled (stored, or dropped as unmatched): mark it done.
            spider.committed([m.id for m in batch])
        log.info("stored a batch of %d: %d new, %d updated, %d unmatched", report.received, report.inserted,
                 report.updated, report.unmatched)

    async def close_spider(self) -> None:
        try:
            await self.drain()
        finally:
            if self.store is not None:
                self.store.close()

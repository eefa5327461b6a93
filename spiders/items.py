"""What listener's spiders yield (`Mention`s) and the small base class every spider subclasses.

A spider module is a docstring linking the site, an `about` record, a unique lowercase name, a request
step (`start`) and a parse step that hands the body to a pure parser in `spiders.parse` (STYLE.md 1-2).
This base class holds what they share:

- the project and the brand filter (from the crawl's settings), and the brand's configured sources;
- incremental state: `new_only()` drops mentions stored by an earlier run, and `remember()` queues a
  checkpoint value; both are written only after the item pipeline has stored the mentions
  (`committed()`), so a crash never marks as done something that was not kept;
- one way to decode bodies (wrong or missing charsets), to skip a page with a logged reason, and one
  errback that logs why a request failed (HTTP status, robots.txt, size limit, redirect loop, ...).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar, Iterable

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from listener.config import Brand, Project, Settings
from listener.model import Mention
from spiders.checkpoint import CheckpointStore, open_checkpoints
from spiders.about import About
from spiders.parse import ParseResult
from spiders.parse.text import decode_body

MAX_LOGGED_PROBLEMS = 100  # per crawl, in the stats/report; the counts stay exact


class SourceSpider(scrapy.Spider):
    """Base of listener's spiders. Subclasses set `name`, `about`, and implement `start()`."""

    about: ClassVar[About]

    def __init__(self, *args: Any, brand: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.brand_filter = brand or None
        self._pending: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        self._checkpoint: CheckpointStore | None = None
        self.project: Project | None = None
        self.listener_settings: Settings | None = None

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        env = crawler.settings.get("LISTENER_ENV")
        spider.listener_settings = Settings.model_validate(env) if env else Settings.from_env()
        project = crawler.settings.get("LISTENER_PROJECT")
        spider.project = Project.model_validate(project) if project else None
        return spider

    # ------------------------------------------------------------ configuration

    def brands(self) -> list[Brand]:
        """The project's brands, or only the one named with --brand."""
        if self.project is None:
            self.logger.warning("no project file: nothing to crawl (pass --project or set LISTENER_PROJECT)")
            return []
        brands = self.project.brands
        if self.brand_filter:
            brands = [b for b in brands if b.name == self.brand_filter]
        return brands

    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default)

    # ------------------------------------------------------------ incremental state

    @property
    def checkpoint(self) -> CheckpointStore:
        if self._checkpoint is None:
            self._checkpoint = open_checkpoints(self.listener_settings)
        return self._checkpoint

    @property
    def seen_scope(self) -> str:
        return f"mention:{self.about.source}"

    def new_only(self, mentions: Iterable[Mention]) -> list[Mention]:
        """The mentions no earlier run has stored (by id)."""
        mentions = list(mentions)
        fresh = set(self.checkpoint.unseen(self.seen_scope, [m.id for m in mentions]))
        return [m for m in mentions if m.id in fresh]

    def remember(self, mention_id: str, key: str, value: Any) -> None:
        """Write checkpoint `key` = value once the mention with this id has been stored."""
        self._pending[mention_id].append((key, value))

    def committed(self, mention_ids: Iterable[str]) -> None:
        """Called by the item pipeline after a batch was stored: mark the ids seen, write what waited."""
        mention_ids = list(mention_ids)
        self.checkpoint.mark_seen(self.seen_scope, mention_ids)
        for mention_id in mention_ids:
            for key, value in self._pending.pop(mention_id, ()):
                self.checkpoint.set(key, value)

    def closed(self, reason: str) -> None:
        if self._checkpoint is not None:
            self._checkpoint.close()

    # ------------------------------------------------------------ pages

    def page_text(self, response: Response) -> str:
        """The body as text, trusting valid UTF-8 over a wrong single-byte charset declaration."""
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        return decode_body(response.body, content_type)[0]

    def _note(self, key: str, url: str, reason: str) -> None:
        stats = self.crawler.stats
        stats.inc_value(f"listener/{key}_count")
        problems = stats.get_value(f"listener/{key}") or []
        if len(problems) < MAX_LOGGED_PROBLEMS:
            problems.append({"url": url, "reason": reason})
            stats.set_value(f"listener/{key}", problems)

    def skip(self, url: str, reason: str) -> None:
        """A page we fetched but cannot use (malformed, truncated, not what we expected)."""
        self.logger.warning("skipped page %s: %s", url, reason)
        self._note("skipped_pages", url, reason)

    def report(self, url: str, result: ParseResult) -> None:
        """Log the items of a page that could not be used, once per page."""
        if result.skipped:
            self.logger.warning("skipped %d item(s) on %s: %s", len(result.skipped), url, "; ".join(result.skipped[:3]))
            self.crawler.stats.inc_value("listener/skipped_items", len(result.skipped))

    def new_reviews_then_next_page(self, response, result: ParseResult, page: int, **cb_kwargs: Any):
        """The paginated review sources' step: yield the page's reviews not stored yet, then ask for the next
        page, unless this page held nothing new (reviews come newest first, so the rest is stored already)
        or LISTENER_MAX_PAGES is reached."""
        self.report(response.url, result)
        fresh = self.new_only(result.mentions)
        yield from fresh
        if not fresh:
            self.logger.info("%s: no new reviews on page %d; stopping here", response.url, page)
        elif result.next_url and page < self.settings.getint("LISTENER_MAX_PAGES", 20):
            yield self.request(result.next_url, self.parse, cb_kwargs={**cb_kwargs, "page": page + 1})

    def failed(self, failure: Failure) -> None:
        """Errback of every request: say why it failed, count it, and carry on."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        error = failure.value
        if isinstance(error, HttpError):
            reason = f"HTTP {error.response.status}"
        elif isinstance(error, IgnoreRequest) and "robots.txt" in str(error):
            reason = "forbidden by robots.txt"
        elif isinstance(error, IgnoreRequest) and "redirect" in str(error).lower():
            reason = f"redirect loop or too many redirects ({error})"
        else:
            reason = f"{type(error).__name__}: {str(error)[:200]}"
        self.logger.warning("failed %s: %s", url, reason)
        self._note("failed_requests", url, reason)

    def request(self, url: str, callback, **kwargs: Any) -> scrapy.Request:
        kwargs.setdefault("errback", self.failed)
        return scrapy.Request(url, callback=callback, **kwargs)

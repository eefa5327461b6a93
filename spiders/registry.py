"""The one registry of sources: every Scrapy spider and API poller is declared here once.

Each entry says the source's name, how it runs (a spider crawled in its own process, or a poller run in
this one), the class behind it (its module's `about` record comes with it), the project-file fields
(BrandSources) it reads, the environment variables it needs, and the Mention.source it yields. The CLI's
`crawl`, `listener run`, the demo's summary, the Celery gather tasks and the beat schedule all read it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from listener.config import Brand


@dataclass(frozen=True)
class Source:
    name: str
    kind: Literal["spider", "poller"]
    target: str  # "module:Class"
    fields: tuple[str, ...]  # the BrandSources fields that configure it
    mention_source: str  # the Mention.source of what it yields
    credentials: tuple[str, ...] = ()  # environment variables it cannot run without

    def load(self):
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    @property
    def about(self):
        return self.load().about

    def wanted(self, brands: Sequence[Brand]) -> bool:
        """Whether any of these brands configures this source."""
        return any(getattr(brand.sources, field) for brand in brands for field in self.fields)

    def missing_credentials(self, environ: Mapping[str, str]) -> str | None:
        """A note saying what to set, or None when every credential is there."""
        missing = [name for name in self.credentials if not environ.get(name)]
        return f"set {' and '.join(missing)}" if missing else None


SOURCES: dict[str, Source] = {source.name: source for source in (
    Source("review", "spider", "spiders.review:ReviewSpider", ("review_pages",), "review"),
    Source("trustpilot", "spider", "spiders.trustpilot:TrustpilotSpider", ("trustpilot",), "trustpilot"),
    Source("appstore", "spider", "spiders.appstore:AppStoreSpider", ("app_store",), "app_store"),
    Source("googleplay", "spider", "spiders.googleplay:GooglePlaySpider", ("google_play",), "google_play"),
    Source("feed", "spider", "spiders.feed:FeedSpider", ("feeds",), "rss"),
    Source("article", "spider", "spiders.article:ArticleSpider", ("forum_pages",), "forum"),
    Source("reddit", "poller", "spiders.reddit:RedditSource", ("reddit_search", "subreddits", "own_subreddits"),
           "reddit", credentials=("LISTENER_REDDIT_CLIENT_ID", "LISTENER_REDDIT_CLIENT_SECRET")),
    Source("youtube", "poller", "spiders.youtube:YouTubeSource", ("youtube_searches",), "youtube",
           credentials=("LISTENER_YOUTUBE_KEY",)),
)}


def spiders() -> dict[str, Source]:
    return {name: source for name, source in SOURCES.items() if source.kind == "spider"}


def pollers() -> dict[str, Source]:
    return {name: source for name, source in SOURCES.items() if source.kind == "poller"}


def get(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None

"""RSS and Atom feeds (news, blogs, forums, Google Alerts): each new entry is followed to its article,
whose main text is extracted with trafilatura; when the article cannot be fetched (robots.txt, an
error) or has no main text, the entry's own summary is used.

The feeds are the brands' `feeds` in the project file; entries are kept only when they match a brand's
query (listener.pipeline). Incremental twice over: the feed is fetched with If-None-Match /
If-Modified-Since (a 304 costs nothing), and entries whose article an earlier run stored are not
followed again.
"""

from __future__ import annotations

from typing import Any

from listener.model import Mention, make_mention_id, utcnow
from spiders.about import About
from spiders.items import SourceSpider
from spiders.parse import MalformedPage
from spiders.parse.article import MIN_TEXT, main_text, strip_heading
from spiders.parse.dates import parse_date
from spiders.parse.feeds import FeedEntry, parse_feed
from spiders.parse.schemaorg import parse_html
from spiders.parse.text import clean_text


def validators(response) -> dict[str, str]:
    """The response's ETag and Last-Modified, for the next conditional request."""
    out = {}
    for header, key in ((b"ETag", "etag"), (b"Last-Modified", "last_modified")):
        value = response.headers.get(header)
        if value:
            out[key] = value.decode("latin-1")
    return out


def conditional_headers(saved: dict | None) -> dict[str, str]:
    saved = saved or {}
    headers = {}
    if saved.get("etag"):
        headers["If-None-Match"] = saved["etag"]
    if saved.get("last_modified"):
        headers["If-Modified-Since"] = saved["last_modified"]
    return headers


class FeedSpider(SourceSpider):
    name = "feed"
    about = About(site="RSS 2.0 / Atom (RFC 4287)", source="rss", official_api=True, key_needed="",
                  format="RSS/Atom + HTML articles", brand_specific=False)

    async def start(self):
        for brand in self.brands():
            for url in brand.sources.feeds:
                key = f"feed:{url}"
                yield self.request(url, self.parse, dont_filter=True,
                                   headers=conditional_headers(self.checkpoint.get(key)),
                                   meta={"handle_httpstatus_list": [304]}, cb_kwargs={"key": key})

    def parse(self, response, key: str):
        if response.status == 304:
            self.logger.info("%s: not modified since the last crawl", response.url)
            return
        try:
            feed = parse_feed(response.body, response.url)
        except MalformedPage as err:
            self.skip(response.url, str(err))
            return
        if feed.skipped:
            self.logger.warning("skipped %d entries of %s: %s", len(feed.skipped), response.url, "; ".join(feed.skipped[:3]))
        by_id = {make_mention_id(self.about.source, entry.url): entry for entry in feed.entries}
        fresh = self.checkpoint.unseen(self.seen_scope, list(by_id))
        self.logger.info("%s: %d entries, %d new", response.url, len(feed.entries), len(fresh))
        saved = validators(response)
        if not fresh:
            self.checkpoint.set(key, saved)
        for mention_id in fresh:
            entry = by_id[mention_id]
            self.remember(mention_id, key, saved)  # the feed's validators, once its new entries are stored
            yield self.request(entry.url, self.parse_article, errback=self.article_failed,
                               cb_kwargs={"entry": entry, "feed_url": response.url, "feed_title": feed.title})

    def mention(self, entry: FeedEntry, feed_url: str, feed_title: str, article: dict[str, Any] | None) -> Mention | None:
        body = strip_heading(clean_text((article or {}).get("text")), entry.title, (article or {}).get("title"))
        extra = {"feed": feed_url, "feed_title": feed_title, "article": "fetched"}
        if len(body) < MIN_TEXT:
            body, extra["article"] = entry.summary, "summary"
        if not body and not entry.title:
            return None
        published = entry.published or parse_date((article or {}).get("date"))
        if published is None:
            published, extra["date_from"] = utcnow(), "fetched"
        return Mention(source=self.about.source, native_id=entry.url, url=entry.url,
                       author_name=entry.author or clean_text((article or {}).get("author")) or None,
                       title=entry.title or clean_text((article or {}).get("title")) or None, text=body,
                       published_at=published, extra=extra)

    def parse_article(self, response, entry: FeedEntry, feed_url: str, feed_title: str):
        article = None
        try:
            text = self.page_text(response)
            parse_html(text)  # raises MalformedPage on an empty or non-HTML body
            article = main_text(text, response.url)
        except MalformedPage as err:
            self.logger.warning("article %s unusable (%s); using the feed's summary", response.url, err)
        mention = self.mention(entry, feed_url, feed_title, article)
        if mention is not None:
            yield mention

    def article_failed(self, failure):
        """The article could not be fetched: log why, and keep the entry with the feed's summary."""
        self.failed(failure)
        entry = failure.request.cb_kwargs["entry"]
        mention = self.mention(entry, failure.request.cb_kwargs["feed_url"], failure.request.cb_kwargs["feed_title"],
                               None)
        if mention is not None:
            yield mention

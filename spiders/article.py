"""Forum threads and articles listed in the project file (`forum_pages`): one mention per post when the
page marks its posts up with schema.org (Discourse, most forum software, Q&A sites), else the page's
main text via trafilatura.

A page listed for a brand is about that brand, so its posts carry the brand even when a reply does not
name it. Incremental: conditional requests (ETag / Last-Modified), posts an earlier run stored are not
passed on again, and a page whose text has not changed yields nothing.
"""

from __future__ import annotations

from spiders.feed import conditional_headers, validators
from spiders.about import About
from spiders.items import SourceSpider
from spiders.parse import MalformedPage
from spiders.parse.article import parse_article_page


class ArticleSpider(SourceSpider):
    name = "article"
    about = About(site="any forum thread or article page", source="forum", official_api=False, key_needed="",
                  format="HTML (schema.org posts, else trafilatura)", brand_specific=True)

    async def start(self):
        for brand in self.brands():
            for url in brand.sources.forum_pages:
                key = f"page:{url}"
                yield self.request(url, self.parse, dont_filter=True,
                                   headers=conditional_headers(self.checkpoint.get(key)),
                                   meta={"handle_httpstatus_list": [304]}, cb_kwargs={"brand": brand.name, "key": key})

    def parse(self, response, brand: str, key: str):
        if response.status == 304:
            self.logger.info("%s: not modified since the last crawl", response.url)
            return
        try:
            result = parse_article_page(self.page_text(response), response.url, source=self.about.source,
                                        brands=[brand])
        except MalformedPage as err:
            self.skip(response.url, str(err))
            return
        self.report(response.url, result)
        if not result.mentions:
            self.skip(response.url, "no posts and no main text")
            return
        state = {**validators(response), "hash": result.info["hash"]}
        previous = self.checkpoint.get(key) or {}
        if previous.get("hash") == state["hash"]:
            self.logger.info("%s: unchanged since the last crawl", response.url)
            return
        # Posts: only the ones not stored yet. A single article: again when its text changed (an update).
        mentions = self.new_only(result.mentions) if result.info["kind"] == "posts" else result.mentions
        if not mentions:
            self.checkpoint.set(key, state)
        for mention in mentions:
            self.remember(mention.id, key, state)
            yield mention

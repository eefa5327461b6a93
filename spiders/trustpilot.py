"""Trustpilot: public company review pages, https://www.trustpilot.com/review/<company domain>.

Not the official API (that needs a business key); the public pages carry every review with its
company reply in their Next.js data. The project lists the pages (`trustpilot = [...]`); the site's
base can be pointed elsewhere with LISTENER_TRUSTPILOT_URL (tests, the demo). Pages are followed
(?page=N) until one holds no review an earlier run stored, or LISTENER_MAX_PAGES.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from spiders.about import About
from spiders.items import SourceSpider
from spiders.parse import MalformedPage
from spiders.parse.trustpilot import parse_trustpilot_page


def rebase(url: str, base: str) -> str:
    """The same path and query on another site: https://www.trustpilot.com/review/x -> <base>/review/x."""
    parts, target = urlsplit(url), urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, ""))


class TrustpilotSpider(SourceSpider):
    name = "trustpilot"
    about = About(site="https://www.trustpilot.com", source="trustpilot", official_api=False, key_needed="",
                  format="HTML (Next.js JSON, JSON-LD)", brand_specific=True)

    async def start(self):
        base = self.settings.get("LISTENER_TRUSTPILOT_URL", "https://www.trustpilot.com")
        for brand in self.brands():
            for url in brand.sources.trustpilot:
                yield self.request(rebase(url, base), self.parse, cb_kwargs={"brand": brand.name, "page": 1},
                                   dont_filter=True)

    def parse(self, response, brand: str, page: int):
        try:
            result = parse_trustpilot_page(self.page_text(response), response.url, brands=[brand])
        except MalformedPage as err:
            self.skip(response.url, str(err))
            return
        yield from self.new_reviews_then_next_page(response, result, page, brand=brand)

"""Generic review pages: schema.org Review / AggregateRating on any site (JSON-LD, microdata, RDFa).

https://schema.org/Review. The pages are the brand's `review_pages` in the project file; one module
serves them all (STYLE.md 6). Pagination is followed (rel=next or a "next" link) until a page holds no
review that an earlier run stored, or LISTENER_MAX_PAGES. Pages without schema.org markup are tried
with the markup profiles of spiders.parse.review_html.
"""

from __future__ import annotations

from spiders.about import About
from spiders.items import SourceSpider
from spiders.parse import MalformedPage
from spiders.parse.review_html import parse_without_schema, reviews_in_embedded_json
from spiders.parse.schemaorg import parse_html, parse_review_page


class ReviewSpider(SourceSpider):
    name = "review"
    about = About(site="https://schema.org/Review", source="review", official_api=False, key_needed="",
                  format="HTML (JSON-LD, microdata, RDFa)", brand_specific=True)

    async def start(self):
        for brand in self.brands():
            for url in brand.sources.review_pages:
                yield self.request(url, self.parse, cb_kwargs={"brand": brand.name, "page": 1}, dont_filter=True)

    def parse(self, response, brand: str, page: int):
        try:
            text = self.page_text(response)
            result = parse_review_page(text, response.url, source=self.about.source, brands=[brand])
            if not result.mentions and not result.skipped:
                result = parse_without_schema(parse_html(text), response.url, source=self.about.source,
                                              brands=[brand])
        except MalformedPage as err:
            self.skip(response.url, str(err))
            return
        if not result.mentions:
            self.skip(response.url, "; ".join(result.skipped[:2]) or _why_no_reviews(text))
            return
        yield from self.new_reviews_then_next_page(response, result, page, brand=brand)


def _why_no_reviews(text: str) -> str:
    """The reason a page gave no reviews, as the crawl summary shows it."""
    if reviews_in_embedded_json(parse_html(text)):
        return ("layout not supported: the reviews are only in the page's embedded JSON (a script), not in "
                "schema.org markup or a known review list")
    return "no reviews found (no schema.org Review markup, no known review list)"

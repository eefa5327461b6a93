"""Saved Bing result pages (https://www.bing.com/search?q=…): each organic result is an `li.b_algo` in
`ol#b_results`, the link in its <h2>, the snippet the first paragraph of `.b_caption`. Deep links inside a
result are not separate results. No results: Bing shows `li.b_no` and no `b_algo`.
"""

from __future__ import annotations

from listener.seo.model import SerpPage, SerpResult
from listener.seo.providers import register
from listener.seo.providers.base import About, Provider
from listener.seo.providers.html import has_heading, parse_html, text_of

_ALGO = '//li[contains(concat(" ", normalize-space(@class), " "), " b_algo ")]'
_HEADINGS = (("people_also_ask", ("People also ask",)), ("video", ("Videos",)))


@register
class SavedBingPage(Provider):
    name = "bing_html"
    about = About(site="Bing result pages saved from a browser", docs="https://www.bing.com/search",
                  format="HTML", live=False, pages=False)
    import_engine = "bing"

    def parse(self, body, query, lang="en", country="us", page=0) -> SerpPage:
        doc = parse_html(body, "bing")
        results = []
        for item in doc.xpath(_ALGO):
            links = item.xpath(".//h2//a[@href]")
            if not links or not links[0].get("href", "").startswith("http"):
                continue
            caption = item.xpath('.//*[contains(@class, "b_caption")]//p')
            results.append(SerpResult(position=len(results) + 1, url=links[0].get("href"),
                                      title=text_of(links[0]), snippet=text_of(caption[0]) if caption else ""))
        features = [name for name, headings in _HEADINGS if has_heading(doc, *headings)]
        return SerpPage(engine="bing", query=query, lang=lang, country=country, results=results,
                        features=features)

"""DuckDuckGo's HTML results (https://html.duckduckgo.com/html/): keyless, the fallback when no API is set up.

GET /html/?q=…&kl=us-en. Each result is an `a.result__a` (the link, sometimes wrapped as
//duckduckgo.com/l/?uddg=TARGET) with a `.result__snippet`; ads carry `result--ad`. One page only: further
pages need a form token. Heavy use gets the "anomaly" bot challenge, which is reported as blocked. The same
parser reads saved DuckDuckGo result pages (listener seo import --engine duckduckgo).
"""

from __future__ import annotations

from listener.seo.model import SerpPage, SerpResult
from listener.seo.providers import register
from listener.seo.providers.base import About, HttpRequest, Provider
from listener.seo.providers.html import parse_html, text_of, unwrap


@register
class DuckDuckGoProvider(Provider):
    name = "duckduckgo"
    about = About(site="DuckDuckGo HTML results", docs="https://html.duckduckgo.com/html/", format="HTML",
                  key_env=None, pages=False)
    default_url = "https://html.duckduckgo.com"
    page_size = 30
    import_engine = "duckduckgo"

    def request(self, query: str, lang: str, country: str, page: int) -> HttpRequest:
        return HttpRequest("GET", f"{self.base_url}/html/", params={"q": query, "kl": f"{country}-{lang}"},
                           headers={"Accept": "text/html"})

    def parse(self, body, query, lang="en", country="us", page=0) -> SerpPage:
        doc = parse_html(body, self.name)
        results = []
        for link in doc.xpath('//a[contains(concat(" ", normalize-space(@class), " "), " result__a ")]'):
            block = next((a for a in link.iterancestors()
                          if "result" in (a.get("class") or "").split()), None)
            if block is not None and "result--ad" in (block.get("class") or ""):
                continue
            url = unwrap(link.get("href") or "", "uddg")
            if url.startswith("//"):
                url = "https:" + url
            if not url.startswith("http"):
                continue
            snippet = block.xpath('.//*[contains(@class, "result__snippet")]') if block is not None else []
            results.append(SerpResult(position=len(results) + 1, url=url, title=text_of(link),
                                      snippet=text_of(snippet[0]) if snippet else ""))
        return SerpPage(engine=self.name, query=query, lang=lang, country=country, results=results)

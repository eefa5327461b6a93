"""SearXNG's search API (https://docs.searxng.org/dev/search_api.html): a self-hosted, free metasearch engine.

GET /search?q=…&format=json&language=en-US&pageno=1. The instance must list `json` under search.formats in
its settings.yml, else it answers 403. Results carry url, title and content; `unresponsive_engines` lists
[engine, reason] pairs, and when every engine was blocked (reason "CAPTCHA", "too many requests") an empty
answer is a block, not "no results".
"""

from __future__ import annotations

from listener.seo.model import BadResponseError, BlockedError, QuotaError, SerpPage, SerpResult
from listener.seo.providers import register
from listener.seo.providers.base import About, HttpRequest, Provider, clean


@register
class SearxngProvider(Provider):
    name = "searxng"
    about = About(site="a SearXNG instance (self-hosted)", docs="https://docs.searxng.org/dev/search_api.html",
                  format="JSON", key_env=None)
    default_url = "http://127.0.0.1:8888"
    page_size = 10

    def request(self, query: str, lang: str, country: str, page: int) -> HttpRequest:
        return HttpRequest("GET", f"{self.base_url}/search", params={
            "q": query, "format": "json", "language": f"{lang}-{country.upper()}", "pageno": str(page + 1),
            "categories": "general", "safesearch": "0"})

    def error_of(self, status: int, body: bytes) -> Exception | None:
        if status == 403:
            return BadResponseError(f"{self.name}: 403 Forbidden from {self.base_url}: enable the JSON format "
                                    "(search.formats: [html, json] in the instance's settings.yml)")
        return None

    def parse(self, body, query, lang="en", country="us", page=0) -> SerpPage:
        data = self.load_json(body)
        if not isinstance(data.get("results"), list):
            raise BadResponseError(f"{self.name}: no 'results' list in the answer; is this a SearXNG instance?")
        results, seen = [], set()
        for item in data["results"]:
            url = item.get("url") if isinstance(item, dict) else None
            if not url or url in seen:
                continue
            seen.add(url)
            feature = "video" if item.get("category") == "videos" or item.get("template") == "videos.html" \
                else "organic"
            results.append(SerpResult(position=page * self.page_size + len(results) + 1, url=url,
                                      title=clean(item.get("title")), snippet=clean(item.get("content")),
                                      feature=feature))
        failing = [f"{entry[0]}: {entry[1]}" for entry in data.get("unresponsive_engines") or []
                   if isinstance(entry, (list, tuple)) and len(entry) > 1]
        if not results and failing:
            # No results while engines failed is not "no results": say why, by the commonest cause.
            text = "; ".join(failing).lower()
            if "captcha" in text or "access denied" in text:
                raise BlockedError(f"{self.name}: engines were blocked ({'; '.join(failing)}); no results to "
                                   "trust, try later")
            if "too many" in text or "suspended" in text:
                raise QuotaError(f"{self.name}: engines refused ({'; '.join(failing)}); try later")
            raise BadResponseError(f"{self.name}: no results and engines failed ({'; '.join(failing)})")
        features = sorted({r.feature for r in results} - {"organic"})
        return SerpPage(engine=self.name, query=query, lang=lang, country=country, results=results,
                        features=features)

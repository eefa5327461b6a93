"""SerpApi's Google engine (https://serpapi.com/search-api): Google results as JSON, an API key needed.

GET /search.json?engine=google&q=…&hl=en&gl=us&num=10&start=0&api_key=KEY. Organic results are
`organic_results` (position, link, title, snippet); SERP features: `answer_box` (featured snippet),
`related_questions` (people also ask), `inline_videos`, `discussions_and_forums`. Errors come as
{"error": "…"} (an invalid key, searches run out); "Google hasn't returned any results" is a real empty page.
"""

from __future__ import annotations

from listener.seo.model import BadResponseError, MissingKeyError, QuotaError, SerpPage, SerpResult
from listener.seo.providers import register
from listener.seo.providers.base import About, HttpRequest, Provider, clean

_FEATURE_LISTS = (("related_questions", "people_also_ask"), ("inline_videos", "video"),
                  ("discussions_and_forums", "discussion"))


@register
class SerpApiProvider(Provider):
    name = "serpapi"
    about = About(site="SerpApi (Google results)", docs="https://serpapi.com/search-api", format="JSON",
                  key_env="LISTENER_SERPAPI_KEY")
    default_url = "https://serpapi.com"
    page_size = 10

    def request(self, query: str, lang: str, country: str, page: int) -> HttpRequest:
        return HttpRequest("GET", f"{self.base_url}/search.json", params={
            "engine": "google", "q": query, "hl": lang, "gl": country, "num": str(self.page_size),
            "start": str(page * self.page_size), "api_key": self.key or ""})

    def _error(self, message: str) -> Exception:
        lowered = message.lower()
        if "api key" in lowered or "api_key" in lowered:
            return MissingKeyError(f"{self.name}: the key was refused ({message}); set LISTENER_SERPAPI_KEY to a "
                                   "valid key from serpapi.com/manage-api-key")
        if "run out" in lowered or ("searches" in lowered and "limit" in lowered) or "too many" in lowered:
            return QuotaError(f"{self.name}: {message} (quota used up; wait for the plan to renew or upgrade)")
        return BadResponseError(f"{self.name}: {message}")

    def error_of(self, status: int, body: bytes) -> Exception | None:
        try:
            message = self.load_json(body).get("error")
        except BadResponseError:
            return None
        return self._error(str(message)) if message else None

    def parse(self, body, query, lang="en", country="us", page=0) -> SerpPage:
        data = self.load_json(body)
        error = data.get("error")
        if error and "hasn't returned any results" not in str(error):
            raise self._error(str(error))
        organic = data.get("organic_results", [] if error else None)
        if not isinstance(organic, list):
            raise BadResponseError(f"{self.name}: no 'organic_results' in the answer")
        results = []
        offset = page * self.page_size
        for item in organic:
            if isinstance(item, dict) and item.get("link"):
                results.append(SerpResult(position=offset + len(results) + 1, url=item["link"],
                                          title=clean(item.get("title")), snippet=clean(item.get("snippet"))))
        features = []
        box = data.get("answer_box")
        if isinstance(box, dict):
            features.append("featured_snippet")
            if box.get("link"):
                results.append(SerpResult(position=0, url=box["link"], title=clean(box.get("title")),
                                          snippet=clean(box.get("snippet") or box.get("answer")),
                                          feature="featured_snippet"))
        for key, feature in _FEATURE_LISTS:
            items = data.get(key)
            if isinstance(items, list) and items:
                features.append(feature)
                for item in items:
                    if isinstance(item, dict) and item.get("link"):
                        results.append(SerpResult(position=0, url=item["link"],
                                                  title=clean(item.get("title") or item.get("question")),
                                                  snippet=clean(item.get("snippet")), feature=feature))
        return SerpPage(engine=self.name, query=query, lang=lang, country=country, results=results,
                        features=features)

"""Brave Search API, web search (https://api-dashboard.search.brave.com/app/documentation/web-search):
an independent index as JSON, a subscription token needed (a free plan exists).

GET /res/v1/web/search?q=…&country=US&search_lang=en&count=20&offset=0 with the header
X-Subscription-Token. `web.results` are the organic results (url, title, description); `faq`, `videos` and
`discussions` are SERP features. Errors: {"type": "ErrorResponse", "error": {"code", "detail", "status"}}.
`offset` counts pages of `count` results, at most 9.
"""

from __future__ import annotations

from listener.seo.model import BadResponseError, MissingKeyError, QuotaError, SerpPage, SerpResult
from listener.seo.providers import register
from listener.seo.providers.base import About, HttpRequest, Provider, clean

_FEATURES = (("faq", "people_also_ask"), ("videos", "video"), ("discussions", "discussion"))


@register
class BraveProvider(Provider):
    name = "brave"
    about = About(site="Brave Search API", docs="https://api-dashboard.search.brave.com/app/documentation",
                  format="JSON", key_env="LISTENER_BRAVE_KEY")
    default_url = "https://api.search.brave.com"
    page_size = 20

    def request(self, query: str, lang: str, country: str, page: int) -> HttpRequest:
        return HttpRequest("GET", f"{self.base_url}/res/v1/web/search", params={
            "q": query, "country": country.upper(), "search_lang": lang, "count": str(self.page_size),
            "offset": str(page)}, headers={"X-Subscription-Token": self.key or "", "Accept": "application/json"})

    def error_of(self, status: int, body: bytes) -> Exception | None:
        try:
            data = self.load_json(body)
        except BadResponseError:
            return None
        error = data.get("error") if data.get("type") == "ErrorResponse" else None
        if not isinstance(error, dict):
            return None
        code, detail = str(error.get("code", "")), str(error.get("detail", ""))
        if "TOKEN" in code or "SUBSCRIPTION" in code or status in (401, 403):
            return MissingKeyError(f"{self.name}: the token was refused ({code}: {detail}); set LISTENER_BRAVE_KEY "
                                   "to a key from api-dashboard.search.brave.com")
        if "RATE" in code or "QUOTA" in code or status == 429:
            return QuotaError(f"{self.name}: {code}: {detail} (slow down or wait for the quota to renew)")
        return BadResponseError(f"{self.name}: {code}: {detail}")

    def parse(self, body, query, lang="en", country="us", page=0) -> SerpPage:
        data = self.load_json(body)
        if data.get("type") == "ErrorResponse":
            raise self.error_of(200, body if isinstance(body, bytes) else body.encode()) \
                or BadResponseError(f"{self.name}: an error answer")
        if data.get("type") != "search":
            raise BadResponseError(f"{self.name}: expected an answer of type 'search', got {data.get('type')!r}")
        web = (data.get("web") or {}).get("results") or []
        results = []
        for item in web:
            if isinstance(item, dict) and item.get("url"):
                results.append(SerpResult(position=page * self.page_size + len(results) + 1, url=item["url"],
                                          title=clean(item.get("title")), snippet=clean(item.get("description"))))
        features = []
        for key, feature in _FEATURES:
            items = (data.get(key) or {}).get("results") or []
            if items:
                features.append(feature)
            for item in items:
                if isinstance(item, dict) and item.get("url"):
                    results.append(SerpResult(position=0, url=item["url"],
                                              title=clean(item.get("title") or item.get("question")),
                                              snippet=clean(item.get("description") or item.get("answer")),
                                              feature=feature))
        return SerpPage(engine=self.name, query=query, lang=lang, country=country, results=results,
                        features=features)

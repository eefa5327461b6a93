"""A local search server that answers like the SERP providers listener.seo reads, from results you give it.

    server = SerpServer({"nimbus reset password": [serp_item("https://www.reddit.com/r/x/1", "Locked out")]},
                        keys={"k"})
    base = server.start()        # http://127.0.0.1:PORT, for LISTENER_SERP_URL
    ...
    server.stop()

One server, each provider's documented request and answer shape at its own path:
- SearXNG  GET /search?q=&format=json&pageno=N: {"query", "number_of_results", "results": [{url, title,
  content, engine, category}], "answers", "infoboxes", "suggestions", "unresponsive_engines"}; 403 when
  format is not json (the instance default).
- SerpApi  GET /search.json?engine=google&q=&start=&num=&api_key=: {"search_metadata": {"status"},
  "organic_results": [{position, title, link, displayed_link, snippet}], "related_questions",
  "inline_videos", "discussions_and_forums"}; {"error": "Invalid API key. …"} with 401 for a bad key,
  {"error": "Your account has run out of searches."} with 429 once `quota` searches are spent.
- Brave    GET /res/v1/web/search?q=&offset=&count= with X-Subscription-Token: {"type": "search",
  "web": {"results": [{title, url, description}]}, "faq", "videos", "discussions"}; an ErrorResponse
  (SUBSCRIPTION_TOKEN_INVALID 422, RATE_LIMITED 429) otherwise.
- DuckDuckGo GET /html/?q=: the HTML result page (a.result__a, .result__snippet), or its bot challenge when
  `blocked` is set.
`delay` (seconds) makes every answer hang that long, for timeout tests. Responses are written by this
project in the shapes the providers document; they are not recordings.
"""

from __future__ import annotations

import html
import time
from typing import Any, Iterable

from demo.servers.base import LocalApiServer, Request, Response


def serp_item(url: str, title: str, snippet: str = "", feature: str = "organic") -> dict[str, str]:
    """One result the server knows: organic, or a SERP feature (people_also_ask, video, discussion)."""
    return {"url": url, "title": title, "snippet": snippet, "feature": feature}


class SerpServer(LocalApiServer):
    name = "serp"

    def __init__(self, answers: dict[str, Iterable[dict[str, str]]] | None = None, *, keys: Iterable[str] = (),
                 quota: int | None = None, delay: float = 0.0, blocked: bool = False) -> None:
        super().__init__()
        self.answers = {" ".join(q.split()).casefold(): list(items) for q, items in (answers or {}).items()}
        self.keys = set(keys)
        self.quota = quota
        self.delay = delay
        self.blocked = blocked
        self.searches = 0

    def _items(self, query: str | None) -> tuple[list[dict], list[dict]]:
        items = self.answers.get(" ".join((query or "").split()).casefold(), [])
        return ([i for i in items if i.get("feature", "organic") == "organic"],
                [i for i in items if i.get("feature", "organic") != "organic"])

    def handle(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        route = {"/search": self._searxng, "/search.json": self._serpapi, "/res/v1/web/search": self._brave,
                 "/html/": self._duckduckgo, "/html": self._duckduckgo}.get(request.path)
        if route is None:
            return Response(404, "<html><body>Not found</body></html>", {"content-type": "text/html"})
        return route(request)

    def _spend(self) -> bool:
        """Count a search; False once the quota is used."""
        with self.lock:
            if self.quota is not None and self.searches >= self.quota:
                return False
            self.searches += 1
            return True

    # ------------------------------------------------------------------ SearXNG

    def _searxng(self, request: Request) -> Response:
        if request.get("format") != "json":
            return Response(403, "<html><body><h1>403 Forbidden</h1></body></html>", {"content-type": "text/html"})
        if not self._spend():
            return Response(429, "Too Many Requests", {"retry-after": "60"})
        organic, features = self._items(request.get("q"))
        page = max(1, int(request.get("pageno") or 1))
        shown = organic[(page - 1) * 10:page * 10]
        if self.blocked:
            return Response(200, {"query": request.get("q"), "number_of_results": 0, "results": [],
                                  "answers": [], "infoboxes": [], "suggestions": [],
                                  "unresponsive_engines": [["google", "CAPTCHA"], ["duckduckgo", "CAPTCHA"]]})
        results = [{"url": i["url"], "title": i["title"], "content": i["snippet"], "engine": "google",
                    "engines": ["google"], "category": "general", "score": 1.0} for i in shown]
        results += [{"url": i["url"], "title": i["title"], "content": i["snippet"], "engine": "youtube",
                     "engines": ["youtube"], "category": "videos", "template": "videos.html"}
                    for i in features if i["feature"] == "video" and page == 1]
        return Response(200, {"query": request.get("q"), "number_of_results": len(organic), "results": results,
                              "answers": [], "corrections": [], "infoboxes": [], "suggestions": [],
                              "unresponsive_engines": []})

    # ------------------------------------------------------------------ SerpApi

    def _serpapi(self, request: Request) -> Response:
        if request.get("api_key") not in self.keys:
            return Response(401, {"error": "Invalid API key. Your API key should be here: "
                                           "https://serpapi.com/manage-api-key"})
        if not self._spend():
            return Response(429, {"error": "Your account has run out of searches."})
        if self.blocked:
            return Response(200, "<html><title>Sorry...</title><body>Our systems have detected unusual traffic "
                                 "from your computer network.</body></html>", {"content-type": "text/html"})
        organic, features = self._items(request.get("q"))
        start, num = int(request.get("start") or 0), int(request.get("num") or 10)
        shown = organic[start:start + num]
        if not shown:
            return Response(200, {"search_metadata": {"status": "Success"},
                                  "search_information": {"organic_results_state": "Fully empty"},
                                  "error": "Google hasn't returned any results for this query."})
        answer: dict[str, Any] = {
            "search_metadata": {"status": "Success"},
            "search_parameters": {"engine": "google", "q": request.get("q"), "gl": request.get("gl"),
                                  "hl": request.get("hl")},
            "organic_results": [{"position": start + n + 1, "title": i["title"], "link": i["url"],
                                 "displayed_link": i["url"].split("://", 1)[-1], "snippet": i["snippet"]}
                                for n, i in enumerate(shown)],
        }
        if start == 0:
            by_feature = {"people_also_ask": "related_questions", "video": "inline_videos",
                          "discussion": "discussions_and_forums"}
            for item in features:
                key = by_feature.get(item["feature"])
                if key:
                    entry = {"title": item["title"], "link": item["url"], "snippet": item["snippet"]}
                    if key == "related_questions":
                        entry["question"] = entry.pop("title")
                    answer.setdefault(key, []).append(entry)
        return Response(200, answer)

    # ------------------------------------------------------------------ Brave

    def _brave(self, request: Request) -> Response:
        def error(status: int, code: str, detail: str) -> Response:
            return Response(status, {"type": "ErrorResponse", "error": {"id": "0", "status": status, "code": code,
                                                                         "detail": detail, "meta": {}},
                                     "time": int(time.time())})

        if request.headers.get("x-subscription-token") not in self.keys:
            return error(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.")
        if not self._spend():
            return error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.")
        organic, features = self._items(request.get("q"))
        offset, count = int(request.get("offset") or 0), int(request.get("count") or 20)
        shown = organic[offset * count:(offset + 1) * count]
        answer: dict[str, Any] = {"type": "search", "query": {"original": request.get("q")},
                                  "web": {"type": "search", "results": [
                                      {"title": i["title"], "url": i["url"], "description": i["snippet"],
                                       "type": "search_result"} for i in shown]}}
        if offset == 0:
            by_feature = {"people_also_ask": "faq", "video": "videos", "discussion": "discussions"}
            for item in features:
                key = by_feature.get(item["feature"])
                if key:
                    entry = {"title": item["title"], "url": item["url"], "description": item["snippet"]}
                    if key == "faq":
                        entry = {"question": item["title"], "answer": item["snippet"], "title": item["title"],
                                 "url": item["url"]}
                    answer.setdefault(key, {"type": key, "results": []})["results"].append(entry)
        return Response(200, answer)

    # ------------------------------------------------------------------ DuckDuckGo HTML

    def _duckduckgo(self, request: Request) -> Response:
        if self.blocked:
            page = ("<html><body><div class=\"anomaly-modal__title\">Unfortunately, bots use DuckDuckGo too."
                    "</div><form id=\"challenge-form\"></form></body></html>")
            return Response(200, page, {"content-type": "text/html; charset=UTF-8"})
        if not self._spend():
            return Response(429, "<html><body>Too many requests</body></html>", {"content-type": "text/html"})
        organic, _ = self._items(request.get("q"))
        blocks = []
        for item in organic[:30]:
            url = html.escape(item["url"], quote=True)
            blocks.append(
                f'<div class="result results_links results_links_deep web-result"><div class="links_main '
                f'links_deep result__body"><h2 class="result__title"><a rel="nofollow" class="result__a" '
                f'href="//duckduckgo.com/l/?uddg={html.escape(_quote(item["url"]), quote=True)}&amp;rut=x">'
                f'{html.escape(item["title"])}</a></h2><div class="result__extras"><a class="result__url" '
                f'href="{url}">{url}</a></div><a class="result__snippet" href="{url}">'
                f'{item["snippet"]}</a></div></div>')  # snippets are HTML (bold query words)
        body = (f"<!DOCTYPE html><html><head><title>{html.escape(request.get('q') or '')} at DuckDuckGo</title>"
                f"</head><body><div id=\"links\" class=\"results\">{''.join(blocks)}</div></body></html>")
        return Response(200, body, {"content-type": "text/html; charset=UTF-8"})


def _quote(url: str) -> str:
    from urllib.parse import quote

    return quote(url, safe="")

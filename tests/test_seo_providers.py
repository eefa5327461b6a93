"""The one test suite every live SERP provider passes, against a local server answering in its documented
shape (demo.servers.serp): results in rank order, further pages, SERP features, empty results, and every
way a search fails (no key, a refused key, 429, a CAPTCHA page, the wrong format, a 5xx, a hang)."""

from __future__ import annotations

import pytest

from demo.servers.serp import SerpServer, serp_item
from listener.seo.fetch import build_provider, search
from listener.seo.model import (
    BadResponseError, BlockedError, MissingKeyError, ProviderTimeout, QuotaError, SerpError,
)
from listener.seo.providers import PROVIDERS, live_names
from listener.seo.settings import SeoSettings

QUERY = "acme reset password"
ORGANIC = [serp_item(f"https://site{n}.example.org/page/{n}", f"Result {n}", f"snippet {n} <b>bold</b>")
           for n in range(1, 26)]
FEATURES = [serp_item("https://www.youtube.com/watch?v=abc", "How to reset", "a video", "video"),
            serp_item("https://www.reddit.com/r/acme/comments/1/locked_out/", "Locked out", "a thread", "discussion"),
            serp_item("https://help.acme.example/reset", "How do I reset my password?", "Go to settings",
                      "people_also_ask")]
KEY = "test-key"
#: which SERP features each provider reports (from its documented answer); the meta-test below fails when a
#: registered provider is missing here, so a new provider cannot go untested.
FEATURES_SEEN = {"searxng": {"video"}, "serpapi": {"video", "discussion", "people_also_ask"},
                 "brave": {"video", "discussion", "people_also_ask"}, "duckduckgo": set()}
CAPTCHA_PAGE = ("<html><head><title>Sorry...</title></head><body><div>Our systems have detected unusual traffic "
                "from your computer network.</div><form id=\"captcha-form\" action=\"/sorry/index\"></form>"
                "</body></html>")


def test_every_live_provider_is_in_this_suite():
    assert sorted(live_names()) == sorted(FEATURES_SEEN)


@pytest.fixture
def server():
    with SerpServer({QUERY: ORGANIC + FEATURES}, keys={KEY}) as running:
        yield running


def settings_for(name: str, url: str, *, key: str | None = KEY, timeout: float = 5.0) -> SeoSettings:
    env = {"LISTENER_SERP_PROVIDER": name, "LISTENER_SERP_URL": url, "LISTENER_SERP_TIMEOUT": str(timeout)}
    if key:
        env.update({"LISTENER_SERPAPI_KEY": key, "LISTENER_BRAVE_KEY": key})
    return SeoSettings.from_env(env)


def run(name: str, url: str, query: str = QUERY, depth: int = 20, **kwargs):
    current = settings_for(name, url, **kwargs)
    return search(build_provider(current), query, "en", "us", depth, timeout=current.timeout)


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_top_results_in_rank_order_with_positions(server, name):
    page = run(name, server.base_url, depth=20)
    organic = page.organic
    assert [r.position for r in organic] == list(range(1, 21))
    assert [r.url for r in organic] == [i["url"] for i in ORGANIC[:20]]
    assert organic[0].title == "Result 1" and organic[0].snippet == "snippet 1 bold"  # markup removed
    assert page.engine == name and page.query == QUERY


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_further_pages_where_the_provider_allows(server, name):
    page = run(name, server.base_url, depth=25)
    provider = PROVIDERS[name]
    assert len(page.organic) == 25  # DuckDuckGo's one page holds 30; the others page on
    searches = len([r for r in server.requests if r.path != "/favicon.ico"])
    assert searches == (1 if not provider.about.pages else -(-25 // provider.page_size))


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_serp_features(server, name):
    page = run(name, server.base_url)
    assert set(page.features) == FEATURES_SEEN[name]
    for feature in FEATURES_SEEN[name]:
        wanted = next(i["url"] for i in FEATURES if i["feature"] == feature)
        assert wanted in [r.url for r in page.results if r.feature == feature]


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_no_results_is_an_empty_page_not_an_error(server, name):
    page = run(name, server.base_url, query="nothing matches this")
    assert page.results == []


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_captcha_page_is_an_error_never_zero_results(server, name):
    server.fail_next(status=200, body=CAPTCHA_PAGE)
    with pytest.raises(BlockedError, match="unusual traffic|CAPTCHA"):
        run(name, server.base_url)


@pytest.mark.parametrize("name", ["searxng", "duckduckgo"])
def test_the_providers_own_block_answer_is_an_error(name):
    with SerpServer({QUERY: ORGANIC}, blocked=True) as blocked:
        with pytest.raises(BlockedError):
            run(name, blocked.base_url)


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_429_is_a_quota_error(name):
    with SerpServer({QUERY: ORGANIC}, keys={KEY}, quota=0) as exhausted:
        with pytest.raises(QuotaError) as err:
            run(name, exhausted.base_url)
    assert name in str(err.value)


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_wrong_format_is_a_bad_response(server, name):
    fmt = PROVIDERS[name].about.format
    server.fail_next(status=200, body="<html><body>Welcome to our portal</body></html>" if fmt == "JSON"
                     else '{"results": []}')
    with pytest.raises(BadResponseError, match="instead of JSON" if fmt == "JSON" else "expected an HTML"):
        run(name, server.base_url)


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_server_error_is_a_bad_response(server, name):
    server.fail_next(status=502, body="<html><body>Bad gateway</body></html>")
    with pytest.raises(BadResponseError, match="502"):
        run(name, server.base_url)


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_a_provider_that_hangs_times_out(name):
    with SerpServer({QUERY: ORGANIC}, keys={KEY}, delay=2.0) as slow:
        with pytest.raises(ProviderTimeout, match="within 0.3 s"):
            run(name, slow.base_url, timeout=0.3)


@pytest.mark.parametrize("name", sorted(FEATURES_SEEN))
def test_keys(server, name):
    key_env = PROVIDERS[name].about.key_env
    if key_env is None:  # keyless: works with no key at all
        assert run(name, server.base_url, key=None).organic
        return
    with pytest.raises(MissingKeyError, match=key_env):
        run(name, server.base_url, key=None)  # refused before any request
    assert server.requests == []
    with pytest.raises(MissingKeyError, match="refused"):
        run(name, server.base_url, key="wrong")


def test_nothing_listening_is_a_clear_error():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SerpError, match="cannot connect"):
        run("searxng", f"http://127.0.0.1:{port}")


def test_searxng_without_json_format_says_how_to_enable_it(server):
    from listener.seo.fetch import fetch_page
    from listener.seo.providers.base import HttpRequest
    from listener.seo.providers.searxng import SearxngProvider

    class HtmlOnly(SearxngProvider):  # asks without format=json, which an instance refuses by default
        def request(self, query, lang, country, page):
            return HttpRequest("GET", f"{self.base_url}/search", params={"q": query})

    with pytest.raises(BadResponseError, match="settings.yml"):
        fetch_page(HtmlOnly(server.base_url), QUERY, "en", "us", 0, timeout=5)


@pytest.mark.parametrize("reason, error", [("CAPTCHA", BlockedError), ("too many requests", QuotaError),
                                           ("timeout", BadResponseError)])
def test_searxng_empty_answer_with_failing_engines_is_not_zero_results(reason, error):
    import json

    from listener.seo.providers.searxng import SearxngProvider

    body = json.dumps({"query": QUERY, "results": [], "unresponsive_engines": [["google", reason, False]]})
    with pytest.raises(error, match="google"):
        SearxngProvider().parse(body, QUERY)
    assert SearxngProvider().parse(json.dumps({"query": QUERY, "results": [], "unresponsive_engines": []}),
                                   QUERY).results == []

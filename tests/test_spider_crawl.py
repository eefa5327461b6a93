"""Real Scrapy crawls, in a subprocess, of the fixture site served on 127.0.0.1, into a temporary SQLite store.

One module-scoped pair of crawls (every spider at once; then the same again) feeds all the checks, so
the whole file costs two crawl processes. The site mixes good pages shaped like each source with the
ways real sites fail: malformed and truncated HTML and JSON, wrong and missing charsets, a 10 MB page,
a redirect loop, 404, 429 then success, 503 then success, 503 for ever, a connection cut mid-body,
an empty body, robots.txt disallows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from listener.config import Project, Settings
from demo.servers.sites import SiteServer
from listener.store import open_store
from listener.store.base import Filters
from spiders.crawl import configured_spiders, crawl
from spiders.settings import LOCAL_OVERRIDES

pytestmark = pytest.mark.slow

SITES = Path(__file__).parent / "fixtures" / "sites"
UTC = timezone.utc
OVERRIDES = {**LOCAL_OVERRIDES, "RETRY_TIMES": 2}
NIMBUS_QUERY = '(nimbus OR nimbuspay OR "nimbus wallet" OR نیمبوس OR نيمبس) -"nimbus 2000"'
BAD_REVIEW_PAGES = ["/reviews/truncated.html", "/_big/10", "/_loop/0", "/_status/404", "/_status/503",
                    "/private/reviews.html", "/reviews/empty", "/_truncate/600/reviews/rdfa.html"]


def project_for(base: str) -> Project:
    good_pages = ["/_flaky/1/503/reviews/jsonld-p1.html", "/reviews/microdata-fa.html", "/reviews/rdfa.html",
                  "/_charset/iso-8859-1/reviews/utf8-declared-latin1.html", "/_charset/none/reviews/cp1252.html",
                  "/reviews/malformed.html", "/reviews/datahook.html"]
    return Project.model_validate({"brand": [
        {"name": "Nimbus", "query": NIMBUS_QUERY, "sources": {
            "reddit_search": False,
            "review_pages": [base + p for p in good_pages + BAD_REVIEW_PAGES],
            "trustpilot": ["https://www.trustpilot.com/review/nimbus.example",
                           "https://www.trustpilot.com/review/nimbus-cards.example"],
            "app_store": [{"id": "1488000001", "country": "us"}, {"id": "1488000002", "country": "gb"}],
            "google_play": [{"id": "com.nimbus.wallet", "lang": "en"}],
            "feeds": [f"{base}/feeds/fintech.rss", f"{base}/feeds/alerts.atom", f"{base}/feeds/not-a-feed.html"],
            "forum_pages": [f"{base}/forum/t/nimbus-transfer-stuck/4411", f"{base}/blog/nimbus-tips.html"]}},
        {"name": "Orbit", "query": "orbitpay", "competitor": True},
    ]})


@dataclass
class Crawled:
    first: dict
    second: dict
    store: object
    base: str
    first_requests: list
    second_requests: list

    def mentions(self, source: str) -> list:
        return list(self.store.iter_mentions(Filters(sources=(source,))))

    def by_native(self, source: str) -> dict:
        return {m.native_id: m for m in self.mentions(source)}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    data = tmp_path_factory.mktemp("crawl")
    settings = Settings.from_env({"LISTENER_DATA": str(data), "LISTENER_STORE": f"sqlite:///{data}/listener.db",
                                  "LISTENER_CONTACT_URL": "https://example.org/listener-test"})
    with SiteServer(SITES) as server:
        base = server.base_url
        env = {**os.environ, "LISTENER_TRUSTPILOT_URL": f"{base}/trustpilot",
               "LISTENER_APPSTORE_URL": f"{base}/itunes", "LISTENER_PLAY_URL": f"{base}/play"}
        project = project_for(base)
        server.fail_next(1, 429, path="/itunes/us/rss/customerreviews/page=2/", retry_after=1)
        first = crawl(None, project, settings, overrides=OVERRIDES, env=env, timeout=120)
        first_requests = list(server.requests)
        server.clear_log()
        second = crawl(None, project, settings, overrides=OVERRIDES, env=env, timeout=120)
        second_requests = list(server.requests)
    store = open_store(settings.store_url)
    try:
        yield Crawled(first, second, store, base, first_requests, second_requests)
    finally:
        store.close()


# ------------------------------------------------------------------ nothing crashes


def test_every_spider_ran_and_nothing_crashed(crawled):
    for report in (crawled.first, crawled.second):
        assert report["exit_code"] == 0 and report["ok"], report["stderr"][-3000:]
        assert set(report["spiders"]) == {"review", "trustpilot", "appstore", "googleplay", "feed", "article"}
        for name, spider in report["spiders"].items():
            assert spider["finish_reason"] == "finished", name
            assert spider["errors"] == 0, (name, report["stderr"][-3000:])
        assert "Traceback" not in report["stderr"]


def test_all_good_reviews_kept_with_exact_counts(crawled):
    inserted = {name: s["inserted"] for name, s in crawled.first["spiders"].items()}
    assert inserted == {"review": 16, "trustpilot": 7, "appstore": 4, "googleplay": 4, "feed": 4, "article": 4}
    assert crawled.store.count(Filters()) == 39
    assert crawled.first["spiders"]["feed"]["unmatched"] == 1  # the markets article names no brand
    counts = dict(crawled.store.terms(Filters(), "source", size=10))
    assert counts == {"review": 16, "trustpilot": 7, "app_store": 4, "google_play": 4, "rss": 4, "forum": 4}


def test_second_run_ingests_nothing_new(crawled):
    totals = crawled.second["totals"]
    assert (totals["items"], totals["inserted"], totals["updated"]) == (0, 0, 0)
    assert crawled.store.count(Filters()) == 39


# ------------------------------------------------------------------ what was extracted


def test_trustpilot_fields_and_replies(crawled):
    reviews = crawled.by_native("trustpilot")
    first = reviews["6650a1f0c2b4e1a9d0000001"]
    assert (first.rating, first.author_name, first.brands) == (1.0, "Maya Lindqvist", ["Nimbus"])
    assert first.published_at == datetime(2024, 5, 24, 8, 15, tzinfo=UTC)
    assert first.company_reply.startswith("Hi Maya")
    assert reviews["6650a1f0c2b4e1a9d0000004"].company_reply.startswith("Oliver, apologies")
    assert sum(1 for m in reviews.values() if m.company_reply) == 2
    assert reviews["6650a1f0c2b4e1a9d0000003"].lang == "fa"
    assert reviews["6651b2a0d3c5f2b0e0000012"].author_name == "Marco Bianchi"  # the JSON-LD-only page


def test_appstore_pages_on_after_a_429(crawled):
    spider = crawled.first["spiders"]["appstore"]
    assert spider["statuses"].get("429") == 1 and spider["retries"] >= 1 and spider["backoff_s"] >= 1.0
    reviews = crawled.by_native("app_store")
    assert set(reviews) == {"10987650001", "10987650002", "10987650003", "10987650004"}
    assert reviews["10987650004"].rating == 2.0 and reviews["10987650004"].brands == ["Nimbus"]
    assert reviews["10987650001"].published_at == datetime(2024, 5, 25, 4, 3, 44, tzinfo=UTC)


def test_google_play_reviews_and_developer_reply(crawled):
    reviews = {m.author_name: m for m in crawled.mentions("google_play")}
    assert reviews["Daniel Moreau"].company_reply.startswith("Hi Daniel")
    assert reviews["Youssef Amrani"].rating == 3.0
    assert reviews["Fatemeh Rahimi"].published_at == datetime(2024, 5, 23, 18, 40, tzinfo=UTC)


def test_generic_review_pages(crawled):
    reviews = {m.author_name: m for m in crawled.mentions("review")}
    assert {"Daniel K", "Amira"} <= set(reviews)  # page 2, reached through rel=next after a 503 and a retry
    assert reviews["نگار"].published_at == datetime(2023, 12, 23, tzinfo=UTC)  # page 2, reached through «بعدی»
    assert (reviews["مریم"].rating, reviews["مریم"].published_at) == (2.5, datetime(2023, 11, 24, tzinfo=UTC))
    assert reviews["Priya N."].company_reply.startswith("Thanks Priya")
    assert "«Parfait» et نیمبوس عالیه" in reviews["Zoë"].text  # UTF-8 served as iso-8859-1
    assert reviews["Renée"].text.endswith("the 5 € fee is fair.")  # cp1252 with no charset
    assert reviews["Ola"].rating == 3.0  # the good JSON-LD block of the malformed page
    assert reviews["J. Park"].rating == 4.0 and reviews["Dana"].score == 3  # data-hook markup
    assert reviews["Sam"].rating == 4.0 and reviews["Lee"].rating == 2.0  # RDFa
    assert all(m.brands == ["Nimbus"] for m in reviews.values())


def test_feeds_follow_entries_to_articles(crawled):
    base = crawled.base
    items = crawled.by_native("rss")
    assert set(items) == {f"{base}/news/nimbus-outage.html", f"{base}/private/nimbus-memo.html",
                          f"{base}/news/gone.html", f"{base}/blog/nimbus-six-months.html"}
    outage = items[f"{base}/news/nimbus-outage.html"]  # in both feeds: stored once
    assert outage.extra["article"] == "fetched" and outage.text.startswith("Thousands of Nimbus customers")
    # Whichever feed's entry came first gave the date (09:00 in the RSS feed, 09:30 in the alert).
    assert outage.author_name == "Ana Ortiz" and outage.published_at.date().isoformat() == "2024-05-21"
    assert "All rights reserved" not in outage.text
    memo = items[f"{base}/private/nimbus-memo.html"]  # robots.txt forbids the article: the feed's summary
    assert memo.extra["article"] == "summary" and memo.text.startswith("A leaked memo")
    assert items[f"{base}/news/gone.html"].extra["article"] == "summary"  # the article is a 404
    assert items[f"{base}/blog/nimbus-six-months.html"].brands == ["Nimbus"]  # matched by the query


def test_forum_thread_and_article(crawled):
    posts = sorted(crawled.mentions("forum"), key=lambda m: m.published_at)
    assert [m.author_name for m in posts] == ["Omar Haddad", "kofi_m", "lena_b", "nimbus_support"]
    root = posts[1]
    assert root.title == "Nimbus transfer stuck on pending for 3 days"
    assert posts[2].thread_id == root.id and posts[3].parent_id == root.id
    assert all(m.brands == ["Nimbus"] for m in posts)  # "Same here" names no brand; the page is listed for it


# ------------------------------------------------------------------ bad inputs: logged and skipped


def _reasons(report: dict, spider: str) -> dict[str, str]:
    s = report["spiders"][spider]
    return {item["url"].split("127.0.0.1:", 1)[1].split("/", 1)[1]: item["reason"]
            for item in s["skipped_pages"] + s["failed_requests"]}


def test_bad_review_pages_are_logged_and_skipped(crawled):
    reasons = _reasons(crawled.first, "review")
    assert "broken" in reasons["reviews/truncated.html"]
    assert "max size" in reasons["_big/10"]
    assert "redirect" in reasons["_loop/5"]
    assert reasons["_status/404"] == "HTTP 404"
    assert reasons["_status/503"] == "HTTP 503"
    assert reasons["private/reviews.html"] == "forbidden by robots.txt"
    assert reasons["reviews/empty"] == "empty page"
    assert "DataLoss" in reasons["_truncate/600/reviews/rdfa.html"]
    assert any("skipped 1 item(s)" in line and "malformed.html" in line for line in crawled.first["log"])


def test_bad_site_pages_are_logged_and_skipped(crawled):
    assert "__NEXT_DATA__ is not JSON" in _reasons(crawled.first, "trustpilot")["trustpilot/review/nimbus.example?page=3"]
    appstore = _reasons(crawled.first, "appstore")
    assert appstore["itunes/gb/rss/customerreviews/page=1/id=1488000002/sortby=mostrecent/json"].startswith("not JSON")
    feed = _reasons(crawled.first, "feed")
    assert feed["feeds/not-a-feed.html"].startswith("not RSS or Atom")
    assert feed["news/gone.html"] == "HTTP 404"
    assert any("no link" in line for line in crawled.first["log"])


def test_robots_txt_is_obeyed_for_every_request(crawled):
    # Scrapy 2.19 lets the third and later requests through while robots.txt downloads; ours must not.
    paths = [r.path for r in crawled.first_requests + crawled.second_requests]
    assert "/robots.txt" in paths
    assert not [p for p in paths if p.startswith("/private/")]
    assert crawled.first["spiders"]["review"]["robots_forbidden"] == 1


def test_user_agent_names_the_project_and_contact(crawled):
    agents = {r.headers.get("user-agent") for r in crawled.first_requests}
    assert len(agents) == 1
    agent = agents.pop()
    assert agent.startswith("listener/") and "https://example.org/listener-test" in agent


def test_retries_back_off(crawled):
    review = crawled.first["spiders"]["review"]
    assert review["statuses"]["503"] >= 4  # the flaky page once, the broken one 1 + RETRY_TIMES
    assert review["retries"] >= 3 and review["backoff_s"] > 0


def test_second_run_stops_early_and_asks_conditionally(crawled):
    paths = [r.path + ("?" + "&".join(f"{k}={v}" for k, v in r.params.items()) if r.params else "")
             for r in crawled.second_requests]
    # Page 1 holds only stored reviews: no page 2.
    assert "/trustpilot/review/nimbus.example?page=2" not in paths
    assert not [p for p in paths if "customerreviews/page=2" in p]
    assert "/reviews/jsonld-p2.html" not in paths
    # Feeds and forum pages are asked with their validators and answer 304.
    feed_requests = [r for r in crawled.second_requests if r.path == "/feeds/fintech.rss"]
    assert feed_requests and feed_requests[0].headers.get("if-none-match")
    assert crawled.second["spiders"]["feed"]["statuses"].get("304") == 2
    assert crawled.second["spiders"]["article"]["statuses"].get("304") == 2


# ------------------------------------------------------------------ choosing spiders (no crawl)


def test_configured_spiders_and_argument_errors():
    project = project_for("http://127.0.0.1:1")
    assert configured_spiders(project) == ["review", "trustpilot", "appstore", "googleplay", "feed", "article"]
    assert configured_spiders(project, "Orbit") == []
    settings = Settings.from_env({"LISTENER_DATA": "/tmp/unused"})
    assert crawl(None, project, settings, brand="Orbit")["spiders"] == {}
    with pytest.raises(ValueError, match="unknown spider"):
        crawl("nope", project, settings)
    with pytest.raises(ValueError, match="unknown brand"):
        crawl(None, project, settings, brand="Nobody")

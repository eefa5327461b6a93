"""demo.servers.sites (the local web site the spider tests crawl) and the retry helpers."""

import http.client
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from demo.servers.sites import SiteServer, route_key
from spiders.middlewares import backoff_delay, retry_after_seconds

SITES = Path(__file__).parent / "fixtures" / "sites"


@pytest.fixture(scope="module")
def site():
    with SiteServer(SITES) as server:
        yield server


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_files_routes_and_query_order(site):
    status, headers, body = get(site.url("/play/store/apps/details?gl=us&hl=en&id=com.nimbus.wallet"))
    assert status == 200 and b"AF_initDataCallback" in body and headers["content-type"].startswith("text/html")
    status, headers, body = get(site.url("/itunes/us/rss/customerreviews/page=1/id=1488000001/sortby=mostrecent/json"))
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert get(site.url("/_site.json"))[0] == 404  # the manifest itself is not served
    assert get(site.url("/../../etc/passwd"))[0] == 404


def test_base_placeholder_and_conditional_requests(site):
    status, headers, body = get(site.url("/feeds/fintech.rss"))
    assert site.base_url.encode() in body and b"{{base}}" not in body
    assert get(site.url("/feeds/fintech.rss"), {"If-None-Match": headers["etag"]})[0] == 304
    assert get(site.url("/feeds/fintech.rss"), {"If-Modified-Since": headers["last-modified"]})[0] == 304


def test_failure_routes(site):
    status, headers, _ = get(site.url("/_status/429"))
    assert status == 429 and headers["retry-after"] == "1"
    assert get(site.url("/_flaky/2/503/reviews/rdfa.html"))[0] == 503
    assert get(site.url("/_flaky/2/503/reviews/rdfa.html"))[0] == 503
    assert get(site.url("/_flaky/2/503/reviews/rdfa.html"))[0] == 200
    status, headers, body = get(site.url("/_charset/iso-8859-1/reviews/rdfa.html"))
    assert headers["content-type"] == "text/html; charset=iso-8859-1"
    assert len(get(site.url("/_big/1"))[2]) > 1_000_000
    assert get(site.url("/reviews/empty"))[2] == b""


def test_redirect_loop_and_truncation(site):
    conn = http.client.HTTPConnection(site.base_url.removeprefix("http://"), timeout=5)
    conn.request("GET", "/_loop/3")
    resp = conn.getresponse()
    assert resp.status == 302 and resp.getheader("location") == "/_loop/4"
    resp.read()
    conn.request("GET", "/_truncate/100/reviews/rdfa.html")
    resp = conn.getresponse()
    assert int(resp.getheader("content-length")) > 100
    with pytest.raises(http.client.IncompleteRead):
        resp.read()


def test_in_memory_pages_and_the_request_log(site):
    site.add_page("/demo/page?b=2&a=1", "<p>hello</p>")
    assert get(site.url("/demo/page?a=1&b=2"))[2] == b"<p>hello</p>"
    assert route_key("/demo/page?b=2&a=1") == "/demo/page?a=1&b=2"
    assert site.requests_to("/demo/page")[-1].params == {"a": "1", "b": "2"}


def test_backoff_delays():
    assert backoff_delay(1, base=1, cap=60, jitter=0) == 1
    assert backoff_delay(4, base=1, cap=60, jitter=0) == 8
    assert backoff_delay(10, base=1, cap=60, jitter=0) == 60
    assert backoff_delay(1, base=1, cap=60, retry_after=30) == 30
    assert backoff_delay(1, base=1, cap=60, retry_after=3600) == 60
    assert 2 <= backoff_delay(2, base=1, cap=60) <= 2.5


def test_retry_after_forms():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30
    assert retry_after_seconds("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None

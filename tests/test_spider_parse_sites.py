"""The site parsers of spiders.parse on the fixture pages (tests/fixtures/sites), without a server."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from spiders.parse import MalformedPage
from spiders.parse.appstore import feed_url, parse_appstore_feed
from spiders.parse.article import parse_article_page
from spiders.parse.feeds import canonical_url, parse_feed
from spiders.parse.googleplay import parse_play_page
from spiders.parse.review_html import parse_without_schema
from spiders.parse.schemaorg import next_page_url, parse_html, parse_review_page
from spiders.parse.text import decode_body
from spiders.parse.trustpilot import parse_trustpilot_page, with_page

SITES = Path(__file__).parent / "fixtures" / "sites"
BASE = "http://127.0.0.1:9"
UTC = timezone.utc


def page(name: str, content_type: str | None = None) -> str:
    return decode_body((SITES / name).read_bytes(), content_type)[0]


def by_author(result):
    return {m.author_name: m for m in result.mentions}


# ------------------------------------------------------------------ generic schema.org reviews


def test_jsonld_reviews_with_reply_scales_and_next_page():
    result = parse_review_page(page("reviews/jsonld-p1.html"), f"{BASE}/reviews/jsonld-p1.html", brands=["Nimbus"])
    reviews = by_author(result)
    assert set(reviews) == {"Priya N.", "Jonas", "Chloé"}
    assert reviews["Priya N."].rating == 4.0 and reviews["Priya N."].title == "Solid app"
    assert reviews["Priya N."].company_reply == "Thanks Priya! Scheduled transfers are coming next month."
    assert reviews["Jonas"].rating == 1.0  # 2 of 10
    assert reviews["Jonas"].published_at == datetime(2024, 5, 9, 12, 30, tzinfo=UTC)
    assert reviews["Jonas"].text == "Exchange rates are worse than advertised & the fee is hidden."
    assert reviews["Chloé"].rating == 4.5 and reviews["Chloé"].lang == "fr"
    assert reviews["Chloé"].published_at == datetime(2024, 5, 9, tzinfo=UTC)  # "9 mai 2024"
    assert all(m.brands == ["Nimbus"] and m.source == "review" for m in result.mentions)
    assert result.next_url == f"{BASE}/reviews/jsonld-p2.html"
    assert result.info["aggregate"] == {"rating": 4.1, "count": 1234, "item": "Nimbus Wallet"}


def test_jsonld_graph_references_are_resolved():
    result = parse_review_page(page("reviews/jsonld-p2.html"), f"{BASE}/reviews/jsonld-p2.html")
    assert {m.author_name: m.rating for m in result.mentions} == {"Daniel K": 1.0, "Amira": 5.0}
    assert all(m.extra["item"] == "Nimbus Wallet" for m in result.mentions)
    assert result.next_url is None  # a "Previous" link is not a next page


def test_microdata_persian_page_with_jalali_dates_and_persian_digits():
    result = parse_review_page(page("reviews/microdata-fa.html"), f"{BASE}/reviews/microdata-fa.html")
    reviews = by_author(result)
    assert reviews["رضا"].published_at == datetime(2023, 11, 6, tzinfo=UTC) and reviews["رضا"].rating == 4.0
    assert reviews["مریم"].published_at == datetime(2023, 11, 24, tzinfo=UTC) and reviews["مریم"].rating == 2.5
    assert reviews["خالد"].published_at == datetime(2023, 10, 15, tzinfo=UTC) and reviews["خالد"].rating == 5.0
    assert result.info["aggregate"]["count"] == 1204 and result.info["aggregate"]["rating"] == 3.8
    assert result.next_url == f"{BASE}/reviews/microdata-fa-2.html"  # the link labelled «بعدی»


def test_rdfa_reviews_are_found_once():
    result = parse_review_page(page("reviews/rdfa.html"), f"{BASE}/reviews/rdfa.html")
    assert sorted((m.author_name, m.rating) for m in result.mentions) == [("Lee", 2.0), ("Sam", 4.0)]
    assert all(m.extra["item"] == "Nimbus Budgets" for m in result.mentions)


def test_review_ids_are_stable_across_pages_and_runs():
    first = parse_review_page(page("reviews/jsonld-p1.html"), f"{BASE}/reviews/jsonld-p1.html")
    again = parse_review_page(page("reviews/jsonld-p1.html"), f"{BASE}/reviews/jsonld-p1.html?page=1")
    assert [m.id for m in first.mentions] == [m.id for m in again.mentions]


def test_wrong_and_missing_charsets_decode_right():
    latin1 = page("reviews/utf8-declared-latin1.html", "text/html; charset=iso-8859-1")
    [review] = parse_review_page(latin1, f"{BASE}/x").mentions
    assert review.author_name == "Zoë" and "«Parfait» et نیمبوس عالیه" in review.text
    [review] = parse_review_page(page("reviews/cp1252.html", "text/html"), f"{BASE}/y").mentions
    assert review.author_name == "Renée" and review.text.endswith("the 5 € fee is fair.")


def test_malformed_html_keeps_the_good_block_and_reports_the_broken_one():
    result = parse_review_page(page("reviews/malformed.html"), f"{BASE}/reviews/malformed.html")
    assert [m.author_name for m in result.mentions] == ["Ola"]
    assert len(result.skipped) == 1 and "JSON-LD block 1 is broken" in result.skipped[0]


def test_truncated_page_yields_nothing_and_says_why():
    result = parse_review_page(page("reviews/truncated.html"), f"{BASE}/reviews/truncated.html")
    assert result.mentions == [] and "broken" in result.skipped[0]


def test_empty_page_is_malformed():
    with pytest.raises(MalformedPage):
        parse_review_page("  ", f"{BASE}/empty")


def test_data_hook_profile_for_pages_without_schema_org():
    text = page("reviews/datahook.html")
    assert parse_review_page(text, f"{BASE}/d").mentions == []
    result = parse_without_schema(parse_html(text), f"{BASE}/d", source="review", brands=["Nimbus"])
    reviews = by_author(result)
    assert reviews["J. Park"].rating == 4.0 and reviews["J. Park"].title == "Handy abroad"
    assert reviews["J. Park"].text == "Used the Nimbus card in Seoul,\nno foreign transaction fees."
    assert reviews["J. Park"].score == 1 and reviews["J. Park"].extra["country"] == "United States"
    assert reviews["Dana"].published_at == datetime(2024, 2, 28, tzinfo=UTC) and reviews["Dana"].score == 3
    assert reviews["Dana"].native_id == "R2NIMBUS0000A2"
    assert result.info["aggregate"] == {"rating": 3.0, "count": 2418}


def test_next_page_by_rel_or_by_label():
    tree = parse_html('<html><body><a href="/p?page=2" class="pagination-next">›</a></body></html>')
    assert next_page_url(tree, f"{BASE}/p") == f"{BASE}/p?page=2"
    tree = parse_html('<html><body><a href="/q/2">التالي</a><a href="#">Next</a></body></html>')
    assert next_page_url(tree, f"{BASE}/q/1") == f"{BASE}/q/2"
    assert next_page_url(parse_html("<html><body><a href='/x'>About</a></body></html>"), BASE) is None


# ------------------------------------------------------------------ Trustpilot


def test_trustpilot_next_data_reviews_replies_and_pagination():
    url = f"{BASE}/trustpilot/review/nimbus.example"
    result = parse_trustpilot_page(page("trustpilot/nimbus-p1.html"), url, brands=["Nimbus"])
    reviews = {m.native_id: m for m in result.mentions}
    assert len(reviews) == 3
    first = reviews["6650a1f0c2b4e1a9d0000001"]
    assert (first.rating, first.author_name, first.lang, first.score) == (1.0, "Maya Lindqvist", "en", 4)
    assert first.published_at == datetime(2024, 5, 24, 8, 15, tzinfo=UTC)
    assert first.company_reply.startswith("Hi Maya, we're sorry")
    assert first.text == "Tried for three days to log in to Nimbus. The SMS code never comes,\nand support keeps " \
                         "sending the same template."
    assert first.url == f"{BASE}/reviews/6650a1f0c2b4e1a9d0000001"
    assert reviews["6650a1f0c2b4e1a9d0000003"].lang == "fa" and reviews["6650a1f0c2b4e1a9d0000003"].company_reply is None
    assert result.next_url == f"{url}?page=2"
    assert result.info["business"]["name"] == "Nimbus"


def test_trustpilot_pages_on_until_the_last_page():
    result = parse_trustpilot_page(page("trustpilot/nimbus-p2.html"), f"{BASE}/r?page=2")
    assert len(result.mentions) == 2 and result.next_url == f"{BASE}/r?page=3"
    last = page("trustpilot/nimbus-p2.html").replace('"totalPages": 3', '"totalPages": 2')
    assert parse_trustpilot_page(last, f"{BASE}/r?page=2").next_url is None


def test_trustpilot_truncated_page_is_malformed():
    with pytest.raises(MalformedPage, match="__NEXT_DATA__ is not JSON"):
        parse_trustpilot_page(page("trustpilot/nimbus-p3-truncated.html"), f"{BASE}/r?page=3")


def test_trustpilot_falls_back_to_json_ld_with_the_same_ids():
    result = parse_trustpilot_page(page("trustpilot/nimbus-cards-jsonld.html"), f"{BASE}/review/nimbus-cards.example")
    assert sorted(m.native_id for m in result.mentions) == ["6651b2a0d3c5f2b0e0000011", "6651b2a0d3c5f2b0e0000012"]
    assert {m.author_name: m.rating for m in result.mentions} == {"Hannah Weber": 5.0, "Marco Bianchi": 2.0}


def test_with_page():
    assert with_page("https://x/review/a?languages=all", 3) == "https://x/review/a?languages=all&page=3"
    assert with_page("https://x/review/a?page=3", 1) == "https://x/review/a"


# ------------------------------------------------------------------ App Store


def test_appstore_feed_skips_the_app_entry_and_pages_on():
    base = f"{BASE}/itunes"
    result = parse_appstore_feed((SITES / "appstore/nimbus-us-p1.json").read_bytes(), app_id="1488000001",
                                 country="us", page=1, base=base, brands=["Nimbus"])
    assert [m.native_id for m in result.mentions] == ["10987650001", "10987650002", "10987650003"]
    first = result.mentions[0]
    assert (first.rating, first.author_name, first.title, first.score) == (1.0, "frustrated_fin", "Locked out after update", 2)
    assert first.published_at == datetime(2024, 5, 25, 4, 3, 44, tzinfo=UTC)
    assert first.extra["app_version"] == "5.12.0"
    assert result.next_url == feed_url(base, "1488000001", "us", 2)


def test_appstore_single_entry_object_and_last_page():
    result = parse_appstore_feed((SITES / "appstore/nimbus-us-p2.json").read_bytes(), app_id="1488000001",
                                 country="us", page=2, base=BASE)
    assert [m.native_id for m in result.mentions] == ["10987650004"] and result.next_url is None


def test_appstore_empty_and_broken_feeds():
    empty = json.dumps({"feed": {"author": {}, "link": []}})
    assert parse_appstore_feed(empty, app_id="1", country="us", page=3, base=BASE).next_url is None
    with pytest.raises(MalformedPage):
        parse_appstore_feed((SITES / "appstore/nimbus-gb-p1-broken.json").read_bytes(), app_id="1488000002",
                            country="gb", page=1, base=BASE)


# ------------------------------------------------------------------ Google Play


def test_play_page_reviews_in_new_and_old_data_blocks_with_reply():
    url = f"{BASE}/play/store/apps/details?id=com.nimbus.wallet&hl=en"
    result = parse_play_page(page("play/com.nimbus.wallet.html"), url, package="com.nimbus.wallet", brands=["Nimbus"])
    reviews = {m.author_name: m for m in result.mentions}
    assert set(reviews) == {"Daniel Moreau", "Fatemeh Rahimi", "Chris P", "Youssef Amrani"}  # broken block ignored
    daniel = reviews["Daniel Moreau"]
    assert (daniel.rating, daniel.score, daniel.published_at) == (2.0, 31, datetime(2024, 5, 24, 9, 12, tzinfo=UTC))
    assert daniel.company_reply.startswith("Hi Daniel, sorry for the trouble.")
    assert daniel.extra["app_version"] == "5.12.0"
    assert result.info["title"] == "Nimbus: Wallet & Transfers" and result.info["developer"] == "Nimbus Labs"
    assert (result.info["rating"], result.info["votes"]) == (4.2, 48213)


def test_play_non_app_page_is_malformed():
    with pytest.raises(MalformedPage):
        parse_play_page("<html><body></body></html>", f"{BASE}/x", package="x")


# ------------------------------------------------------------------ feeds and articles


def feed_bytes(name: str) -> bytes:
    return (SITES / name).read_bytes().replace(b"{{base}}", BASE.encode())


def test_rss_entries_unwrapped_and_cleaned():
    feed = parse_feed(feed_bytes("feeds/fintech.rss"), f"{BASE}/feeds/fintech.rss")
    assert feed.title == "Fintech Daily" and len(feed.entries) == 4 and "no link" in feed.skipped[0]
    first = feed.entries[0]
    assert first.url == f"{BASE}/news/nimbus-outage.html"  # utm_* removed
    assert (first.entry_id, first.author) == ("fintech-daily-1001", "Ana Ortiz")
    assert first.published == datetime(2024, 5, 21, 9, 0, tzinfo=UTC)
    assert feed.entries[1].summary == "A leaked memo suggests Nimbus will raise fees for international transfers from July."


def test_google_alerts_atom_links_are_unwrapped():
    feed = parse_feed(feed_bytes("feeds/alerts.atom"), f"{BASE}/feeds/alerts.atom")
    assert [e.url for e in feed.entries] == [f"{BASE}/blog/nimbus-six-months.html", f"{BASE}/news/nimbus-outage.html"]
    assert feed.entries[0].title == "Nimbus wallet review: six months in" and feed.entries[0].author is None


def test_not_a_feed_and_broken_xml():
    with pytest.raises(MalformedPage, match="not RSS or Atom"):
        parse_feed((SITES / "feeds/not-a-feed.html").read_bytes(), BASE)
    with pytest.raises(MalformedPage):
        parse_feed(b"", BASE)
    # recover mode: a cut-off feed still gives its complete entries
    cut = feed_bytes("feeds/fintech.rss")
    cut = cut[:cut.index(b"<title>Markets")]
    assert len(parse_feed(cut, BASE).entries) >= 2


def test_canonical_url():
    assert canonical_url("https://www.google.com/url?rct=j&url=https://a.example/x?id=1%26utm_source=z&usg=1") == \
        "https://a.example/x?id=1"
    assert canonical_url("https://a.example/x?utm_medium=rss&b=2#frag") == "https://a.example/x?b=2"


def test_forum_thread_posts_become_a_thread():
    url = f"{BASE}/forum/t/nimbus-transfer-stuck/4411"
    result = parse_article_page(page("forum/discourse-4411.html"), url, brands=["Nimbus"])
    assert result.info["kind"] == "posts"
    root, *replies = result.mentions
    assert (root.author_name, root.title, root.score, root.replies) == \
        ("kofi_m", "Nimbus transfer stuck on pending for 3 days", 5, 2)
    assert root.thread_id is None and root.native_id == f"{url}#post-1"
    assert [r.author_name for r in replies] == ["lena_b", "nimbus_support"]
    assert all(r.thread_id == root.id and r.parent_id == root.id for r in replies)
    assert replies[1].published_at == datetime(2024, 5, 20, 11, 5, tzinfo=UTC)


def test_article_main_text_without_boilerplate():
    url = f"{BASE}/blog/nimbus-tips.html"
    result = parse_article_page(page("blog/nimbus-tips.html"), url)
    [article] = result.mentions
    assert article.title == "Five Nimbus settings you should change today"
    assert article.text.startswith("Turn on transaction notifications")
    assert "All rights reserved" not in article.text and "Most read" not in article.text
    assert article.author_name == "Omar Haddad" and article.published_at.date().isoformat() == "2024-04-02"


def test_page_without_text_is_reported():
    result = parse_article_page(page("feeds/not-a-feed.html"), BASE)
    assert result.mentions == [] and result.skipped == ["no main text on the page"]

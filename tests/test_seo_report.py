"""Rank history, the check loop's cache and quota, the outrank report and its negative exposure, changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from demo.servers.serp import SerpServer, serp_item
from listener.config import Project
from listener.model import Mention, Sentiment
from listener.pipeline import host_of
from listener.seo.check import check_questions
from listener.seo.changes import question_changes
from listener.seo.ctr import ctr
from listener.seo.history import RankHistory
from listener.seo.model import SerpPage, SerpResult
from listener.seo.questions import questions_of
from listener.seo.report import outrank_report
from listener.seo.settings import SeoSettings

OWN = "https://help.nimbus.example/articles/reset-password"
REDDIT = "https://www.reddit.com/r/nimbuswallet/comments/abc123/cant_reset_password/"
REVIEWS = "https://www.trustpilot.com/review/nimbus.example"
FORUM = "https://forum.example.org/t/nimbus-password-loop/5120"
ORBIT = "https://orbitpay.com/help/reset"
PROJECT = Project.model_validate({
    "brand": [{"name": "Nimbus", "query": "nimbus", "help_center": "https://help.nimbus.example",
               "own_domains": ["nimbus.example"]},
              {"name": "Orbit", "query": "orbit", "competitor": True, "own_domains": ["orbitpay.com"]}],
    "serp": [{"question": "nimbus reset password", "brand": "Nimbus", "own_page": OWN}],
})
QUESTION = questions_of(PROJECT)[0]
T0 = datetime(2026, 11, 20, 8, tzinfo=timezone.utc)


def page_of(*urls: str, at: datetime = T0) -> SerpPage:
    return SerpPage(engine="test", query=QUESTION.text, fetched_at=at,
                    results=[SerpResult(position=n, url=u, title=f"title {n}") for n, u in enumerate(urls, 1)])


def mention(url: str, label: str, score: float, n: int, topics=("account_access",)) -> Mention:
    # as the pipeline stores it: the domain filled from the URL
    return Mention(source="forum", native_id=f"{url}#post-{n}", url=url, domain=host_of(url),
                   text=f"post {n} about nimbus", published_at=T0, sentiment=Sentiment(label=label, score=score),
                   topics=list(topics))


@pytest.fixture
def history(tmp_path):
    with RankHistory(tmp_path / "listener.db") as opened:
        yield opened


def test_report_lists_third_party_pages_above_the_own_page_with_their_negativity(history, sqlite_store):
    history.record(QUESTION.key, "Nimbus", page_of(REDDIT, ORBIT, REVIEWS, FORUM, OWN, "https://x.example/a"))
    sqlite_store.upsert([mention(REDDIT, "negative", 0.9, 1), mention(REDDIT, "negative", 0.7, 2),
                         mention(REDDIT, "positive", 0.8, 3, topics=("payments",)),
                         mention(REVIEWS, "neutral", 0.6, 1),
                         mention("https://www.reddit.com/r/other/comments/zzz/unrelated/", "negative", 0.99, 9)])
    [row] = outrank_report([QUESTION], history, sqlite_store)
    assert row.status == "ok" and row.own_position == 5 and row.own_on_page_one
    assert [(p.position, p.url, p.kind) for p in row.outranking] == [
        (1, REDDIT, "forum"), (3, REVIEWS, "review"), (4, FORUM, "forum")]  # Orbit (#2) is a competitor
    reddit, reviews, forum = row.outranking
    assert reddit.mentions == 3 and reddit.negativity == pytest.approx((0.9 + 0.7) / 3, abs=1e-4)
    assert reddit.sentiment == "negative" and reddit.topics[0] == "account_access"
    assert reviews.negativity == 0.0 and forum.negativity is None and forum.mentions == 0
    assert row.negative_exposure == pytest.approx(ctr(1) * (1.6 / 3), abs=1e-4)
    assert row.unscored_weight == pytest.approx(ctr(4), abs=1e-4)


def test_a_thread_whose_first_post_carries_another_url_counts_whole(history, sqlite_store):
    history.record(QUESTION.key, "Nimbus", page_of(FORUM, OWN))
    root = mention("https://forum.example.org/t/canonical-slug/5120", "negative", 0.8, 1)
    reply = mention(FORUM, "negative", 0.6, 2).model_copy(update={"thread_id": root.id})
    sqlite_store.upsert([root, reply])
    [row] = outrank_report([QUESTION], history, sqlite_store)
    assert row.outranking[0].mentions == 2 and row.outranking[0].negativity == pytest.approx(0.7)


def test_a_review_sites_company_page_reads_as_the_brands_latest_reviews_there(history, sqlite_store):
    history.record(QUESTION.key, "Nimbus", page_of(REVIEWS, OWN))
    review = Mention(source="trustpilot", native_id="r1", url="https://www.trustpilot.com/reviews/r1",
                     domain="trustpilot.com", text="nimbus froze my money", published_at=T0, brands=["Nimbus"],
                     sentiment=Sentiment(label="negative", score=0.9))
    other_brand = review.model_copy(update={"id": "", "native_id": "r2", "brands": ["Orbit"]})
    sqlite_store.upsert([review, Mention.model_validate(other_brand.model_dump(exclude={"id"}))])
    [row] = outrank_report([QUESTION], history, sqlite_store)
    [page] = row.outranking
    assert page.matched_by == "site" and page.mentions == 1 and page.negativity == pytest.approx(0.9)


def test_own_page_missing_means_every_third_party_result_outranks_it(history):
    history.record(QUESTION.key, "Nimbus", page_of(REDDIT, "https://nimbus.example/blog/x", FORUM))
    [row] = outrank_report([QUESTION], history, None)
    assert row.own_position is None and not row.own_on_page_one
    assert [p.url for p in row.outranking] == [REDDIT, FORUM]  # own blog is "own other", not third-party


def test_unchecked_question_says_so(history):
    [row] = outrank_report([QUESTION], history, None)
    assert row.status == "not checked" and row.outranking == []


def test_changes_over_time(history):
    history.record(QUESTION.key, "Nimbus", page_of(OWN, REDDIT, FORUM))
    history.record(QUESTION.key, "Nimbus", page_of(REDDIT, OWN, FORUM, at=T0 + timedelta(days=1)))
    history.record(QUESTION.key, "Nimbus", page_of(*[f"https://s{n}.example/" for n in range(11)], OWN,
                                                     at=T0 + timedelta(days=2)))
    changes = question_changes(QUESTION, history.checks(QUESTION.key))
    kinds = [(c.at.day, c.kind) for c in changes]
    assert (21, "own_moved") in kinds and (21, "third_party_overtook") in kinds
    overtook = next(c for c in changes if c.kind == "third_party_overtook")
    assert overtook.url == REDDIT and (overtook.before, overtook.after) == (2, 1)
    assert (22, "own_left_page_one") in kinds
    assert [c.kind for c in changes].count("own_left_page_one") == 1


def test_check_records_classified_results_and_caches_within_the_interval(history):
    answers = {QUESTION.text: [serp_item(REDDIT, "Locked out"), serp_item(OWN, "Reset your password")]}
    with SerpServer(answers) as server:
        seo = SeoSettings.from_env({"LISTENER_SERP_PROVIDER": "searxng", "LISTENER_SERP_URL": server.base_url,
                                    "LISTENER_SERP_INTERVAL": "6h"})
        first = check_questions([QUESTION], history, seo, now=T0)
        again = check_questions([QUESTION], history, seo, now=T0 + timedelta(hours=2))
        later = check_questions([QUESTION], history, seo, now=T0 + timedelta(hours=7))
        forced = check_questions([QUESTION], history, seo, now=T0 + timedelta(hours=8), force=True)
        searches = len(server.requests)
    assert first.checked == [QUESTION.key] and again.cached == [QUESTION.key] and again.requests == 0
    assert later.checked and forced.checked and searches == 3
    latest = history.latest(QUESTION.key).page
    assert [(r.url, r.category, r.kind) for r in latest.results] == [(REDDIT, "third_party", "forum"),
                                                                     (OWN, "own_self_service", None)]


def test_daily_quota_stops_before_the_provider_is_asked(history):
    with SerpServer({}) as server:
        seo = SeoSettings.from_env({"LISTENER_SERP_PROVIDER": "searxng", "LISTENER_SERP_URL": server.base_url,
                                    "LISTENER_SERP_DAILY_QUOTA": "1"})
        first = check_questions([QUESTION], history, seo, now=T0)
        second = check_questions([QUESTION], history, seo, now=T0 + timedelta(hours=1), force=True)
        next_day = check_questions([QUESTION], history, seo, now=T0 + timedelta(days=1), force=True)
        asked = len(server.requests)
    assert first.ok and not second.ok and "quota" in second.failed[QUESTION.key]
    assert next_day.ok and asked == 2


def test_a_blocked_question_fails_alone_and_records_nothing(history):
    with SerpServer({QUESTION.text: [serp_item(OWN, "x")]}, blocked=True) as server:
        seo = SeoSettings.from_env({"LISTENER_SERP_PROVIDER": "duckduckgo", "LISTENER_SERP_URL": server.base_url})
        report = check_questions([QUESTION], history, seo, now=T0)
    assert report.failed[QUESTION.key].startswith("captcha:")
    assert history.latest(QUESTION.key) is None  # never stored as zero results

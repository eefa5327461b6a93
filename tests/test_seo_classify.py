"""Classification of results for a question: own self-service, own other, competitor, third-party by kind."""

from __future__ import annotations

import pytest

from listener.config import Project
from listener.seo.classify import classify_result, registrable_domain, third_party_kind
from listener.seo.model import SerpResult
from listener.seo.questions import Location, find_question, questions_of

PROJECT = Project.model_validate({
    "brand": [
        {"name": "Nimbus", "query": "nimbus", "own_domains": ["nimbus.co.uk", "status.nimbus.example"],
         "help_center": "https://help.nimbus.example"},
        {"name": "Orbit", "query": "orbit", "competitor": True, "own_domains": ["orbitpay.com"]},
        {"name": "Other", "query": "other"},  # not a competitor: its pages are third-party
    ],
    "serp": [{"question": "nimbus reset password", "brand": "Nimbus",
              "own_page": "https://nimbus.co.uk/support/reset-password",
              "self_service": ["community.nimbus.co.uk", "https://nimbus.co.uk/faq/"], "lang": "en", "country": "gb"},
             {"question": "بازیابی رمز نیمبوس", "brand": "Nimbus", "lang": "fa", "country": "ir"}],
})


@pytest.fixture
def question():
    return questions_of(PROJECT)[0]


@pytest.mark.parametrize("url, category", [
    ("https://help.nimbus.example/articles/1", "own_self_service"),  # the help center
    ("https://nimbus.co.uk/support/reset-password", "own_self_service"),  # own_page
    ("https://nimbus.co.uk/support/reset-password/", "own_self_service"),
    ("https://www.nimbus.co.uk/faq/cards", "own_self_service"),  # a self_service prefix, www. ignored
    ("https://community.nimbus.co.uk/t/1", "own_self_service"),  # a self_service domain
    ("https://nimbus.co.uk/support/reset-password-old", "own_other"),  # a prefix is a path segment, not a string
    ("https://nimbus.co.uk/blog/news", "own_other"),
    ("https://status.nimbus.example/", "own_other"),
    ("https://app.orbitpay.com/help", "competitor"),
    ("https://www.reddit.com/r/nimbus/comments/1/x/", "third_party"),
    ("https://nimbus.co.uk.evil.example/support/reset-password", "third_party"),  # not a subdomain of ours
])
def test_categories(question, url, category):
    assert classify_result(question, SerpResult(position=1, url=url)).category == category


@pytest.mark.parametrize("url, feature, kind", [
    ("https://www.reddit.com/r/nimbus/comments/1/x/", "organic", "forum"),
    ("https://old.reddit.com/r/nimbus/", "organic", "forum"),
    ("https://uk.trustpilot.com/review/nimbus.co.uk", "organic", "review"),
    ("https://www.youtube.com/watch?v=1", "organic", "video"),
    ("https://www.quora.com/How-do-I-reset-Nimbus", "organic", "qa"),
    ("https://forum.example.org/t/nimbus-loop/5120", "organic", "forum"),  # Discourse on any domain
    ("https://example.net/community/threads/nimbus.44/", "organic", "forum"),
    ("https://www.bbc.co.uk/news/business-1", "organic", "news"),
    ("https://blog.example.com/2026/11/nimbus-outage", "organic", "news"),
    ("https://example.net/some/page", "discussion", "forum"),  # Google's discussions box says so
    ("https://example.net/some/page", "organic", "other"),
])
def test_third_party_kinds(url, feature, kind):
    assert third_party_kind(url, feature) == kind


def test_registrable_domain_uses_the_bundled_suffix_list_offline():
    assert registrable_domain("https://www.forum.acme.co.uk/x") == "acme.co.uk"
    assert registrable_domain("user.github.io") in ("user.github.io", "github.io")
    assert registrable_domain("http://127.0.0.1:8080/x") == "127.0.0.1"


def test_questions_carry_market_and_locations(question):
    assert (question.lang, question.country, question.key) == ("en", "gb", "nimbus reset password [en-gb]")
    assert Location("help.nimbus.example", "/") in question.self_service
    assert set(question.competitors) == {"Orbit"}  # "Other" is no competitor
    persian = find_question(questions_of(PROJECT), "بازیابی  رمز نیمبوس")  # spacing does not matter
    assert [q.lang for q in persian] == ["fa"]


def test_bad_serp_entries_are_refused_with_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="own_page"):
        Project.model_validate({"brand": [{"name": "A", "query": "a"}],
                                "serp": [{"question": "a help", "brand": "A", "own_page": "help.a.com"}]})
    with pytest.raises(ValidationError, match="country"):
        Project.model_validate({"brand": [{"name": "A", "query": "a"}],
                                "serp": [{"question": "a help", "brand": "A", "country": "USA"}]})

"""Classify search results for a question: the brand's self-service page, its other sites, a competitor's, or a
third-party page by kind (forum, review site, video, Q&A, news, social, other).

Domains are compared by registrable domain (tldextract with its bundled public suffix list: no network at run
time, so "forum.acme.co.uk" is under "acme.co.uk", not "co.uk").
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from listener.seo.model import SerpPage, SerpResult
from listener.seo.questions import Question

# suffix_list_urls=() keeps tldextract from fetching the list; it uses the snapshot shipped with the package.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

#: Registrable domains whose pages are of one kind. Kept short on purpose: the big sites that dominate
#: "brand + problem" searches; anything else falls back to the URL patterns below, then "other".
KNOWN_DOMAINS: dict[str, str] = {
    **dict.fromkeys(["reddit.com", "redd.it", "discourse.org", "tapatalk.com", "xda-developers.com",
                     "proboards.com"], "forum"),
    **dict.fromkeys(["trustpilot.com", "sitejabber.com", "g2.com", "capterra.com", "yelp.com", "bbb.org",
                     "productreview.com.au", "reviews.io", "consumeraffairs.com", "pissedconsumer.com",
                     "glassdoor.com", "trustradius.com", "complaintsboard.com"], "review"),
    **dict.fromkeys(["youtube.com", "youtu.be", "vimeo.com", "tiktok.com", "dailymotion.com", "aparat.com"],
                    "video"),
    **dict.fromkeys(["quora.com", "stackexchange.com", "stackoverflow.com", "superuser.com", "answers.com",
                     "askubuntu.com", "ninisite.com"], "qa"),
    **dict.fromkeys(["nytimes.com", "bbc.co.uk", "bbc.com", "reuters.com", "theguardian.com", "cnbc.com",
                     "techcrunch.com", "theverge.com", "bloomberg.com", "forbes.com", "cnn.com",
                     "aljazeera.net", "aljazeera.com"], "news"),
    **dict.fromkeys(["twitter.com", "x.com", "facebook.com", "instagram.com", "linkedin.com", "threads.net",
                     "t.me"], "social"),
}
# Path and host patterns of software that sites run on their own domains (Discourse, phpBB, vBulletin, ...).
_FORUM_URL = re.compile(r"(^|[./])(forums?|community|communities|discuss|discussions?|boards?)[./]|/t/[^/]+/\d+|"
                        r"/threads?/|/topic/|viewtopic\.php|showthread\.php", re.I)
_QA_URL = re.compile(r"(^|[./])(answers?|ask)[./]|/questions?/\d+", re.I)
_REVIEW_URL = re.compile(r"(^|[./])reviews?[./-]|/reviews?(/|$)", re.I)
_NEWS_URL = re.compile(r"(^|[./])news[./]|/news/|/20\d\d/\d\d/", re.I)
_FEATURE_KIND = {"video": "video", "discussion": "forum"}


@lru_cache(maxsize=4096)
def registrable_domain(url_or_host: str) -> str:
    """'https://www.forum.acme.co.uk/x' -> 'acme.co.uk'; a bare host works too; an IP or 'localhost' as is."""
    host = urlsplit(url_or_host).hostname if "://" in url_or_host else url_or_host.split("/")[0]
    host = (host or "").lower().rstrip(".")
    parts = _EXTRACT(host)
    return parts.top_domain_under_public_suffix or host


def third_party_kind(url: str, feature: str = "organic") -> str:
    """What kind of third-party page a URL is: forum, review, video, qa, news, social or other."""
    known = KNOWN_DOMAINS.get(registrable_domain(url))
    if known:
        return known
    if feature in _FEATURE_KIND:
        return _FEATURE_KIND[feature]
    address = url.split("://", 1)[-1]
    for pattern, kind in ((_FORUM_URL, "forum"), (_QA_URL, "qa"), (_REVIEW_URL, "review"), (_NEWS_URL, "news")):
        if pattern.search(address):
            return kind
    return "other"


def classify_result(question: Question, result: SerpResult) -> SerpResult:
    """The result with its category, kind and registrable domain filled in (a copy)."""
    domain = registrable_domain(result.url)
    if any(loc.matches(result.url) for loc in question.self_service):
        category, kind = "own_self_service", None
    elif any(loc.matches(result.url) for loc in question.own_other):
        category, kind = "own_other", None
    elif any(loc.matches(result.url) for locs in question.competitors.values() for loc in locs):
        category, kind = "competitor", None
    else:
        category, kind = "third_party", third_party_kind(result.url, result.feature)
    return result.model_copy(update={"category": category, "kind": kind, "domain": domain})


def classify_page(question: Question, page: SerpPage) -> SerpPage:
    return page.model_copy(update={"results": [classify_result(question, r) for r in page.results]})

"""Trustpilot company review pages (www.trustpilot.com/review/<domain>?page=N).

The page is rendered by Next.js and carries its data in `<script id="__NEXT_DATA__">`:
props.pageProps.reviews[] (id, title, text, rating, dates.publishedDate, consumer.displayName,
language, likes, reply.message) and props.pageProps.filters.pagination (currentPage, totalPages).
When that block is missing or broken, the page's schema.org JSON-LD is read instead (it has the
reviews without the company replies).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from listener.model import Mention
from spiders.parse import MalformedPage, ParseResult
from spiders.parse.dates import parse_date
from spiders.parse.numbers import parse_count, parse_rating
from spiders.parse.schemaorg import next_page_url, parse_html, parse_review_page
from spiders.parse.text import clean_text, first

SOURCE = "trustpilot"
_JSONLD_REVIEW_ID = re.compile(r"/Review/[^/]+/([0-9a-f]{24})$")


def with_page(url: str, page: int) -> str:
    """The URL of page N of a review list (?page=N; page 1 has no parameter)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"]
    if page > 1:
        query.append(("page", str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def review_to_mention(review: dict, page_url: str, brands: Iterable[str]) -> Mention:
    review_id = review.get("id")
    if not review_id:
        raise ValueError("review without an id")
    published = parse_date(first(_get(review, "dates", "publishedDate"), _get(review, "dates", "submittedDate")))
    if published is None:
        raise ValueError(f"review {review_id}: no readable date")
    reply = review.get("reply") or {}
    extra: dict[str, Any] = {}
    if _get(review, "dates", "experiencedDate"):
        extra["experienced"] = _get(review, "dates", "experiencedDate")
    if _get(review, "consumer", "countryCode"):
        extra["country"] = _get(review, "consumer", "countryCode")
    if _get(review, "labels", "verification", "isVerified") is not None:
        extra["verified"] = bool(_get(review, "labels", "verification", "isVerified"))
    if isinstance(reply, dict) and reply.get("publishedDate"):
        extra["reply_at"] = reply["publishedDate"]
    lang = review.get("language")
    return Mention(
        source=SOURCE, native_id=str(review_id), url=urljoin(page_url, f"/reviews/{review_id}"),
        author_name=clean_text(_get(review, "consumer", "displayName")) or None,
        title=clean_text(review.get("title")) or None, text=clean_text(review.get("text")),
        lang=lang if isinstance(lang, str) and 2 <= len(lang) <= 3 else None,
        published_at=published, rating=parse_rating(review.get("rating")),
        score=parse_count(review.get("likes")),
        company_reply=(clean_text(reply.get("message")) or None) if isinstance(reply, dict) else None,
        brands=list(brands), extra=extra,
    )


def _with_review_id(mention: Mention, page_url: str) -> Mention:
    match = _JSONLD_REVIEW_ID.search(mention.native_id or "")
    if not match:
        return mention
    data = mention.model_dump(exclude={"id", "author_id"})
    data.update(native_id=match.group(1), url=urljoin(page_url, f"/reviews/{match.group(1)}"))
    return Mention(**data)


def parse_trustpilot_page(text: str, url: str, brands: Iterable[str] = ()) -> ParseResult:
    """Reviews, company replies and the next page of one Trustpilot review page."""
    tree = parse_html(text)
    scripts = tree.xpath('//script[@id="__NEXT_DATA__"]')
    data, problem = None, None
    if scripts:
        try:
            data = json.loads(scripts[0].text_content())
        except ValueError as err:
            problem = f"__NEXT_DATA__ is not JSON ({err})"
        except RecursionError:
            problem = "__NEXT_DATA__ is nested too deeply to read"
    page_props = _get(data, "props", "pageProps")
    reviews = page_props.get("reviews") if isinstance(page_props, dict) else None
    if not isinstance(reviews, list):
        # No usable Next.js data: the JSON-LD copy, if the page has one.
        fallback = parse_review_page(text, url, source=SOURCE, brands=brands)
        if not fallback.mentions:
            raise MalformedPage(problem or "no review data (__NEXT_DATA__ or JSON-LD)")
        # JSON-LD ids look like https://www.trustpilot.com/#/schema/Review/<domain>/<review id>: keep the
        # review id, so a review has one id whichever copy of the data it was read from.
        fallback.mentions = [_with_review_id(m, url) for m in fallback.mentions]
        if problem:
            fallback.info["problem"] = problem
        return fallback
    result = ParseResult()
    for review in reviews:
        if not isinstance(review, dict):
            result.skipped.append("review entry is not an object")
            continue
        try:
            result.mentions.append(review_to_mention(review, url, brands))
        except ValueError as err:
            result.skipped.append(str(err).splitlines()[0][:200])
    pagination = _get(page_props, "filters", "pagination")
    pagination = pagination if isinstance(pagination, dict) else {}
    current, total = pagination.get("currentPage"), pagination.get("totalPages")
    if isinstance(current, int) and isinstance(total, int):
        result.next_url = with_page(url, current + 1) if current < total else None
    else:
        result.next_url = next_page_url(tree, url)
    unit = page_props.get("businessUnit") or {}
    if isinstance(unit, dict) and unit:
        result.info["business"] = {"name": unit.get("displayName"), "reviews": unit.get("numberOfReviews"),
                                   "trust_score": unit.get("trustScore")}
    return result

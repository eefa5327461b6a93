"""Reviews from pages that carry no schema.org markup, by well-known review-list markup conventions.

The generic review spider tries schema.org first (spiders.parse.schemaorg) and these profiles only when
that finds nothing. Each profile is one pure function `tree, url -> ParseResult`, tried in order, so a
new convention is one more function in PROFILES.

- `data_hook`: lists marked with data-hook attributes (review, review-title, review-date,
  review-body, review-star-rating, helpful-vote-statement), as large marketplaces such as Amazon render
  them ("Reviewed in the United States on August 2, 2021", "5.0 out of 5 stars", "21,200 global ratings").
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import lxml.html

from listener.model import Mention, stable_hash
from spiders.parse import ParseResult
from spiders.parse.dates import parse_date
from spiders.parse.numbers import parse_count, parse_rating
from spiders.parse.text import clean_text

_ONE = re.compile(r"^\s*(one|a|un|une|ein|eine|uno|una|um|een)\b", re.IGNORECASE)
_REVIEWED_IN = re.compile(r"^.*?\bin\s+(?:the\s+)?(.+?)\s+on\s+.+$", re.IGNORECASE)


def _text(element: lxml.html.HtmlElement | None) -> str:
    if element is None:
        return ""
    for junk in element.xpath(".//script|.//style|.//*[contains(@class,'a-icon-alt')]"
                              "|.//*[contains(@class,'a-expander-header')]"):
        junk.drop_tree()
    parts: list[str] = []
    for node in element.iter():
        if node.tag == "br":
            parts.append("\n")
        if node.text and node.tag not in ("script", "style"):
            parts.append(node.text)
        if node is not element and node.tail:
            parts.append(node.tail)
    return clean_text("".join(parts))


def _one(element: lxml.html.HtmlElement, xpath: str) -> lxml.html.HtmlElement | None:
    found = element.xpath(xpath)
    return found[0] if found else None


def data_hook(tree: lxml.html.HtmlElement, url: str, *, source: str, brands: Iterable[str] = ()) -> ParseResult:
    result = ParseResult()
    blocks = tree.xpath('//*[@data-hook="review"]')
    if not blocks:
        return result
    for block in blocks:
        rating_el = _one(block, './/*[@data-hook="review-star-rating" or @data-hook="cmps-review-star-rating"]'
                                '//*[contains(@class,"a-icon-alt")]')
        rating = parse_rating(rating_el.text_content()) if rating_el is not None else None
        author = _text(_one(block, './/*[contains(@class,"a-profile-name")]')) or None
        date_text = _text(_one(block, './/*[@data-hook="review-date"]'))
        title = _text(_one(block, './/*[@data-hook="review-title"]'))
        body = _text(_one(block, './/*[@data-hook="review-body"]'))
        helpful = _text(_one(block, './/*[@data-hook="helpful-vote-statement"]'))
        published = parse_date(date_text, languages=None)
        native_id = block.get("id") or "h:" + stable_hash(author or "", date_text, body[:300])
        if published is None:
            result.skipped.append(f"review {native_id}: no readable date ({date_text!r})")
            continue
        votes = 1 if helpful and _ONE.match(helpful) else parse_count(helpful)
        country = _REVIEWED_IN.match(date_text)
        extra = {"country": country.group(1)} if country else {}
        if block.xpath('.//*[@data-hook="avp-badge" or @data-hook="avp-badge-linkless"]'):
            extra["verified_purchase"] = True
        try:
            result.mentions.append(Mention(
                source=source, native_id=native_id, url=url, author_name=author, title=title or None,
                text=body, published_at=published, rating=rating, score=votes, brands=list(brands), extra=extra))
        except ValueError as err:
            result.skipped.append(f"review {native_id}: {str(err).splitlines()[0]}")
    average = _one(tree, '//*[@data-hook="average-star-rating" or @data-hook="rating-out-of-text"]')
    total = _one(tree, '//*[@data-hook="total-review-count"]')
    aggregate = {"rating": parse_rating(average.text_content()) if average is not None else None,
                 "count": parse_count(_text(total)) if total is not None else None}
    if any(v is not None for v in aggregate.values()):
        result.info["aggregate"] = aggregate
    return result


PROFILES: list[Callable[..., ParseResult]] = [data_hook]


def parse_without_schema(tree: lxml.html.HtmlElement, url: str, *, source: str,
                         brands: Iterable[str] = ()) -> ParseResult:
    """The first profile that finds reviews on this page (an empty result when none does)."""
    for profile in PROFILES:
        result = profile(tree, url, source=source, brands=brands)
        if result.mentions or result.skipped:
            return result
    return ParseResult()

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
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html

from listener.model import Mention, stable_hash
from spiders.parse import ParseResult
from spiders.parse.dates import parse_date
from spiders.parse.numbers import parse_count, parse_rating
from spiders.parse.schemaorg import next_page_url
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
        # comments and processing instructions have a non-string tag; their text is not on the page
        # ("<!-- 5 -->2,345 global ratings" read as 5 before)
        if node.text and isinstance(node.tag, str) and node.tag not in ("script", "style"):
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
        # "One person found this helpful" has no digit; "A 3 personas les ha parecido esto útil" starts with
        # the Spanish "A" (to) but has its number
        votes = parse_count(helpful)
        if votes is None and helpful and _ONE.match(helpful):
            votes = 1
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
    result.next_url = next_list_page(tree, url)
    return result


_PAGE_PARAMS = ("pageNumber", "page", "pageNo", "p", "pg")


def _page_number(url: str) -> tuple[str, int] | None:
    query = parse_qs(urlsplit(url).query)
    for name in _PAGE_PARAMS:
        values = query.get(name)
        if values and values[0].isdigit():
            return name, int(values[0])
    return None


def next_list_page(tree: lxml.html.HtmlElement, url: str) -> str | None:
    """The next page of a review list without schema.org: the list's own "next" control (a-last), a
    rel=next or "next" link, else a link to this page with its page-number parameter one higher
    (`?pageNumber=2` from the first page, which itself often has no such parameter)."""
    for href in tree.xpath('//*[contains(concat(" ", normalize-space(@class), " "), " a-last ")]//a/@href'):
        if href and not href.startswith(("#", "javascript:")):
            return urljoin(url, href)
    generic = next_page_url(tree, url)
    if generic:
        return generic
    current = _page_number(url)
    wanted = (current[1] if current else 1) + 1
    here = urlsplit(url)
    for href in tree.xpath("//a/@href"):
        target = urljoin(url, href)
        found = _page_number(target)
        if found and found[1] == wanted and (current is None or found[0] == current[0]) \
                and urlsplit(target).path == here.path:
            return target
    return None


# Data a page's own JavaScript renders into reviews; we can see it but do not read it.
_EMBEDDED_REVIEWS = re.compile(r'["\'](?:reviews?|reviewBody|reviewText|ratingValue|starRating)["\']\s*:', re.I)


def reviews_in_embedded_json(tree: lxml.html.HtmlElement) -> bool:
    """Whether the page's reviews sit only in a script's JSON (a layout no parser here reads)."""
    for script in tree.xpath('//script[not(@type="application/ld+json")]'):
        if _EMBEDDED_REVIEWS.search(script.text_content() or ""):
            return True
    return False

PROFILES: list[Callable[..., ParseResult]] = [data_hook]


def parse_without_schema(tree: lxml.html.HtmlElement, url: str, *, source: str,
                         brands: Iterable[str] = ()) -> ParseResult:
    """The first profile that finds reviews on this page (an empty result when none does)."""
    for profile in PROFILES:
        result = profile(tree, url, source=source, brands=brands)
        if result.mentions or result.skipped:
            return result
    return ParseResult()

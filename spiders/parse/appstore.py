"""The App Store customer reviews feed (JSON): itunes.apple.com/{country}/rss/customerreviews/page={n}/
id={app id}/sortby=mostrecent/json.

Apple's public, key-less feed: up to 50 reviews a page, at most 10 pages (the 500 most recent reviews per
country). Every value is wrapped: {"label": "..."}. feed.entry is a list, a single object when the page
has one review, and absent past the last page; old feeds started page 1 with an entry describing the app
itself (it has no im:rating and is skipped). The feed has no developer replies.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from listener.model import Mention
from spiders.parse import MalformedPage, ParseResult
from spiders.parse.dates import parse_date
from spiders.parse.numbers import parse_count, parse_rating
from spiders.parse.text import clean_text

SOURCE = "app_store"
MAX_PAGES = 10  # Apple serves no page after the tenth


def feed_url(base: str, app_id: str, country: str, page: int) -> str:
    return f"{base.rstrip('/')}/{country.lower()}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


def _label(entry: dict, *path: str) -> str | None:
    value: Any = entry
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if isinstance(value, dict):
        value = value.get("label")
    return str(value) if value not in (None, "") else None


def _last_page(feed: dict) -> int | None:
    links = feed.get("link")
    for link in links if isinstance(links, list) else []:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        if isinstance(attributes, dict) and attributes.get("rel") == "last":
            match = re.search(r"/page=(\d+)/", str(attributes.get("href", "")))
            if match:
                return int(match.group(1))
    return None


def parse_appstore_feed(body: bytes | str, *, app_id: str, country: str, page: int, base: str,
                        brands: Iterable[str] = ()) -> ParseResult:
    """Reviews of one feed page, and the next page's URL while there is one."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise MalformedPage(f"not JSON ({err})") from None
    except RecursionError:
        raise MalformedPage("JSON nested too deeply to read") from None
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, dict):
        raise MalformedPage("no 'feed' object")
    entries = feed.get("entry") or []
    if isinstance(entries, dict):
        entries = [entries]
    result = ParseResult()
    reviews = 0
    for entry in entries:
        if not isinstance(entry, dict) or _label(entry, "im:rating") is None:
            continue  # the app's own entry in old feeds
        reviews += 1
        review_id = _label(entry, "id")
        published = parse_date(_label(entry, "updated"))
        if not review_id or published is None:
            result.skipped.append(f"entry {review_id or '?'}: no id or unreadable date")
            continue
        extra: dict[str, Any] = {"app_id": app_id, "country": country.lower()}
        if _label(entry, "im:version"):
            extra["app_version"] = _label(entry, "im:version")
        if _label(entry, "im:voteCount"):
            extra["votes"] = parse_count(_label(entry, "im:voteCount"))
        try:
            result.mentions.append(Mention(
                source=SOURCE, native_id=review_id,
                url=f"https://apps.apple.com/{country.lower()}/app/id{app_id}?see-all=reviews#{review_id}",
                author_name=clean_text(_label(entry, "author", "name")) or None,
                title=clean_text(_label(entry, "title")) or None, text=clean_text(_label(entry, "content")),
                published_at=published, rating=parse_rating(_label(entry, "im:rating")),
                score=parse_count(_label(entry, "im:voteSum")), brands=list(brands), extra=extra,
            ))
        except ValueError as err:
            result.skipped.append(f"entry {review_id}: {str(err).splitlines()[0]}")
    last = _last_page(feed) or MAX_PAGES
    if reviews and page < min(last, MAX_PAGES):
        result.next_url = feed_url(base, app_id, country, page + 1)
    result.info["last_page"] = last
    return result

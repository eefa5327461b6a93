"""RSS 2.0, RSS 1.0 (RDF) and Atom feeds, including Google Alerts feeds, as plain entries.

Parsed with lxml in recover mode (a feed with a stray "&" or a cut-off end still gives its complete
entries), without entity expansion or network access. Google Alerts wraps every link as
https://www.google.com/url?...&url=<article>; the article URL is unwrapped, and tracking parameters
(utm_*, fbclid, ...) are removed so one article has one id whichever feed brought it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.etree

from spiders.parse import MalformedPage
from spiders.parse.dates import parse_date
from spiders.parse.text import html_to_text

_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ved", "usg", "ct", "cd")


@dataclass
class FeedEntry:
    url: str  # the article, unwrapped and without tracking parameters
    entry_id: str  # the feed's guid/id, else the URL
    title: str = ""
    summary: str = ""  # plain text of description/summary/content
    author: str | None = None
    published: datetime | None = None
    categories: list[str] = field(default_factory=list)


@dataclass
class Feed:
    title: str = ""
    entries: list[FeedEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def canonical_url(url: str) -> str:
    """Unwrap Google redirect links; drop tracking parameters and the fragment."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.startswith(("www.google.", "google.")) and parts.path == "/url":
        query = dict(parse_qsl(parts.query))
        target = query.get("url") or query.get("q")
        if target and target.startswith(("http://", "https://")):
            parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not any(k == t or (t.endswith("_") and k.startswith(t)) for t in _TRACKING)]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _local(tag: object) -> str:
    """"{namespace}name" -> "name"; comments and recover-mode debris (tag ":") -> ""."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _children(element: lxml.etree._Element, name: str) -> list[lxml.etree._Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: lxml.etree._Element, *names: str) -> str:
    for name in names:
        for child in _children(element, name):
            value = "".join(child.itertext()).strip()
            if value:
                return value
    return ""


def _link(entry: lxml.etree._Element, base: str) -> str:
    candidates = []
    for link in _children(entry, "link"):
        href = link.get("href")
        if href:  # Atom: prefer rel="alternate" (or no rel)
            rel = link.get("rel", "alternate")
            candidates.append((0 if rel == "alternate" else 1, href))
        elif (link.text or "").strip():  # RSS
            candidates.append((0, link.text.strip()))
    if not candidates:
        guid = _children(entry, "guid")
        if guid and guid[0].get("isPermaLink", "true") != "false" and (guid[0].text or "").startswith("http"):
            candidates.append((0, guid[0].text.strip()))
    candidates.sort(key=lambda c: c[0])
    return urljoin(base, candidates[0][1]) if candidates else ""


def parse_feed(body: bytes, url: str) -> Feed:
    """The entries of a feed. Raises MalformedPage when the body is not a feed at all."""
    if not body or not body.strip():
        raise MalformedPage("empty feed")
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = lxml.etree.fromstring(body.strip(), parser=parser)
    except lxml.etree.XMLSyntaxError as err:
        raise MalformedPage(f"not XML: {err}") from None
    if root is None:
        raise MalformedPage("not XML")
    kind = _local(root.tag)
    if kind == "rss":
        channel = next(iter(_children(root, "channel")), None)
        if channel is None:
            raise MalformedPage("RSS without a channel")
        items, feed_title = _children(channel, "item"), _text(channel, "title")
    elif kind == "RDF":
        items = _children(root, "item")
        channel = next(iter(_children(root, "channel")), None)
        feed_title = _text(channel, "title") if channel is not None else ""
    elif kind == "feed":
        items, feed_title = _children(root, "entry"), _text(root, "title")
    else:
        raise MalformedPage(f"not RSS or Atom (root element <{kind}>)")
    feed = Feed(title=html_to_text(feed_title))
    for number, item in enumerate(items, start=1):
        link = _link(item, url)
        title = html_to_text(_text(item, "title"))
        if not link:
            feed.skipped.append(f"entry {number} ({title[:40]!r}): no link")
            continue
        article = canonical_url(link)
        authors = [_text(a, "name") or "".join(a.itertext()).strip() for a in _children(item, "author")]
        author = next((a for a in authors if a), None) or _text(item, "creator") or None
        feed.entries.append(FeedEntry(
            url=article, entry_id=_text(item, "guid", "id") or article, title=title,
            summary=html_to_text(_text(item, "encoded", "content", "description", "summary")),
            author=author,
            published=parse_date(_text(item, "pubDate", "published", "updated", "date", "issued")),
            categories=[c.get("term") or (c.text or "").strip() for c in _children(item, "category")
                        if c.get("term") or (c.text or "").strip()],
        ))
    return feed

"""Articles and forum threads: one mention per post when the page marks its posts up with schema.org
(DiscussionForumPosting, Comment, Answer: Discourse, phpBB/XenForo themes, Q&A sites), else the page's
main text as one mention, extracted with trafilatura (boilerplate, menus and footers removed).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import urljoin

from listener.model import Mention
from spiders.parse import MalformedPage, ParseResult
from spiders.parse.dates import parse_date
from spiders.parse.numbers import parse_count
from spiders.parse.schemaorg import (POST_TYPES, extract_nodes, interaction_count, name_of, parse_html, text_of,
                                     types, walk)
from spiders.parse.text import clean_text, first, html_to_text

MIN_TEXT = 40  # characters; less than this is a menu or a cookie banner, not an article


def content_hash(text: str) -> str:
    """What decides whether a page changed since the last crawl."""
    return hashlib.blake2b(" ".join(text.split()).encode("utf-8"), digest_size=12).hexdigest()


def posts_from_nodes(nodes: list[dict], url: str, *, source: str, brands: Iterable[str] = ()) -> ParseResult:
    """One mention per schema.org post; the first post is the thread, the others reply to it."""
    result = ParseResult()
    posts = [node for node, _ in walk(nodes) if types(node) & POST_TYPES]
    root_id: str | None = None
    title = None
    for index, post in enumerate(posts, start=1):
        body = html_to_text(text_of(first(post.get("text"), post.get("articleBody"), post.get("description"))))
        heading = clean_text(text_of(first(post.get("headline"), post.get("name")))) or None
        if index == 1:
            title = heading
        raw_date = text_of(first(post.get("datePublished"), post.get("dateCreated"), post.get("uploadDate")))
        published = parse_date(raw_date)
        position = text_of(post.get("position")) or str(index)
        node_id = post.get("@id")
        own = text_of(post.get("url")) or (node_id if isinstance(node_id, str) and not node_id.startswith("_:") else None)
        native_id = urljoin(url, own) if own and urljoin(url, own) != url else f"{url}#post-{position}"
        if published is None or not (body or heading):
            result.skipped.append(f"post {position}: {'no readable date' if published is None else 'no text'}")
            continue
        try:
            mention = Mention(
                source=source, native_id=native_id, url=urljoin(url, own) if own else url,
                author_name=name_of(post.get("author")), title=heading if root_id is None else None,
                text=body or heading or "", published_at=published,
                score=first(parse_count(post.get("upvoteCount")), interaction_count(post, "Like", "Vote")),
                replies=parse_count(post.get("commentCount")) if root_id is None else None,
                thread_id=root_id, parent_id=root_id, brands=list(brands),
                extra={"thread_title": title} if root_id and title else {},
            )
        except ValueError as err:
            result.skipped.append(f"post {position}: {str(err).splitlines()[0][:200]}")
            continue
        if root_id is None:
            root_id = mention.id
        result.mentions.append(mention)
    return result


def strip_heading(body: str, *titles: str | None) -> str:
    """The text without its leading headline: trafilatura keeps the <h1>, and a mention has a title field."""
    for title in titles:
        title = clean_text(title)
        if title and body.startswith(title):
            return body[len(title):].lstrip()
    return body


# trafilatura drops every non-printable character, and the zero-width joiners are "format" characters to
# Python, so «شبکه‌های» (ZWNJ, the Persian half-space) came out as «شبکههای», another spelling. They ride
# through as printable stand-ins that no page uses (Tifinagh modifier letters; checked absent first).
_JOINERS = ("\u200c", "\u200d")
_STAND_INS = (("\u2d6f", "\u2d7f"), ("\ua9cf", "\ua9e6"), ("\U00016b40", "\U00016b41"))


def _joiner_stand_ins(text: str) -> tuple[str, str] | None:
    if not any(joiner in text for joiner in _JOINERS):
        return None
    return next((pair for pair in _STAND_INS if not any(c in text for c in pair)), None)


def main_text(text: str, url: str) -> dict[str, Any] | None:
    """trafilatura's main text and metadata (title, author, date), or None when there is none."""
    import trafilatura

    stand_ins = _joiner_stand_ins(text)
    if stand_ins:
        for joiner, stand_in in zip(_JOINERS, stand_ins):
            text = text.replace(joiner, stand_in)
    document = trafilatura.bare_extraction(text, url=url, with_metadata=True, include_comments=True,
                                           include_tables=False, favor_recall=True)
    if document is None:
        return None
    data = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    if stand_ins:
        for key, value in data.items():
            if isinstance(value, str):
                for joiner, stand_in in zip(_JOINERS, stand_ins):
                    value = value.replace(stand_in, joiner)
                data[key] = value
    return data if (data.get("text") or "").strip() else None


def parse_article_page(text: str, url: str, *, source: str = "forum", brands: Iterable[str] = (),
                       now: datetime | None = None, title: str | None = None) -> ParseResult:
    """Posts or the main text of a page. A page without a date gets `now` (the time it was first
    seen) and extra["date_from"] = "fetched". Raises MalformedPage when the page is not HTML."""
    tree = parse_html(text)
    try:
        nodes, problems = extract_nodes(text, url, tree)
    except MalformedPage:
        nodes, problems = [], []
    result = posts_from_nodes(nodes, url, source=source, brands=brands)
    if result.mentions:
        result.skipped[:0] = problems
        result.info["kind"] = "posts"
        result.info["hash"] = content_hash("\n".join(m.text for m in result.mentions))
        return result
    data = main_text(text, url)
    body = clean_text((data or {}).get("text"))
    heading = clean_text(first(title, (data or {}).get("title")))
    body = strip_heading(body, heading, (data or {}).get("title"))
    if len(body) < MIN_TEXT:
        result.skipped.append("no main text on the page")
        return result
    extra: dict[str, Any] = {}
    published = parse_date((data or {}).get("date"))
    if published is None:
        published = now or datetime.now(timezone.utc)
        extra["date_from"] = "fetched"
    mention = Mention(source=source, native_id=url, url=url, author_name=clean_text(data.get("author")) or None,
                      title=heading or None, text=body,
                      published_at=published, brands=list(brands), extra=extra)
    result.mentions.append(mention)
    result.info["kind"] = "article"
    result.info["hash"] = content_hash(body)
    return result

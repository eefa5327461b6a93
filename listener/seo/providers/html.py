"""What the HTML parsers share: a tolerant lxml parse that refuses block pages first, and link unwrapping."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import lxml.html

from listener.seo.blocked import block_reason
from listener.seo.model import BadResponseError, BlockedError


def parse_html(body: bytes | str, provider: str):
    """The document; BlockedError for a CAPTCHA page, BadResponseError for something that is not HTML."""
    reason = block_reason(body)
    if reason:
        raise BlockedError(f"{provider}: the search engine answered with {reason}, not results; slow down, "
                           "use an API provider, or save the page after solving the CAPTCHA in a browser")
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if "<" not in text[:2000]:
        raise BadResponseError(f"{provider}: expected an HTML result page, got {text[:40]!r}")
    try:
        return lxml.html.document_fromstring(text)
    except Exception as err:  # lxml raises ParserError for an empty document
        raise BadResponseError(f"{provider}: not a readable HTML page ({err})") from None


def unwrap(href: str, param: str) -> str:
    """The target of a redirect link ('/url?q=TARGET&…', '//duckduckgo.com/l/?uddg=TARGET'), else href."""
    parts = urlsplit(href)
    values = parse_qs(parts.query).get(param)
    return values[0] if values else href


def text_of(element) -> str:
    return " ".join(element.text_content().split()) if element is not None else ""


def has_heading(doc, *phrases: str) -> bool:
    """Whether a SERP section heading with one of these phrases is on the page (features without links)."""
    wanted = {p.casefold() for p in phrases}
    for node in doc.iter("h2", "h3", "div", "span"):
        if node.text and node.text.strip().casefold() in wanted:
            return True
    return False

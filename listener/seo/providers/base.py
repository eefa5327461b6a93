"""What every SERP provider module is: a small subclass of `Provider` that builds a request and parses a body.

Parsers are pure (a body in, a SerpPage out), so they are tested on fixtures without a server; the HTTP
itself (timeouts, keys, status codes, block pages) lives in listener.seo.fetch only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from listener.seo.model import BadResponseError, SerpPage


@dataclass(frozen=True)
class About:
    """A provider's card: the site or API, whether a key is needed (and which env var holds it), the format."""

    site: str
    docs: str
    format: str  # "JSON" or "HTML"
    key_env: str | None = None  # the environment variable with the API key; None = keyless
    live: bool = True  # False: only parses saved pages (listener seo import)
    pages: bool = True  # can fetch further result pages


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class Provider:
    """Base of the providers. Subclasses set `name`, `about`, `default_url`, `page_size` and implement
    `request` and `parse`; a provider with error bodies of its own overrides `error_of`."""

    name: ClassVar[str] = ""
    about: ClassVar[About]
    default_url: ClassVar[str] = ""
    page_size: ClassVar[int] = 10
    #: the name of the engine whose saved pages this parser reads (listener seo import --engine NAME)
    import_engine: ClassVar[str | None] = None

    def __init__(self, base_url: str | None = None, key: str | None = None):
        self.base_url = (base_url or self.default_url).rstrip("/")
        self.key = key

    def request(self, query: str, lang: str, country: str, page: int) -> HttpRequest:
        """The request for result page `page` (0-based)."""
        raise NotImplementedError(f"{self.name} only parses saved pages")

    def parse(self, body: bytes | str, query: str, lang: str = "en", country: str = "us", page: int = 0) -> SerpPage:
        """The results in a body, positions counted from `page * page_size + 1`. Raises BadResponseError
        when the body is not the documented shape and BlockedError on a CAPTCHA page."""
        raise NotImplementedError

    def error_of(self, status: int, body: bytes) -> Exception | None:
        """A provider-specific error for this answer (its own error body), or None to use the generic one."""
        return None

    # helpers for the JSON providers
    def load_json(self, body: bytes | str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            start = (body[:60].decode("utf-8", "replace") if isinstance(body, bytes) else body[:60]).strip()
            kind = "HTML" if start.startswith("<") else "text"
            raise BadResponseError(f"{self.name}: answered {kind} instead of JSON ({start!r}…); check the URL "
                                   f"({self.base_url}) points at the API") from None
        if not isinstance(data, dict):
            raise BadResponseError(f"{self.name}: expected a JSON object, got {type(data).__name__}")
        return data


def clean(text: Any) -> str:
    """One line of plain text from a provider's field (None, HTML tags and runs of white space removed)."""
    if not text:
        return ""
    import lxml.html

    value = str(text)
    if "<" in value:
        try:
            value = lxml.html.fromstring(f"<div>{value}</div>").text_content()
        except Exception:  # malformed markup: keep the raw text rather than lose the snippet
            pass
    return " ".join(value.split())

"""`listener seo import`: read a result page saved from a browser into the same SerpPage a provider returns."""

from __future__ import annotations

from pathlib import Path

from listener.config import ConfigError
from listener.seo.classify import classify_page
from listener.seo.model import SerpPage
from listener.seo.providers import importer_class
from listener.seo.questions import Question


def import_saved_page(path: str | Path, engine: str, query: str, lang: str = "en", country: str = "us",
                      question: Question | None = None) -> SerpPage:
    """Parse a saved Google, Bing or DuckDuckGo page; BlockedError for a CAPTCHA page (never zero results).
    With a question, the results are classified for its brand too."""
    path = Path(path)
    parser = importer_class(engine)()
    try:
        body = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the saved page ({err.strerror})") from None
    page = parser.parse(body, query, lang, country)
    return classify_page(question, page) if question is not None else page

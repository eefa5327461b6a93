"""The plain data of SEO: one search result, one result page (a check), and the errors a provider raises."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from listener.model import utcnow

#: Where on the page a result sits. "organic" results carry the ranking positions; the others are SERP features.
Feature = Literal["organic", "featured_snippet", "people_also_ask", "video", "discussion"]
FEATURES: tuple[str, ...] = ("organic", "featured_snippet", "people_also_ask", "video", "discussion")

#: What a result is to the brand asking (listener.seo.classify).
Category = Literal["own_self_service", "own_other", "competitor", "third_party"]
#: What kind of third-party page it is.
Kind = Literal["forum", "review", "video", "qa", "news", "social", "other"]


class SerpResult(BaseModel):
    """One result: its position among the organic results (1-based; features keep the position of the
    organic result they sit above, or 0 when the provider does not say), URL, title and snippet."""

    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=0)
    url: str
    title: str = ""
    snippet: str = ""
    feature: Feature = "organic"
    category: Category | None = None  # filled by classify
    kind: Kind | None = None  # third-party results only
    domain: str | None = None  # registrable domain, filled by classify


class SerpPage(BaseModel):
    """What one search returned: the organic results in rank order and the SERP features seen."""

    model_config = ConfigDict(extra="forbid")

    engine: str  # the provider or saved-page format that produced it
    query: str
    lang: str = "en"
    country: str = "us"
    fetched_at: datetime = Field(default_factory=utcnow)
    results: list[SerpResult] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)  # SERP features present (names from FEATURES)

    @property
    def organic(self) -> list[SerpResult]:
        return [r for r in self.results if r.feature == "organic"]


class SerpError(Exception):
    """A search that did not give results we can trust; the message names the provider and the fix."""

    kind = "error"


class MissingKeyError(SerpError):
    kind = "missing_key"


class UnknownProviderError(SerpError, ValueError):
    """A provider or saved-page engine name that is not registered; the message lists the known ones."""

    kind = "unknown_provider"


class QuotaError(SerpError):
    """The provider said too many requests (HTTP 429, an exhausted plan), or our own daily quota is used."""

    kind = "quota"


class BlockedError(SerpError):
    """A CAPTCHA or "unusual traffic" page: never read as zero results."""

    kind = "captcha"


class BadResponseError(SerpError):
    """Not the shape the provider documents (HTML instead of JSON, a 5xx, a redirect to a login page)."""

    kind = "bad_response"


class ProviderTimeout(SerpError):
    kind = "timeout"

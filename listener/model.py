"""The plain data types every part of listener passes around: Mention and its parts.

A Mention is one thing somebody said somewhere (a post, comment, review, article, video comment),
in one shape whatever the source. Ids are deterministic, so ingesting the same item twice
updates it instead of adding a copy.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SentimentLabel = Literal["negative", "neutral", "positive"]
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


def stable_hash(*parts: str, size: int = 12) -> str:
    """A short hex digest of the parts; the same parts give the same digest in every process."""
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")  # unit separator, so ("ab", "c") and ("a", "bc") differ
    return h.hexdigest()


def make_mention_id(source: str, native_id: str | None = None, url: str | None = None) -> str:
    """The id of a mention: from the source and its native id, else from its canonical URL."""
    if native_id:
        return stable_hash(source, "id", str(native_id))
    if url:
        return stable_hash(source, "url", url)
    raise ValueError("a mention needs a native_id or a url to get a stable id")


def make_author_id(source: str, author: str) -> str:
    """A stable, non-reversible author id (privacy requests delete by it)."""
    return stable_hash(source, "author", author.strip().lower(), size=8)


def as_utc(value: datetime) -> datetime:
    """Make a datetime timezone-aware UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Sentiment(BaseModel):
    """A sentiment label with the model's calibrated probability for it."""

    model_config = ConfigDict(frozen=True)

    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0)


class Mention(BaseModel):
    """One mention of anything, from any source, in one shape."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    id: str = ""
    source: str = Field(min_length=1, description="where it came from: reddit, trustpilot, rss, ...")
    native_id: str | None = None
    url: str | None = None
    domain: str | None = None
    author_name: str | None = None
    author_id: str | None = None
    title: str | None = None
    text: str = ""
    lang: str | None = None
    published_at: datetime
    fetched_at: datetime = Field(default_factory=utcnow)
    rating: float | None = Field(default=None, ge=0.0, le=5.0, description="review stars on a 0-5 scale")
    thread_id: str | None = None
    parent_id: str | None = None
    score: int | None = None
    replies: int | None = None
    views: int | None = None
    company_reply: str | None = None
    brands: list[str] = Field(default_factory=list)
    sentiment: Sentiment | None = None
    topics: list[str] = Field(default_factory=list)
    duplicate_of: str | None = None
    fingerprint: str | None = Field(default=None, description="MinHash of the text, for near-duplicates")
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("published_at", "fetched_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @field_validator("native_id", mode="before")
    @classmethod
    def _native_id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _ids(self) -> "Mention":
        if not self.text and not self.title:
            raise ValueError("a mention needs a text or a title")
        if not self.id:
            self.id = make_mention_id(self.source, self.native_id, self.url)
        if self.author_name and not self.author_id:
            self.author_id = make_author_id(self.source, self.author_name)
        return self

    @property
    def full_text(self) -> str:
        """Title and text together, as they are matched, scored and indexed."""
        if self.title and self.text:
            return f"{self.title}\n{self.text}"
        return self.title or self.text

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, line: str | bytes) -> "Mention":
        return cls.model_validate_json(line)

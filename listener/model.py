"""The plain data types every part of listener passes around: Mention and its parts.

A Mention is one thing somebody said somewhere (a post, comment, review, article, video comment),
in one shape whatever the source. Ids are deterministic, so ingesting the same item twice
updates it instead of adding a copy.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

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


# Dates outside this window are misreads, not mentions: 0001-01-01 is many sites' "no date", and 9999 their
# "never". Storing them stretches every time series to thousands of years.
OLDEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=timezone.utc)
FUTURE_TOLERANCE = timedelta(days=1)  # time zones and clock skew; later than this is a misread date


def implausible_date(value: datetime, now: datetime | None = None) -> str | None:
    """Why `value` cannot be when a mention was published (before 1990, or over a day ahead), else None."""
    value = as_utc(value)
    if value < OLDEST_PLAUSIBLE:
        return f"{value:%Y-%m-%d} is before {OLDEST_PLAUSIBLE:%Y}, which is a placeholder, not a real date"
    if value > (now or utcnow()) + FUTURE_TOLERANCE:
        return f"{value:%Y-%m-%d %H:%M} is in the future"
    return None


MAX_EXTRA_DEPTH = 16  # `extra` holds a source's loose fields; deeper than this is an attack, not data
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_unicode(value: str) -> str:
    """Refuse lone surrogates: they are not text, and no store or JSON encoder can write them."""
    match = _SURROGATE.search(value)
    if match:
        raise ValueError(f"contains a lone surrogate U+{ord(match.group()):04X} at character {match.start()}, "
                         "which is not valid Unicode")
    return value


def _check_extra(value: Any, depth: int = 1) -> None:
    if isinstance(value, dict):
        items = list(value.items())
        for key, _ in items:
            _check_unicode(str(key))
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    else:
        if isinstance(value, str):
            _check_unicode(value)
        return
    if depth > MAX_EXTRA_DEPTH:
        raise ValueError(f"nested deeper than {MAX_EXTRA_DEPTH} levels")
    for _, item in items:
        _check_extra(item, depth + 1)


#: "Mixed": the model gives negative AND positive at least this much (of three probabilities summing to 1).
#: A text the model reads one way leaves the other polar class low: the smaller of the two is 0.065 at the
#: median of English tweets and 0.06 of the bundled examples. Both at 0.3 or more means it found praise and
#: complaint in one text (the food was great, the delivery late): 4 % of tweets, 10 % of the bundled
#: examples and 20 % of Persian food-delivery reviews (dev splits, bundled model). The stores filter on the
#: same two bounds (`Filters.mixed`).
MIXED_MIN = 0.3
#: Inside a mixed mention, negative is the label unless positive leads it by more than this: the label is
#: what the mention needs, and a complaint needs an answer even when praise comes with it. Measured against
#: the plain most-likely label: negative recall +3.8 points on food-delivery reviews and +2.0 on the bundled
#: examples, for accuracy -0.75 points on tweets, -0.2 on the bundled examples, +0.0 on the reviews.
MIXED_NEGATIVE_MARGIN = 0.15


def is_mixed(negative: float, positive: float) -> bool:
    return negative >= MIXED_MIN and positive >= MIXED_MIN


class SentimentProbabilities(BaseModel):
    """The model's probabilities over the three classes (they sum to 1)."""

    model_config = ConfigDict(frozen=True)

    negative: float = Field(ge=0.0, le=1.0)
    neutral: float = Field(ge=0.0, le=1.0)
    positive: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sums_to_one(self) -> "SentimentProbabilities":
        total = self.negative + self.neutral + self.positive
        if abs(total - 1.0) > 0.01:  # rounding to 4 places and bf16 leave far less than this
            raise ValueError(f"probabilities must sum to 1, these sum to {total:.4f}")
        return self

    def get(self, label: str) -> float:
        return float(getattr(self, label))


class Sentiment(BaseModel):
    """A sentiment label, its probability, and the model's probabilities over all three classes.

    `probabilities` is what the model said, always (None on mentions scored before they were kept, or by a
    classifier that gives none). A person's correction sets `label` (with `score` 1) and `corrected`, and
    leaves `probabilities` as the model gave them: the page then shows both the person's label and what
    the model thought, and neither pretends to be the other.
    """

    model_config = ConfigDict(frozen=True)

    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0)
    probabilities: SentimentProbabilities | None = None
    corrected: bool = False

    @computed_field  # in the API's and the export's JSON; ignored when a stored document is read back
    @property
    def mixed(self) -> bool:
        """Both praise and complaint, by the model's probabilities (see MIXED_MIN)."""
        p = self.probabilities
        return p is not None and is_mixed(p.negative, p.positive)

    @classmethod
    def from_probabilities(cls, probabilities: Sequence[float]) -> "Sentiment":
        """The label a mention gets from the model's (negative, neutral, positive) probabilities: the most
        probable class, except that a mixed mention is negative unless positive clearly leads (see
        MIXED_NEGATIVE_MARGIN). Probabilities are kept to 4 places: enough to show and to filter on."""
        values = [float(p) for p in probabilities]
        if len(values) != len(SENTIMENT_LABELS):
            raise ValueError(f"expected {len(SENTIMENT_LABELS)} probabilities, got {len(values)}")
        total = sum(values)
        if not (all(v >= 0.0 for v in values) and 0.0 < total < float("inf")):  # also refuses nan
            raise ValueError(f"probabilities must be non-negative numbers, not all 0, got {values}")
        if abs(total - 1.0) > 1e-3:  # scores, not probabilities yet (left alone otherwise: applying this
            values = [v / total for v in values]  # to its own rounded output gives the same Sentiment)
        values = [round(v, 4) for v in values]
        negative, _, positive = values
        if is_mixed(negative, positive) and positive - negative <= MIXED_NEGATIVE_MARGIN:
            i = 0
        else:
            i = max(range(len(values)), key=lambda k: values[k])
        probs = SentimentProbabilities(**dict(zip(SENTIMENT_LABELS, values)))
        return cls(label=SENTIMENT_LABELS[i], score=values[i], probabilities=probs)

    def corrected_to(self, label: str) -> "Sentiment":
        """A person's label on this sentiment: probability 1 for it, the model's probabilities kept."""
        return Sentiment(label=label, score=1.0, probabilities=self.probabilities, corrected=True)


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

    @field_validator("source", "native_id", "url", "domain", "author_name", "author_id", "title", "text", "lang",
                     "thread_id", "parent_id", "company_reply")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        return value if value is None else _check_unicode(value)

    @field_validator("extra")
    @classmethod
    def _extra_shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_extra(value)
        return value

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

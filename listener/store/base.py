"""The store interface every back end implements (SQLite embedded, Elasticsearch at scale).

Back ends register themselves in `listener.store.BACKENDS` by URL scheme; the shared contract suite in
tests/store_contract.py runs against every registered back end.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Literal, Sequence

from listener.model import Mention

TermField = Literal["sentiment", "topic", "source", "brand", "lang", "author", "domain"]
TERM_FIELDS: tuple[str, ...] = ("sentiment", "topic", "source", "brand", "lang", "author", "domain")
# Bucket sizes the time series accepts, in seconds.
class SeriesTooLong(ValueError):
    """A time series would have more buckets than anyone can read: the range or the interval must change."""


class CursorError(ValueError):
    """A search cursor that this store did not make for this kind of search."""


INTERVALS: dict[str, int] = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "3h": 10800, "6h": 21600,
                             "12h": 43200, "1d": 86400}


@dataclass(frozen=True)
class Filters:
    """What to select. Every field narrows the selection; empty means no restriction.

    `query` is in the boolean query language (listener.query). Near-duplicates (mentions with
    `duplicate_of` set) are left out unless `include_duplicates`, so a repost is not counted twice.
    `sentiments` may hold "unscored" to select mentions with no sentiment. `mixed` selects mentions whose
    model probabilities are both negative and positive (listener.model.MIXED_MIN), whatever their label.
    """

    query: str | None = None
    brands: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # author ids
    since: datetime | None = None  # inclusive, published_at
    until: datetime | None = None  # exclusive, published_at
    rating_min: float | None = None
    rating_max: float | None = None
    mixed: bool = False
    include_duplicates: bool = False


@dataclass
class Hit:
    mention: Mention
    snippet: str  # text with the matched words wrapped in <mark>…</mark> (HTML-escaped otherwise)
    score: float | None = None  # relevance, when sorted by relevance


@dataclass
class Page:
    hits: list[Hit]
    total: int  # all matches of the filters, not just this page (at least this many when not total_exact)
    next_cursor: str | None  # opaque; pass back to get the next page; None on the last page
    total_exact: bool = True  # False: counting stopped at a cap (as Elasticsearch's track_total_hits does)


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    ids: list[str] = field(default_factory=list)


class Store(ABC):
    """Where mentions live. All methods are safe to call again with the same input (idempotent)."""

    #: URL scheme this back end answers to, e.g. "sqlite" or "elasticsearch".
    scheme: str = ""

    @abstractmethod
    def upsert(self, mentions: Sequence[Mention]) -> UpsertResult:
        """Insert new mentions and replace existing ones with the same id, in one batch."""

    @abstractmethod
    def get(self, mention_id: str) -> Mention | None: ...

    @abstractmethod
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids are stored already."""

    @abstractmethod
    def find_fingerprints(self, bands: Sequence[str]) -> list[tuple[str, str]]:
        """(id, fingerprint) of stored originals (not duplicates) sharing any of these simhash bands."""

    @abstractmethod
    def search(self, filters: Filters, sort: Literal["date", "relevance"] = "date", limit: int = 20,
               cursor: str | None = None) -> Page:
        """Mentions matching the filters, newest first (date) or best first (relevance), paginated."""

    @abstractmethod
    def count(self, filters: Filters) -> int: ...

    @abstractmethod
    def timeseries(self, filters: Filters, interval: str = "1d", tz: str = "UTC",
                   split: TermField | None = None) -> list[tuple[datetime, dict[str, int]]]:
        """Counts per time bucket (aligned to local midnight in `tz` for day buckets), oldest first,
        with empty buckets between the first and last filled; each bucket maps split value -> count
        (key "all" when not split)."""

    @abstractmethod
    def terms(self, filters: Filters, field: TermField, size: int = 10) -> list[tuple[str, int]]:
        """The most common values of a field among the matches, most common first."""

    @abstractmethod
    def iter_mentions(self, filters: Filters, batch_size: int = 1000) -> Iterator[Mention]:
        """Every matching mention, oldest first, for export and re-scoring; memory stays flat."""

    def thread(self, source: str, thread_id: str, limit: int = 500) -> list[Mention]:
        """The mentions of one conversation (the same source and `thread_id`), oldest first, at most `limit`:
        what the web app's mention page shows around a mention. This default reads the source's mentions one
        by one, which is correct everywhere and slow on big stores; a back end that indexes `thread_id`
        overrides it (SqliteStore does)."""
        found: list[Mention] = []
        for mention in self.iter_mentions(Filters(sources=(source,), include_duplicates=True)):
            if mention.thread_id == thread_id:
                found.append(mention)
                if len(found) >= limit:
                    break
        return found

    @abstractmethod
    def forget_author(self, author_id: str) -> int:
        """Delete everything of one author (privacy requests); returns how many mentions were removed."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- errors a user or operator can act on


class StoreError(Exception):
    """A store failure with a one-line message that says what failed and how to fix it (the CLI prints it
    and exits 2). Messages never contain credentials."""


class StoreUnavailable(StoreError, ConnectionError):
    """The store cannot be reached or refused the connection (address, TLS, credentials, version). A
    ConnectionError (an OSError) too, so task runners that retry connection failures retry this."""


class StoreConfigError(StoreError, ValueError):
    """The store URL or a store setting is wrong (unknown scheme, bad index name, unreadable CA file)."""


class SchemaMismatch(StoreError):
    """The stored index was made by another version of listener; the message names the migration."""


class QueryTooSlow(StoreError, ValueError):
    """A read (search, count, statistics) ran past the store's time limit and was stopped; on every back end
    the same kind of one-line message (too_slow_message), and never a partial answer."""


def too_slow_message(seconds: float | None, cause: str | None = None) -> str:
    if cause is None:
        cause = (f"the search ran longer than {seconds:g} s and was stopped" if seconds is not None
                 else "the search was stopped at the store's time limit")
    return f"{cause}; narrow it (a date range, fewer or longer prefixes, fewer NEARs)"


class QueryRejected(StoreError, ValueError):
    """The back end refused a syntactically valid query (too many clauses or buckets, a bad cursor)."""


class InvalidCursor(CursorError, QueryRejected):
    """A cursor the back end cannot use: damaged, forged, or its point in time expired."""


class TooManyBuckets(SeriesTooLong, QueryRejected):
    """An aggregation over the cluster's search.max_buckets (or listener's own bucket limit)."""


class WriteFailed(StoreError, RuntimeError):
    """Some documents of a batch were not written after retries; the batch must be retried as a whole (upserts
    are idempotent) or sent to the dead-letter list. `failures` holds (mention id, reason). A RuntimeError
    too: a busy cluster may take the batch later, so task runners retry it (and dead-letter it at the end)."""

    def __init__(self, failures: list[tuple[str, str]], written: int = 0):
        self.failures = failures
        self.written = written
        shown = "; ".join(f"{mention_id}: {reason}" for mention_id, reason in failures[:3])
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        super().__init__(f"{len(failures)} mention(s) of the batch were not stored: {shown}{more}")


class ErasureIncomplete(StoreError, RuntimeError):
    """forget_author could not prove the author's mentions are gone; running it again is safe (and a task
    runner that retries RuntimeErrors will)."""

"""The Elasticsearch store, for `elasticsearch://host:port/index` (`elasticsearchs://` for HTTPS).

What it provides: `ElasticStore`, the listener.store.base.Store interface over one Elasticsearch index,
with the same semantics as the SQLite store (tests/store_contract.py runs against both), and the index
definition (`MAPPINGS`, `SETTINGS`, `index_template()`), the one source of truth that
deploy/elasticsearch/index-template.json is generated from (tests/test_store_elastic.py compares them).

Choices, and why:
- One document per mention, `_id` = Mention.id, so re-ingesting replaces (idempotent upserts). The full
  Mention JSON sits in `doc`, an object with `enabled: false` (kept in _source, never indexed), so `get`
  round-trips every field exactly; the other fields are what filters, the query and aggregations read.
- Text is normalised and tokenised in Python (listener.query.elastic.index_fields) and the index's only
  analyzer is a whitespace tokenizer, so the query compiler (listener.query.elastic) sees the same tokens
  as the in-memory matcher and FTS5 do. Persian/Arabic folding never depends on an ES plugin.
- `published_at` is kept in whole epoch seconds (format epoch_second), like the SQLite store: `since`
  compares with floor(since), `until` with ceil(until).
- `sentiment` is stored as "unscored" when there is none, so the filter and the terms aggregation need no
  special case. `bands` (listener.dedupe.bands) are stored for originals with a fingerprint only.
- Upserts go through `helpers.streaming_bulk` (the bulk helper that yields each item's result, so
  "created" vs "updated" gives UpsertResult) with refresh="wait_for": the next read sees the write, which
  the contract requires, without forcing a refresh per batch. Per-document 429s are retried with backoff;
  what still fails raises WriteFailed with each id and reason (never a silently half-stored batch).
- Date sort: published_at desc, id asc; relevance: _score desc, then the same, read from a point in time.
  Pages use search_after with an opaque cursor (base64 JSON of the sort values, tagged with the sort kind,
  type-checked when decoded). `total` counts to 10,000 (track_total_hits) and says when it stopped
  (`Page.total_exact`); `count()` is exact.
- Snippets are computed in Python by listener.store.sqlite.snippet, the same function the SQLite store
  uses, so both back ends highlight identically (ES highlighting works on the normalised tokens, not on
  the original spelling the user wants to see).
- Time series use date_histogram with the time zone done by Elasticsearch: "1h" and "1d" are calendar
  intervals (local midnight, 23/25-hour days, a repeated hour is two buckets), the others fixed intervals
  aligned in local time; min_doc_count 0 fills the gaps between the first and last bucket. Splits page
  through a composite aggregation; sizes are checked against the cluster's search.max_buckets first.
- Lifecycle: the name in the URL is an alias over `<name>-v<SCHEMA_VERSION>`; the mapping's _meta holds the
  schema version, checked at open (SchemaMismatch), and `listener es migrate` (listener.store.elastic_migrate)
  copies into a new index and switches the alias. Retention: docs/elasticsearch.md.
- Reads have the SQLite store's time limit (`query_timeout`, 20 s): a search carries it as its `timeout`,
  the request waits a little longer, and a timed-out or stalled read is QueryTooSlow (see `_read`).
- Connections, credentials, TLS and the REST compatibility header: listener.store.elastic_connect.
"""

from __future__ import annotations

import base64
import json
import math
import time
import warnings
from datetime import datetime, timezone
from typing import Iterator, Literal, Sequence
from zoneinfo import ZoneInfo

from listener.model import MIXED_MIN, SENTIMENT_LABELS, Mention
from listener.store import register
from listener.store.base import (
    INTERVALS, TERM_FIELDS, ErasureIncomplete, Filters, Hit, InvalidCursor, Page, QueryTooSlow, SchemaMismatch,
    Store, StoreUnavailable, TooManyBuckets, UpsertResult, WriteFailed, too_slow_message,
)
from listener.store.elastic_connect import (  # noqa: F401  (parse_url, DEFAULT_* are part of this module's API)
    DEFAULT_INDEX, DEFAULT_PORT, client_options, connect, parse_url, translate_errors,
)

#: the index layout this code writes and reads; kept in the mapping's _meta and checked when a store opens.
#: 1: the first layout (no _meta); 2: index_prefixes on title/body, index behind an alias, shard settings;
#: 3: `thread_id` indexed, so a mention page finds its conversation with one term query;
#: 4: the sentiment's three probabilities (sentiment_negative/_neutral/_positive, for Filters.mixed).
SCHEMA_VERSION = 4
#: search pages count matches up to here (Page.total_exact False beyond it)
TRACK_TOTAL_HITS = 10_000
#: at most this many buckets in a time series (as the SQLite store); the cluster's search.max_buckets also caps it
MAX_BUCKETS = 100_000
#: search.max_buckets when the cluster does not say (its default since 7.x)
DEFAULT_SEARCH_MAX_BUCKETS = 65_536
#: (time bucket, split value) pairs fetched per composite-aggregation page
COMPOSITE_PAGE = 1_000
#: Lucene refuses a token over 32766 bytes; 8191 characters of up to 4 UTF-8 bytes each stay under it.
MAX_TOKEN_LENGTH = 8191
#: prefixes of 1..10 characters are indexed as terms of their own (index_prefixes), so `refund* NEAR/3 fee`
#: and `"fast del*"` are one span_term each instead of an expansion that hits too_many_clauses on a large
#: index; a longer prefix expands to few words in practice (and a refusal becomes QueryRejected).
INDEX_PREFIXES = {"min_chars": 1, "max_chars": 10}
#: how long a relevance-sorted reader may pause between pages (a point in time is kept open that long)
PIT_KEEP_ALIVE = "5m"
#: seconds a read's request waits beyond query_timeout: the server's own timed_out answer should come first
_TIMEOUT_GRACE = 5.0

ANALYZER = "listener_tokens"
SETTINGS: dict = {
    # one primary shard holds tens of millions of mentions (shards work best up to ~50 GB); a replica for
    # availability; a 1 s refresh because upserts wait for it (refresh=wait_for) so readers see their writes.
    # Bulk copies (listener es migrate) switch replicas and refresh off while they run.
    "number_of_shards": 1,
    "number_of_replicas": 1,
    "refresh_interval": "1s",
    "analysis": {
        "tokenizer": {"listener_whitespace": {"type": "whitespace", "max_token_length": MAX_TOKEN_LENGTH}},
        "analyzer": {ANALYZER: {"type": "custom", "tokenizer": "listener_whitespace", "filter": []}},
    },
}
_KEYWORD = {"type": "keyword"}
_TEXT = {"type": "text", "analyzer": ANALYZER, "index_prefixes": INDEX_PREFIXES}
MAPPINGS: dict = {
    "_meta": {"listener_schema": SCHEMA_VERSION},
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "source": _KEYWORD,
        "lang": _KEYWORD,
        "domain": _KEYWORD,
        "domain_parts": _KEYWORD,
        "author_key": _KEYWORD,
        "author_id": _KEYWORD,
        "title": _TEXT,
        "body": _TEXT,
        "published_at": {"type": "date", "format": "epoch_second"},
        "sentiment": _KEYWORD,
        "sentiment_score": {"type": "double"},
        # the model's probabilities; absent when unscored or scored before they were kept
        **{f"sentiment_{label}": {"type": "double"} for label in SENTIMENT_LABELS},
        "rating": {"type": "double"},
        "brands": _KEYWORD,
        "topics": _KEYWORD,
        "duplicate_of": _KEYWORD,
        "thread_id": _KEYWORD,
        "bands": _KEYWORD,
        "doc": {"type": "object", "enabled": False},
    },
}
# terms aggregation / split field of each TermField
TERM_INDEX_FIELDS: dict[str, str] = {"sentiment": "sentiment", "topic": "topics", "source": "source",
                                     "brand": "brands", "lang": "lang", "author": "author_id", "domain": "domain"}
assert set(TERM_INDEX_FIELDS) == set(TERM_FIELDS)
# "1h" and "1d" follow the local calendar (DST); the rest are fixed lengths
CALENDAR_INTERVALS = {"1h", "1d"}
_DATE_SORT = [{"published_at": "desc"}, {"id": "asc"}]
_RELEVANCE_SORT = [{"_score": "desc"}, *_DATE_SORT]


def index_template(pattern: str = DEFAULT_INDEX + "*") -> dict:
    """The composable index template (deploy/elasticsearch/index-template.json) for indexes named `pattern`."""
    return {"index_patterns": [pattern], "priority": 100,
            "template": {"settings": SETTINGS, "mappings": MAPPINGS},
            "_meta": {"description": "listener mentions; generated from listener/store/elastic.py"}}


# ---------------------------------------------------------------- URL


@register("elasticsearch")
@register("elasticsearchs")
def open_elastic(url: str) -> "ElasticStore":
    """The store for a URL, with credentials and TLS settings from LISTENER_ES_* (listener.store.elastic_connect)."""
    index, options = client_options(url)
    return ElasticStore(index, **options)


# ---------------------------------------------------------------- documents


def _epoch(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return math.floor(value.timestamp())


def _epoch_ceil(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return math.ceil(value.timestamp())


def index_document(mention: Mention) -> dict:
    """The indexed document of one Mention (see MAPPINGS)."""
    from listener.query.elastic import index_fields

    doc = {"id": mention.id, **index_fields(mention)}
    probabilities = mention.sentiment.probabilities if mention.sentiment else None
    original = mention.duplicate_of is None
    doc.update({
        "published_at": _epoch(mention.published_at),
        "sentiment": mention.sentiment.label if mention.sentiment else "unscored",
        "sentiment_score": mention.sentiment.score if mention.sentiment else None,
        **{f"sentiment_{label}": probabilities.get(label) if probabilities else None for label in SENTIMENT_LABELS},
        "rating": mention.rating,
        "brands": list(mention.brands),
        "topics": list(mention.topics),
        "duplicate_of": mention.duplicate_of,
        "thread_id": mention.thread_id,
        "bands": _bands(mention.fingerprint) if mention.fingerprint and original else [],
        "doc": json.loads(mention.to_json()),
    })
    return doc


def _bands(fingerprint: str) -> list[str]:
    from listener.dedupe import bands  # numpy: imported on the first fingerprinted upsert only

    return list(bands(fingerprint))


def bulk_actions(index: str, mentions: Sequence[Mention]) -> list[dict]:
    """Bulk `index` actions for a batch: one per id; a repeated id's later copy wins and takes the position
    of its last occurrence (as the SQLite store orders UpsertResult.ids)."""
    by_id: dict[str, Mention] = {}
    for mention in mentions:
        by_id.pop(mention.id, None)
        by_id[mention.id] = mention
    return [{"_op_type": "index", "_index": index, "_id": mention_id, "_source": index_document(mention)}
            for mention_id, mention in by_id.items()]


def _mention(source: dict) -> Mention:
    return Mention.from_json(json.dumps(source["doc"]))


# ---------------------------------------------------------------- requests


def filter_clauses(filters: Filters) -> list[dict]:
    """The Filters (all but the query) as clauses for a bool `filter`."""
    out: list[dict] = []
    for field, values in (("brands", filters.brands), ("source", filters.sources), ("lang", filters.langs),
                          ("sentiment", filters.sentiments), ("topics", filters.topics),
                          ("author_id", filters.authors)):
        if values:
            out.append({"terms": {field: list(values)}})
    published: dict = {}
    if filters.since is not None:
        published["gte"] = _epoch(filters.since)
    if filters.until is not None:
        published["lt"] = _epoch_ceil(filters.until)
    if published:
        out.append({"range": {"published_at": published}})
    rating: dict = {}
    if filters.rating_min is not None:
        rating["gte"] = filters.rating_min
    if filters.rating_max is not None:
        rating["lte"] = filters.rating_max
    if rating:
        out.append({"range": {"rating": rating}})
    if filters.mixed:
        out += [{"range": {f"sentiment_{label}": {"gte": MIXED_MIN}}} for label in ("negative", "positive")]
    return out


def _parse(filters: Filters):
    if not filters.query or not filters.query.strip():
        return None
    from listener.query import parse

    return parse(filters.query)  # QuerySyntaxError for a bad query


def build_query(filters: Filters, node=None, extra: Sequence[dict] = ()) -> dict:
    """The whole selection as one bool query: the compiled query in `must` (it scores), the filters in
    `filter`, duplicates out unless asked for. `node`: the parsed query (parsed here when None)."""
    from listener.query.elastic import compile_elastic

    node = _parse(filters) if node is None else node
    clause: dict = {}
    if node is not None:
        clause["must"] = [compile_elastic(node)]
    clauses = filter_clauses(filters) + list(extra)
    if clauses:
        clause["filter"] = clauses
    if not filters.include_duplicates:
        clause["must_not"] = [{"exists": {"field": "duplicate_of"}}]
    return {"bool": clause} if clause else {"match_all": {}}


# Cursor values: date pages ("d") carry the sort values [published_at ms, id]; relevance pages ("r") carry the
# id of the point in time they read from, then the sort values [score, published_at ms, id] and, when the
# server added it, the point in time's implicit tiebreaker (_shard_doc, a number).
_CURSOR_TYPES = {"d": ((int,), (str,)), "r": ((str,), (int, float), (int,), (str,), (int,))}
_CURSOR_OPTIONAL = {"d": 0, "r": 1}  # trailing values that may be absent


def encode_cursor(kind: str, values: Sequence) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> list | None:
    """The values of a cursor made by encode_cursor(kind, ...); InvalidCursor (a ValueError) if it is not one:
    checked here, so a forged or damaged cursor is the user's error, never a server error."""
    if not cursor:
        return None
    types = _CURSOR_TYPES[kind]
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, list) or data[0] != kind:
            raise ValueError
        if not len(types) - _CURSOR_OPTIONAL[kind] <= len(data) - 1 <= len(types):
            raise ValueError
        for value, allowed in zip(data[1:], types):
            if isinstance(value, bool) or not isinstance(value, allowed):
                raise ValueError
        return data[1:]
    except (ValueError, TypeError, IndexError, UnicodeDecodeError):
        raise InvalidCursor("invalid cursor for this search; start again without one") from None


def histogram_source(interval: str, tz: str) -> dict:
    """The date_histogram of a time series (validates interval and time zone); shared by the histogram and
    the composite aggregation so both round buckets the same way."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    ZoneInfo(tz)  # an unknown zone fails here, with Python's error, not as a server error
    kind = "calendar_interval" if interval in CALENDAR_INTERVALS else "fixed_interval"
    return {"field": "published_at", kind: interval, "time_zone": tz}


def histogram_aggregation(interval: str, tz: str) -> dict:
    """Every bucket between the first and the last mention, empty ones included."""
    return {"date_histogram": {**histogram_source(interval, tz), "min_doc_count": 0}}


def composite_aggregation(interval: str, tz: str, split: str, after: dict | None = None) -> dict:
    """One page of (time bucket, split value) pairs: pages through every value, however many, instead of a
    terms sub-aggregation that cuts at a size and can exceed search.max_buckets."""
    agg = {"size": COMPOSITE_PAGE, "sources": [{"t": {"date_histogram": histogram_source(interval, tz)}},
                                               {"v": {"terms": {"field": _term_field(split)}}}]}
    if after is not None:
        agg["after"] = after
    return {"composite": agg}


def _term_field(field: str) -> str:
    try:
        return TERM_INDEX_FIELDS[field]
    except KeyError:
        raise ValueError(f"field must be one of {', '.join(TERM_FIELDS)}, not {field!r}") from None


# ---------------------------------------------------------------- the store


class ElasticStore(Store):
    """The distributed back end: one index behind an alias (the name in the URL), one client (thread-safe,
    pooled connections).

    `bulk_retries`/`initial_backoff`: per-document 429s in a bulk request are retried that many times,
    waiting initial_backoff, 2x, 4x... seconds. `erase_attempts`/`task_poll`: forget_author repeats its
    delete-by-query that many times, polling the task every task_poll seconds (growing to 5 s)."""

    scheme = "elasticsearch"
    #: seconds a search, count or aggregation may run before it is stopped (QueryTooSlow), as in the SQLite
    #: store; None: no limit of listener's own (the cluster's search.default_search_timeout still applies).
    query_timeout: float | None = 20.0

    def __init__(self, index: str = DEFAULT_INDEX, *, client=None, create: bool = True, check_schema: bool = True,
                 bulk_retries: int = 5, initial_backoff: float = 1.0, erase_attempts: int = 5,
                 task_poll: float = 0.5, task_timeout: float = 3600.0, **client_options):
        hosts = client_options.pop("hosts", [f"http://127.0.0.1:{DEFAULT_PORT}"])
        self.where = ", ".join(hosts)
        if client is None:
            client = connect(hosts, **client_options)
        self.client = client
        self.index = index
        self.bulk_retries = bulk_retries
        self.initial_backoff = initial_backoff
        self.erase_attempts = erase_attempts
        self.task_poll = task_poll
        self.task_timeout = task_timeout
        self._max_buckets: int | None = None
        if create:
            self.create_index()
        elif check_schema:
            self.check_schema()

    def __repr__(self) -> str:
        return f"ElasticStore({self.index!r})"

    def _errors(self):
        return translate_errors(self.where)

    def _read(self, api: str, **kwargs) -> dict:
        """A search or count that is complete, or an error: a response from only some shards (a shard down or
        failing) or cut by a search time-out has counts that look right and are not, so it is refused.

        Time limit (`query_timeout`): a search carries it as its `timeout`, so each shard stops at it and the
        answer says timed_out (refused below: a partial count is a wrong count); the _count API takes no
        timeout, so there the request's own time-out stops it. The request waits `_TIMEOUT_GRACE` longer than
        the search, so the server's answer normally comes first; a node that stalls is given up on anyway,
        and closing the connection cancels the search in the cluster (Elasticsearch cancels a search whose
        HTTP client went away)."""
        from elastic_transport import ConnectionTimeout

        client = self.client
        if self.query_timeout is not None:
            if api == "search":
                kwargs.setdefault("timeout", f"{max(1, round(self.query_timeout * 1000))}ms")
            client = client.options(request_timeout=self.query_timeout + _TIMEOUT_GRACE)
        try:
            response = getattr(client, api)(**kwargs)
        except ConnectionTimeout:
            raise QueryTooSlow(too_slow_message(self.query_timeout)) from None
        shards = response.get("_shards") or {}
        if shards.get("failed"):
            reasons = "; ".join(sorted({f"{(f.get('reason') or {}).get('type', 'error')}: "
                                        f"{(f.get('reason') or {}).get('reason', '')}"
                                        for f in shards.get("failures") or []}))[:300]
            raise StoreUnavailable(f"{shards['failed']} of {shards.get('total', '?')} shards of {self.index!r} "
                                   f"failed ({reasons or 'no reason given'}); results would be incomplete")
        if response.get("timed_out"):
            # ours, or the cluster's search.default_search_timeout when that is shorter
            raise QueryTooSlow(too_slow_message(
                self.query_timeout, "Elasticsearch stopped the search at its time-out (its partial results are "
                                    "refused: their counts would look right and be wrong)"))
        return response

    # ------------------------------------------------------------ the index

    def concrete_index(self, version: int = SCHEMA_VERSION) -> str:
        return f"{self.index}-v{version}"

    def create_index(self) -> None:
        """Create `<name>-v<SCHEMA_VERSION>` behind the alias `<name>` unless the name exists (two processes may
        race: fine), then check the schema version of what is there."""
        from elasticsearch import BadRequestError

        with self._errors():
            if not self.client.indices.exists(index=self.index):
                try:
                    self.client.indices.create(index=self.concrete_index(), settings=SETTINGS, mappings=MAPPINGS,
                                               aliases={self.index: {"is_write_index": True}})
                except BadRequestError as error:
                    if error.error != "resource_already_exists_exception":
                        raise
        self.check_schema()

    def schema_versions(self) -> dict[str, int]:
        """{concrete index: the listener schema version in its mapping's _meta} (1 when it has none)."""
        with self._errors():
            mappings = self.client.indices.get_mapping(index=self.index)
        return {name: int((body.get("mappings", {}).get("_meta") or {}).get("listener_schema", 1))
                for name, body in dict(mappings).items()}

    def check_schema(self) -> None:
        """SchemaMismatch when an index behind the name was made for another schema version."""
        for name, version in self.schema_versions().items():
            if version != SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"index {name!r} (behind {self.index!r}) has listener schema version {version}, this listener "
                    f"needs {SCHEMA_VERSION}: run `listener es migrate` (it copies the mentions into a new index and "
                    f"switches the alias; searches keep working meanwhile)")

    def drop(self) -> None:
        """Delete the index(es) behind the name (tests, and `listener es migrate --delete-old` clean-ups)."""
        from elasticsearch import NotFoundError

        with self._errors():
            try:
                names = list(dict(self.client.indices.get_mapping(index=self.index)))
            except NotFoundError:
                return
            self.client.indices.delete(index=",".join(names), ignore_unavailable=True)

    # ------------------------------------------------------------ writing

    def upsert(self, mentions: Sequence[Mention]) -> UpsertResult:
        """Index the batch; per-document 429s (a busy cluster) are retried with backoff. Documents that still
        fail raise WriteFailed naming each id and reason: the batch is then NOT counted as stored, and the
        caller retries it whole (upserts are idempotent) or dead-letters it."""
        from elasticsearch import helpers

        actions = bulk_actions(self.index, mentions)
        result = UpsertResult(ids=[a["_id"] for a in actions])
        if not actions:
            return result
        failures: list[tuple[str, str]] = []
        with self._errors():
            for ok, item in helpers.streaming_bulk(
                    self.client, actions, refresh="wait_for", raise_on_error=False, max_retries=self.bulk_retries,
                    initial_backoff=self.initial_backoff, max_backoff=60, retry_on_status=(429,)):
                (_op, info), = item.items()
                if not ok:
                    failures.append((str(info.get("_id")), _item_reason(info)))
                elif info.get("result") == "created":
                    result.inserted += 1
                else:
                    result.updated += 1
        if failures:
            raise WriteFailed(failures, written=result.inserted + result.updated)
        return result

    def forget_author(self, author_id: str) -> int:
        """Delete the author's mentions with delete-by-query run as a task (a large erasure outlives one
        request's time-out), and repeat until a count of the author's mentions is zero: failures, version
        conflicts (a concurrent upsert) and time-outs leave documents behind, and a privacy erasure that
        silently leaves some is worse than one that fails loudly (ErasureIncomplete)."""
        query = {"term": {"author_id": author_id}}
        removed = 0
        problems: list[str] = []
        remaining = 0
        for attempt in range(self.erase_attempts):
            if attempt:
                time.sleep(min(self.task_poll * 2 ** attempt, 5.0))
            with self._errors():
                task = self.client.delete_by_query(index=self.index, query=query, conflicts="proceed", refresh=True,
                                                   wait_for_completion=False, slices="auto")
            outcome = self._wait_for_task(task["task"])
            response = outcome.get("response") or {}
            removed += int(response.get("deleted", 0))
            problems = _erasure_problems(outcome)
            with self._errors():
                self.client.indices.refresh(index=self.index)
                remaining = int(self._read("count", index=self.index, query=query)["count"])
            if remaining == 0:
                return removed
        detail = "; ".join(problems[:3]) or "documents remained after the deletion"
        raise ErasureIncomplete(f"{remaining} mention(s) of author {author_id!r} are still stored after "
                                f"{self.erase_attempts} delete-by-query attempts ({detail}); run the erasure again")

    def _wait_for_task(self, task_id: str) -> dict:
        deadline = time.monotonic() + self.task_timeout
        delay = self.task_poll
        while True:
            with self._errors(), warnings.catch_warnings():
                # the client marks the tasks API "technical preview"; it has been stable since 5.x and
                # delete-by-query documents it as the way to follow a task
                warnings.simplefilter("ignore")
                status = dict(self.client.tasks.get(task_id=task_id))
            if status.get("completed"):
                return status
            if time.monotonic() > deadline:
                raise ErasureIncomplete(f"the delete-by-query task {task_id} did not finish within "
                                        f"{self.task_timeout:.0f} s; it goes on in the cluster: check it with "
                                        f"GET _tasks/{task_id}, then run the erasure again")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------ reading

    def get(self, mention_id: str) -> Mention | None:
        from elasticsearch import NotFoundError

        with self._errors():
            try:
                response = self.client.get(index=self.index, id=mention_id, source_includes=["doc"])
            except NotFoundError:
                return None
        return _mention(response["_source"]) if response.get("found") else None

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._errors():
            response = self.client.mget(index=self.index, ids=list(dict.fromkeys(ids)), source=False)
        return {doc["_id"] for doc in response["docs"] if doc.get("found")}

    def find_fingerprints(self, bands: Sequence[str]) -> list[tuple[str, str]]:
        """Originals sharing a band, earliest published first."""
        if not bands:
            return []
        query = {"bool": {"filter": [{"terms": {"bands": list(bands)}}],
                          "must_not": [{"exists": {"field": "duplicate_of"}}]}}
        return [(m.id, m.fingerprint) for m in self._scan(query, [{"published_at": "asc"}, {"id": "asc"}])]

    def count(self, filters: Filters) -> int:
        with self._errors():
            return int(self._read("count", index=self.index, query=build_query(filters))["count"])

    def search(self, filters: Filters, sort: Literal["date", "relevance"] = "date", limit: int = 20,
               cursor: str | None = None) -> Page:
        """Date: newest first (ties by id); search_after on (published_at, id) neither skips nor repeats while
        the index changes, and shows mentions that arrive older than the reader's position. Relevance: BM25
        best first, `Hit.score` the _score, read from a point in time opened with the first page so that
        later pages rank the same snapshot (new documents change BM25 statistics and would shift the order);
        falls back to date when the query has no positive words (as the SQLite store), then score is None."""
        from listener.query.sqlite import highlight_terms

        if sort not in ("date", "relevance"):
            raise ValueError(f"sort must be 'date' or 'relevance', not {sort!r}")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        node = _parse(filters)
        terms = highlight_terms(node) if node is not None else []
        kind = "r" if sort == "relevance" and terms else "d"
        values = decode_cursor(cursor, kind)
        pit = None
        if kind == "r" and values:
            pit, values = values[0], values[1:]
        body = search_request(build_query(filters, node), kind, limit, values)
        if kind == "r":
            pit = pit or self._open_pit()
            body["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
        response = self._search_page(body, cursor is not None)
        raw = response["hits"]["hits"]
        pit = response.get("pit_id", pit)
        next_cursor = None
        if len(raw) > limit:
            raw = raw[:limit]
            # every sort value the server returned: with a point in time it appends its own tiebreaker, and
            # search_after must then carry it too
            next_cursor = encode_cursor(kind, ([pit] if kind == "r" else []) + list(raw[-1]["sort"]))
        elif pit is not None:
            self._close_pit(pit)
        hits = []
        for item in raw:
            mention = _mention(item["_source"])
            hits.append(Hit(mention=mention, snippet=_snippet(mention, terms),
                            score=item.get("_score") if kind == "r" else None))
        total = response["hits"]["total"]
        return Page(hits=hits, total=int(total["value"]), next_cursor=next_cursor,
                    total_exact=total.get("relation", "eq") == "eq")

    def _search_page(self, body: dict, from_cursor: bool) -> dict:
        from elasticsearch import BadRequestError, NotFoundError

        target = {} if "pit" in body else {"index": self.index}
        with self._errors():
            try:
                return self._read("search", **target, **body)
            except NotFoundError:
                if from_cursor and "pit" in body:  # search_context_missing_exception: the point in time expired
                    raise InvalidCursor(f"this cursor has expired (its search is more than {PIT_KEEP_ALIVE} old); "
                                        f"start again without it") from None
                raise
            except BadRequestError:
                if from_cursor:  # a well-formed cursor the server cannot use (a forged point-in-time id)
                    raise InvalidCursor("invalid cursor for this search; start again without one") from None
                raise

    def _open_pit(self) -> str:
        with self._errors():
            return self.client.open_point_in_time(index=self.index, keep_alive=PIT_KEEP_ALIVE)["id"]

    def _close_pit(self, pit: str) -> None:
        from elasticsearch import ApiError

        try:
            self.client.close_point_in_time(id=pit)
        except ApiError:  # it expires by itself; closing early only frees resources sooner
            pass

    def thread(self, source: str, thread_id: str, limit: int = 500) -> list[Mention]:
        """One conversation by the indexed `thread_id` (schema 3): a term query, instead of the base class's
        read of every mention of the source. Duplicates included, as on SQLite: a thread shows every reply."""
        if limit <= 0:
            return []
        query = {"bool": {"filter": [{"term": {"source": source}}, {"term": {"thread_id": thread_id}}]}}
        found: list[Mention] = []
        for mention in self._scan(query, [{"published_at": "asc"}, {"id": "asc"}], batch_size=min(limit, 1000)):
            found.append(mention)
            if len(found) >= limit:
                break
        return found

    def iter_mentions(self, filters: Filters, batch_size: int = 1000) -> Iterator[Mention]:
        """Oldest first, from a point in time: an export sees one snapshot, so a mention re-upserted with a new
        published_at while the export runs is neither missed nor seen twice."""
        yield from self._scan(build_query(filters), [{"published_at": "asc"}, {"id": "asc"}], batch_size,
                              self._open_pit())

    def _scan(self, query: dict, sort: list, batch_size: int = 1000, pit: str | None = None) -> Iterator[Mention]:
        """Every match in `sort` order by search_after; with a point in time, read from it and close it at the
        end (its id may change from one response to the next: the latest is the one to use and close)."""
        after = None
        try:
            while True:
                extra: dict = {"search_after": after} if after is not None else {}
                if pit is not None:
                    extra["pit"] = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
                else:
                    extra["index"] = self.index
                with self._errors():
                    response = self._read("search", query=query, sort=sort, size=batch_size,
                                          source_includes=["doc"], track_total_hits=False, **extra)
                pit = response.get("pit_id", pit)
                raw = response["hits"]["hits"]
                for item in raw:
                    yield _mention(item["_source"])
                if len(raw) < batch_size:
                    return
                after = raw[-1]["sort"]  # all of them (a point in time adds a tiebreaker)
        finally:
            if pit is not None:
                self._close_pit(pit)

    # ------------------------------------------------------------ aggregations

    def terms(self, filters: Filters, field: str, size: int = 10) -> list[tuple[str, int]]:
        """Most common first, ties by value (exact on one shard; Elasticsearch's usual approximation on more)."""
        if size > self.max_buckets():
            raise TooManyBuckets(f"size {size} is more than the cluster's search.max_buckets ({self.max_buckets()})")
        agg = {"terms": {"field": _term_field(field), "size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        with self._errors():
            response = self._read("search", index=self.index, query=build_query(filters), size=0,
                                  aggs={"values": agg}, track_total_hits=False)
        return [(str(b["key"]), int(b["doc_count"])) for b in response["aggregations"]["values"]["buckets"]]

    def max_buckets(self) -> int:
        """The cluster's search.max_buckets (persistent, transient or default), read once; the documented default
        when the user may not read cluster settings."""
        from listener.store.base import StoreError

        if self._max_buckets is None:
            value = None
            try:
                with self._errors():
                    settings = self.client.cluster.get_settings(include_defaults=True,
                                                                filter_path="**.max_buckets")
                for level in ("transient", "persistent", "defaults"):  # the first one set wins
                    found = settings.get(level) or {}
                    # nested ({"search": {"max_buckets": ...}}), or flat if the cluster stored it so
                    value = value or (found.get("search") or {}).get("max_buckets") or found.get("search.max_buckets")
            except StoreError:  # e.g. no cluster:monitor privilege: assume the default
                value = None
            self._max_buckets = int(value) if value else DEFAULT_SEARCH_MAX_BUCKETS
        return self._max_buckets

    def timeseries(self, filters: Filters, interval: str = "1d", tz: str = "UTC",
                   split: str | None = None) -> list[tuple[datetime, dict[str, int]]]:
        """Counts per bucket, gaps filled. The bucket count is checked against MAX_BUCKETS and the cluster's
        search.max_buckets before asking; a split pages through (bucket, value) pairs with a composite
        aggregation, so no value is cut (a top-1000 of authors would silently drop the rest)."""
        histogram = histogram_aggregation(interval, tz)
        zone = ZoneInfo(tz)
        # a split leaves out mentions without a value (no lang, no brand): so do the buckets, as in SQLite
        extra = [{"exists": {"field": _term_field(split)}}] if split else []
        query = build_query(filters, extra=extra)
        with self._errors():
            span = self._read("search", index=self.index, query=query, size=0, track_total_hits=False,
                              aggs={"first": {"min": {"field": "published_at"}},
                                    "last": {"max": {"field": "published_at"}}})["aggregations"]
        if span["first"]["value"] is None:
            return []
        limit = min(MAX_BUCKETS, self.max_buckets())
        # +2: a calendar day or hour bucket may start before the first mention and DST adds an hour
        expected = (span["last"]["value"] - span["first"]["value"]) / 1000 / INTERVALS[interval] + 2
        if expected > limit:
            raise TooManyBuckets(f"about {int(expected)} time buckets is more than {limit} (the cluster's "
                                f"search.max_buckets or listener's limit); choose a larger interval or a shorter range")
        with self._errors():
            response = self._read("search", index=self.index, query=query, size=0,
                                  track_total_hits=False, aggs={"series": histogram})
        buckets = response["aggregations"]["series"]["buckets"]
        if split is None:
            return series_from_buckets(buckets, zone, None)
        return series_from_buckets(buckets, zone, self._split_counts(query, interval, tz, split))

    def _split_counts(self, query: dict, interval: str, tz: str, split: str) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}
        after = None
        while True:
            with self._errors():
                response = self._read("search", index=self.index, query=query, size=0,
                                      track_total_hits=False,
                                      aggs={"pairs": composite_aggregation(interval, tz, split, after)})
            page = response["aggregations"]["pairs"]
            for bucket in page["buckets"]:
                counts.setdefault(int(bucket["key"]["t"]), {})[str(bucket["key"]["v"])] = int(bucket["doc_count"])
            after = page.get("after_key")
            if not page["buckets"] or after is None:
                return counts

    def close(self) -> None:
        self.client.close()


def _item_reason(info: dict) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        return f"{info.get('status')} {error.get('type', 'error')}: {error.get('reason', '')}".strip()
    return f"{info.get('status')} {error or info.get('exception') or 'failed'}"


def _erasure_problems(outcome: dict) -> list[str]:
    """What went wrong in a finished delete-by-query task: failures, version conflicts, a time-out, an error."""
    problems = []
    if outcome.get("error"):
        error = outcome["error"]
        problems.append(f"{error.get('type', 'error')}: {error.get('reason', '')}")
    response = outcome.get("response") or {}
    for failure in response.get("failures") or []:
        cause = failure.get("cause") or failure.get("reason") or {}
        problems.append(f"{cause.get('type', 'failure')}: {cause.get('reason', '')}" if isinstance(cause, dict)
                        else str(cause))
    if response.get("version_conflicts"):
        problems.append(f"{response['version_conflicts']} version conflict(s) with concurrent writes")
    if response.get("timed_out"):
        problems.append("the deletion timed out")
    return problems


def search_request(query: dict, kind: str, limit: int, after: list | None) -> dict:
    """The keyword arguments of client.search for one page (one extra hit says whether a next page exists)."""
    body = {"query": query, "sort": _RELEVANCE_SORT if kind == "r" else _DATE_SORT, "size": limit + 1,
            "track_total_hits": TRACK_TOTAL_HITS, "source_includes": ["doc"]}
    if after is not None:
        body["search_after"] = after
    return body


def series_from_buckets(buckets: list[dict], zone: ZoneInfo,
                        split: dict[int, dict[str, int]] | None) -> list[tuple[datetime, dict[str, int]]]:
    """date_histogram buckets (every bucket, empty ones too) -> [(aware bucket start in `zone`, {value: count})];
    with `split` ({bucket key: {value: count}} from the composite pages) each bucket holds every value seen
    in the series (0 where absent), without it {"all": n}."""
    if split is None:
        return [(datetime.fromtimestamp(b["key"] / 1000, zone), {"all": int(b["doc_count"])}) for b in buckets]
    seen = sorted({value for counts in split.values() for value in counts})
    out = []
    for b in buckets:
        counts = split.get(int(b["key"]), {})
        out.append((datetime.fromtimestamp(b["key"] / 1000, zone), {key: counts.get(key, 0) for key in seen}))
    return out


def _snippet(mention: Mention, terms) -> str:
    from listener.store.sqlite import snippet

    return snippet(mention, terms)

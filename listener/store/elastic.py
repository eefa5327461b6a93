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
  the contract requires, without forcing a refresh per batch on a busy cluster.
- Date sort: published_at desc, id asc; relevance: _score desc, then the same. Pages use search_after
  with an opaque cursor (base64 JSON of the sort values, tagged with the sort kind), so deep pages cost
  the same as the first and new arrivals do not shift a reader's pages. `total` counts to 10,000
  (track_total_hits) and says when it stopped (`Page.total_exact`); `count()` is exact.
- Snippets are computed in Python by listener.store.sqlite.snippet, the same function the SQLite store
  uses, so both back ends highlight identically (ES highlighting works on the normalised tokens, not on
  the original spelling the user wants to see).
- Time series use date_histogram with the time zone done by Elasticsearch: "1h" and "1d" are calendar
  intervals (local midnight, 23/25-hour days, a repeated hour is two buckets), the others fixed intervals
  aligned in local time; min_doc_count 0 fills the gaps between the first and last bucket.

Not done here: point-in-time for iter_mentions (search_after alone; a mention re-upserted with a new
published_at during an export may be seen twice or not at all), and index aliases/rollover.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timezone
from typing import Iterator, Literal, Sequence
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from listener.model import Mention
from listener.store import register
from listener.store.base import INTERVALS, CursorError, SeriesTooLong, TERM_FIELDS, Filters, Hit, Page, Store, UpsertResult

DEFAULT_INDEX = "listener-mentions"
DEFAULT_PORT = 9200
#: search pages count matches up to here (Page.total_exact False beyond it)
TRACK_TOTAL_HITS = 10_000
#: at most this many buckets in a time series (as the SQLite store)
MAX_BUCKETS = 100_000
#: values per time bucket when a series is split (a terms sub-aggregation)
SPLIT_SIZE = 1_000
#: Lucene refuses a token over 32766 bytes; 8191 characters of up to 4 UTF-8 bytes each stay under it.
MAX_TOKEN_LENGTH = 8191

ANALYZER = "listener_tokens"
SETTINGS: dict = {
    "analysis": {
        "tokenizer": {"listener_whitespace": {"type": "whitespace", "max_token_length": MAX_TOKEN_LENGTH}},
        "analyzer": {ANALYZER: {"type": "custom", "tokenizer": "listener_whitespace", "filter": []}},
    },
}
_KEYWORD = {"type": "keyword"}
MAPPINGS: dict = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "source": _KEYWORD,
        "lang": _KEYWORD,
        "domain": _KEYWORD,
        "domain_parts": _KEYWORD,
        "author_key": _KEYWORD,
        "author_id": _KEYWORD,
        "title": {"type": "text", "analyzer": ANALYZER},
        "body": {"type": "text", "analyzer": ANALYZER},
        "published_at": {"type": "date", "format": "epoch_second"},
        "sentiment": _KEYWORD,
        "sentiment_score": {"type": "double"},
        "rating": {"type": "double"},
        "brands": _KEYWORD,
        "topics": _KEYWORD,
        "duplicate_of": _KEYWORD,
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


def parse_url(url: str) -> dict:
    """`elasticsearch://[user:pass@]host[:port][/index]` -> {"hosts": [...], "index": ..., "basic_auth": ...}.
    `elasticsearchs://` connects over HTTPS."""
    parts = urlsplit(url)
    if parts.scheme not in ("elasticsearch", "elasticsearchs"):
        raise ValueError(f"not an elasticsearch URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    http = "https" if parts.scheme == "elasticsearchs" else "http"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    index = unquote(parts.path.strip("/")) or DEFAULT_INDEX
    if "/" in index:
        raise ValueError(f"the index name in {url!r} may not contain '/'")
    out = {"hosts": [f"{http}://{host}:{parts.port or DEFAULT_PORT}"], "index": index}
    if parts.username:
        out["basic_auth"] = (unquote(parts.username), unquote(parts.password or ""))
    return out


@register("elasticsearch")
@register("elasticsearchs")
def open_elastic(url: str) -> "ElasticStore":
    options = parse_url(url)
    return ElasticStore(options.pop("index"), **options)


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
    original = mention.duplicate_of is None
    doc.update({
        "published_at": _epoch(mention.published_at),
        "sentiment": mention.sentiment.label if mention.sentiment else "unscored",
        "sentiment_score": mention.sentiment.score if mention.sentiment else None,
        "rating": mention.rating,
        "brands": list(mention.brands),
        "topics": list(mention.topics),
        "duplicate_of": mention.duplicate_of,
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


def encode_cursor(kind: str, sort_values: Sequence) -> str:
    raw = json.dumps([kind, *sort_values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str) -> list | None:
    """The search_after values of a cursor made by encode_cursor(kind, ...); ValueError if it is not one."""
    if not cursor:
        return None
    size = len(_RELEVANCE_SORT if kind == "r" else _DATE_SORT)
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, list) or data[0] != kind or len(data) != size + 1:
            raise ValueError
        return data[1:]
    except (ValueError, TypeError, IndexError, UnicodeDecodeError):
        raise CursorError("invalid cursor for this search; start again without one") from None


def histogram_aggregation(interval: str, tz: str, split: str | None = None) -> dict:
    """The date_histogram aggregation of a time series (validates interval, time zone and split field)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    ZoneInfo(tz)  # an unknown zone fails here, with Python's error, not as a server error
    kind = "calendar_interval" if interval in CALENDAR_INTERVALS else "fixed_interval"
    histogram = {"field": "published_at", kind: interval, "time_zone": tz, "min_doc_count": 0}
    agg: dict = {"date_histogram": histogram}
    if split is not None:
        agg["aggs"] = {"split": {"terms": {"field": _term_field(split), "size": SPLIT_SIZE}}}
    return agg


def _term_field(field: str) -> str:
    try:
        return TERM_INDEX_FIELDS[field]
    except KeyError:
        raise ValueError(f"field must be one of {', '.join(TERM_FIELDS)}, not {field!r}") from None


# ---------------------------------------------------------------- the store


class ElasticStore(Store):
    """The distributed back end: one index, one client (thread-safe, pooled connections)."""

    scheme = "elasticsearch"

    def __init__(self, index: str = DEFAULT_INDEX, *, client=None, create: bool = True, **client_options):
        if client is None:
            from elasticsearch import Elasticsearch

            client_options.setdefault("hosts", [f"http://127.0.0.1:{DEFAULT_PORT}"])
            client_options.setdefault("request_timeout", 30)
            client = Elasticsearch(**client_options)
        self.client = client
        self.index = index
        if create:
            self.create_index()

    def __repr__(self) -> str:
        return f"ElasticStore({self.index!r})"

    def create_index(self) -> None:
        """Create the index with MAPPINGS and SETTINGS unless it exists (two processes may race: fine)."""
        from elasticsearch import BadRequestError

        if self.client.indices.exists(index=self.index):
            return
        try:
            self.client.indices.create(index=self.index, settings=SETTINGS, mappings=MAPPINGS)
        except BadRequestError as error:
            if error.error != "resource_already_exists_exception":
                raise

    # ------------------------------------------------------------ writing

    def upsert(self, mentions: Sequence[Mention]) -> UpsertResult:
        from elasticsearch import helpers

        actions = bulk_actions(self.index, mentions)
        result = UpsertResult(ids=[a["_id"] for a in actions])
        if not actions:
            return result
        for ok, item in helpers.streaming_bulk(self.client, actions, refresh="wait_for", raise_on_error=True,
                                               max_retries=3):
            outcome = item.get("index", {}).get("result")
            if outcome == "created":
                result.inserted += 1
            else:
                result.updated += 1
        return result

    def forget_author(self, author_id: str) -> int:
        response = self.client.delete_by_query(index=self.index, query={"term": {"author_id": author_id}},
                                               refresh=True, conflicts="proceed")
        return int(response["deleted"])

    # ------------------------------------------------------------ reading

    def get(self, mention_id: str) -> Mention | None:
        from elasticsearch import NotFoundError

        try:
            response = self.client.get(index=self.index, id=mention_id, source_includes=["doc"])
        except NotFoundError:
            return None
        return _mention(response["_source"]) if response.get("found") else None

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
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
        return int(self.client.count(index=self.index, query=build_query(filters))["count"])

    def search(self, filters: Filters, sort: Literal["date", "relevance"] = "date", limit: int = 20,
               cursor: str | None = None) -> Page:
        """Date: newest first (ties by id). Relevance: BM25 best first, `Hit.score` the _score; falls back to
        date when the query has no positive words (as the SQLite store), then score is None."""
        from listener.query.sqlite import highlight_terms

        if sort not in ("date", "relevance"):
            raise ValueError(f"sort must be 'date' or 'relevance', not {sort!r}")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        node = _parse(filters)
        terms = highlight_terms(node) if node is not None else []
        kind = "r" if sort == "relevance" and terms else "d"
        after = decode_cursor(cursor, kind)
        body = search_request(build_query(filters, node), kind, limit, after)
        response = self.client.search(index=self.index, **body)
        raw = response["hits"]["hits"]
        next_cursor = None
        if len(raw) > limit:
            raw = raw[:limit]
            next_cursor = encode_cursor(kind, raw[-1]["sort"])
        hits = []
        for item in raw:
            mention = _mention(item["_source"])
            hits.append(Hit(mention=mention, snippet=_snippet(mention, terms),
                            score=item.get("_score") if kind == "r" else None))
        total = response["hits"]["total"]
        return Page(hits=hits, total=int(total["value"]), next_cursor=next_cursor,
                    total_exact=total.get("relation", "eq") == "eq")

    def iter_mentions(self, filters: Filters, batch_size: int = 1000) -> Iterator[Mention]:
        yield from self._scan(build_query(filters), [{"published_at": "asc"}, {"id": "asc"}], batch_size)

    def _scan(self, query: dict, sort: list, batch_size: int = 1000) -> Iterator[Mention]:
        after = None
        while True:
            extra = {"search_after": after} if after is not None else {}
            response = self.client.search(index=self.index, query=query, sort=sort, size=batch_size,
                                          source_includes=["doc"], track_total_hits=False, **extra)
            raw = response["hits"]["hits"]
            for item in raw:
                yield _mention(item["_source"])
            if len(raw) < batch_size:
                return
            after = raw[-1]["sort"]

    # ------------------------------------------------------------ aggregations

    def terms(self, filters: Filters, field: str, size: int = 10) -> list[tuple[str, int]]:
        """Most common first, ties by value (exact on one shard; Elasticsearch's usual approximation on more)."""
        agg = {"terms": {"field": _term_field(field), "size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        response = self.client.search(index=self.index, query=build_query(filters), size=0,
                                      aggs={"values": agg}, track_total_hits=False)
        return [(str(b["key"]), int(b["doc_count"])) for b in response["aggregations"]["values"]["buckets"]]

    def timeseries(self, filters: Filters, interval: str = "1d", tz: str = "UTC",
                   split: str | None = None) -> list[tuple[datetime, dict[str, int]]]:
        agg = histogram_aggregation(interval, tz, split)
        zone = ZoneInfo(tz)
        # a split leaves out mentions without a value (no lang, no brand): so do the buckets, as in SQLite
        extra = [{"exists": {"field": _term_field(split)}}] if split else []
        query = build_query(filters, extra=extra)
        span = self.client.search(index=self.index, query=query, size=0, track_total_hits=False,
                                  aggs={"first": {"min": {"field": "published_at"}},
                                        "last": {"max": {"field": "published_at"}}})["aggregations"]
        if span["first"]["value"] is None:
            return []
        if (span["last"]["value"] - span["first"]["value"]) / 1000 / INTERVALS[interval] >= MAX_BUCKETS:
            raise SeriesTooLong(f"more than {MAX_BUCKETS} buckets; choose a larger interval or a shorter range")
        response = self.client.search(index=self.index, query=query, size=0, track_total_hits=False,
                                      aggs={"series": agg})
        return series_from_buckets(response["aggregations"]["series"]["buckets"], zone, split is not None)

    def close(self) -> None:
        self.client.close()


def search_request(query: dict, kind: str, limit: int, after: list | None) -> dict:
    """The keyword arguments of client.search for one page (one extra hit says whether a next page exists)."""
    body = {"query": query, "sort": _RELEVANCE_SORT if kind == "r" else _DATE_SORT, "size": limit + 1,
            "track_total_hits": TRACK_TOTAL_HITS, "source_includes": ["doc"]}
    if after is not None:
        body["search_after"] = after
    return body


def series_from_buckets(buckets: list[dict], zone: ZoneInfo, split: bool) -> list[tuple[datetime, dict[str, int]]]:
    """date_histogram buckets -> [(aware bucket start in `zone`, {value: count})]; a split bucket holds every
    value seen in the series (0 where absent), an unsplit one {"all": n}."""
    if not split:
        return [(datetime.fromtimestamp(b["key"] / 1000, zone), {"all": int(b["doc_count"])}) for b in buckets]
    seen = sorted({str(v["key"]) for b in buckets for v in b["split"]["buckets"]})
    out = []
    for b in buckets:
        counts = {str(v["key"]): int(v["doc_count"]) for v in b["split"]["buckets"]}
        out.append((datetime.fromtimestamp(b["key"] / 1000, zone), {key: counts.get(key, 0) for key in seen}))
    return out


def _snippet(mention: Mention, terms) -> str:
    from listener.store.sqlite import snippet

    return snippet(mention, terms)

"""The Elasticsearch store: the shared contract against a real server (only when LISTENER_ES_URL is set, e.g.
elasticsearch://127.0.0.1:9200; no server can be installed on the development machines), and offline
tests of the pure parts: URL parsing, the index definition, documents and bulk actions, cursors and
request building."""

from __future__ import annotations

import importlib
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from listener.dedupe import bands
from listener.store import _BUILTIN_MODULES, BACKENDS
from listener.store import elastic as es
from listener.store.base import Filters, StoreConfigError
from listener.store.elastic_connect import client_options
from store_contract import FP_A, StoreContract, corpus, mention

UTC = timezone.utc
ROOT = Path(__file__).resolve().parent.parent
ES_URL = os.environ.get("LISTENER_ES_URL")


@pytest.mark.skipif(not ES_URL, reason="LISTENER_ES_URL is not set (e.g. elasticsearch://127.0.0.1:9200): "
                                       "the contract needs a real Elasticsearch server")
class TestElasticContract(StoreContract):
    @pytest.fixture(scope="class")
    def prefix(self):
        return f"listener-test-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def store(self, prefix):
        _index, options = client_options(ES_URL)  # credentials and TLS from LISTENER_ES_* as in production
        store = es.ElasticStore(f"{prefix}-{uuid.uuid4().hex[:8]}", **options)  # empty: an index per test
        yield store
        store.drop()
        store.close()


# ---------------------------------------------------------------- every back end has a contract module


def test_every_builtin_backend_has_a_contract_test():
    for scheme, module in _BUILTIN_MODULES.items():
        importlib.import_module(module)
        assert scheme in BACKENDS
        name = module.rsplit(".", 1)[1]
        test = ROOT / "tests" / f"test_store_{name}.py"
        assert test.exists(), f"{module} has no {test.name}"
        assert "StoreContract" in test.read_text(), f"{test.name} does not run the shared contract"


# ---------------------------------------------------------------- URLs and the index definition


def test_parse_url():
    assert es.parse_url("elasticsearch://127.0.0.1:9200") == {"hosts": ["http://127.0.0.1:9200"],
                                                               "index": "listener-mentions"}
    assert es.parse_url("elasticsearchs://es.example/brand-a") == {"hosts": ["https://es.example:9200"],
                                                                    "index": "brand-a"}
    assert es.parse_url("elasticsearch://u:p%40ss@[::1]:9201/x")["hosts"] == ["http://[::1]:9201"]
    assert es.parse_url("elasticsearch://u:p%40ss@h/x")["basic_auth"] == ("u", "p@ss")
    for bad in ("sqlite:///x.db", "elasticsearch:///no-host", "elasticsearch://h/a/b", "elasticsearch://h/Upper",
                "elasticsearch://h/a*b"):
        with pytest.raises(StoreConfigError):
            es.parse_url(bad)
    with pytest.raises(StoreConfigError) as caught:
        es.parse_url("elasticsearch://user:s3cret@h/a,b")
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


def test_open_store_registers_both_schemes():
    assert BACKENDS["elasticsearch"] is es.open_elastic and BACKENDS["elasticsearchs"] is es.open_elastic


def test_deploy_template_is_generated_from_the_module():
    on_disk = json.loads((ROOT / "deploy" / "elasticsearch" / "index-template.json").read_text())
    assert on_disk == es.index_template(), (
        "regenerate: python -c 'import json; from listener.store.elastic import index_template; "
        "print(json.dumps(index_template(), indent=2, ensure_ascii=False))' > deploy/elasticsearch/index-template.json")


def test_mapping_carries_the_schema_version_and_prefix_index():
    assert es.MAPPINGS["_meta"] == {"listener_schema": es.SCHEMA_VERSION}
    for field in ("title", "body"):  # prefix inside a phrase or NEAR is one term, not an expansion
        assert es.MAPPINGS["properties"][field]["index_prefixes"] == {"min_chars": 1, "max_chars": 10}
    assert es.SETTINGS["number_of_shards"] >= 1 and "refresh_interval" in es.SETTINGS


def test_every_document_field_is_mapped():
    doc = es.index_document(corpus()[0])
    assert set(doc) == set(es.MAPPINGS["properties"])
    assert es.MAPPINGS["dynamic"] == "strict"
    for field in ("title", "body"):
        assert es.MAPPINGS["properties"][field]["analyzer"] == es.ANALYZER
    assert es.SETTINGS["analysis"]["analyzer"][es.ANALYZER]["tokenizer"] == "listener_whitespace"


# ---------------------------------------------------------------- documents and bulk actions


def test_index_document():
    m1, m7 = corpus()[0], corpus()[6]
    doc = es.index_document(m1)
    assert doc["id"] == m1.id and doc["published_at"] == int(datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp())
    assert doc["body"] == "acme support was slow to answer my refund question"
    assert doc["domain_parts"] == ["reddit.com", "com"]
    assert doc["sentiment"] == "negative" and doc["brands"] == ["acme"] and doc["bands"] == list(bands(FP_A))
    assert json.loads(json.dumps(doc))["doc"] == json.loads(m1.to_json())
    assert es.index_document(m7)["bands"] == []  # a duplicate: never a dedupe candidate
    unscored = es.index_document(corpus()[4])
    assert unscored["sentiment"] == "unscored" and unscored["sentiment_score"] is None


def test_document_round_trips_the_mention():
    m = corpus()[3]
    assert es._mention(json.loads(json.dumps(es.index_document(m)))) == m


def test_bulk_actions_last_copy_wins():
    actions = es.bulk_actions("idx", [mention("a", "first"), mention("b"), mention("a", "second")])
    assert [a["_id"] for a in actions] == [mention("b").id, mention("a").id]
    assert all(a["_op_type"] == "index" and a["_index"] == "idx" for a in actions)
    assert actions[1]["_source"]["body"] == "second"
    assert es.bulk_actions("idx", []) == []


# ---------------------------------------------------------------- cursors and requests


def test_cursor_round_trip_and_rejects():
    cursor = es.encode_cursor("d", [1714557600000, "abc"])
    assert es.decode_cursor(cursor, "d") == [1714557600000, "abc"]
    assert es.decode_cursor(None, "d") is None
    relevance = es.encode_cursor("r", ["pit-id", 1.5, 1714557600000, "abc"])
    assert es.decode_cursor(relevance, "r") == ["pit-id", 1.5, 1714557600000, "abc"]
    with_tiebreaker = es.encode_cursor("r", ["pit-id", 1.5, 1714557600000, "abc", 12884901890])
    assert es.decode_cursor(with_tiebreaker, "r")[-1] == 12884901890
    # well-formed base64 JSON with the wrong types is refused here, before the server sees it
    forged = [es.encode_cursor("d", ["1714557600000", "abc"]), es.encode_cursor("d", [True, "abc"]),
              es.encode_cursor("d", [1, {"x": 1}]), es.encode_cursor("d", [1.5, "abc"])]
    for bad in ("not a cursor", relevance, es.encode_cursor("d", [1]), *forged):
        with pytest.raises(ValueError, match="invalid cursor"):
            es.decode_cursor(bad, "d")
    with pytest.raises(ValueError):
        es.decode_cursor(es.encode_cursor("r", [1.5, 1, "abc"]), "r")  # no point in time
    with pytest.raises(ValueError):
        es.decode_cursor(es.encode_cursor("r", ["pit", 1.5, 1, "abc", "x"]), "r")


def test_build_query():
    assert es.build_query(Filters(include_duplicates=True)) == {"match_all": {}}
    query = es.build_query(Filters(query="refund", sources=("reddit",), sentiments=("unscored",),
                                   since=datetime(2024, 5, 1, 0, 0, 0, 500000), until=datetime(2024, 5, 2, 0, 0, 0, 1),
                                   rating_min=1.0))
    start = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
    assert query["bool"]["filter"] == [
        {"terms": {"source": ["reddit"]}}, {"terms": {"sentiment": ["unscored"]}},
        {"range": {"published_at": {"gte": start, "lt": start + 86400 + 1}}},
        {"range": {"rating": {"gte": 1.0}}}]
    assert query["bool"]["must_not"] == [{"exists": {"field": "duplicate_of"}}]
    assert len(query["bool"]["must"]) == 1
    from listener.query import QuerySyntaxError

    with pytest.raises(QuerySyntaxError):
        es.build_query(Filters(query="(acme OR"))


def test_search_request():
    body = es.search_request({"match_all": {}}, "d", 20, None)
    assert body["sort"] == [{"published_at": "desc"}, {"id": "asc"}] and body["size"] == 21
    assert body["track_total_hits"] == es.TRACK_TOTAL_HITS and "search_after" not in body
    body = es.search_request({"match_all": {}}, "r", 5, [2.0, 1, "x"])
    assert body["sort"][0] == {"_score": "desc"} and body["search_after"] == [2.0, 1, "x"]


def test_histogram_and_composite_aggregations():
    assert es.histogram_aggregation("1d", "America/New_York") == {"date_histogram": {
        "field": "published_at", "calendar_interval": "1d", "time_zone": "America/New_York", "min_doc_count": 0}}
    assert es.histogram_aggregation("15m", "UTC")["date_histogram"]["fixed_interval"] == "15m"
    agg = es.composite_aggregation("1h", "Asia/Tehran", "author", after={"t": 1, "v": "x"})["composite"]
    assert agg["sources"] == [{"t": {"date_histogram": {"field": "published_at", "calendar_interval": "1h",
                                                        "time_zone": "Asia/Tehran"}}},
                              {"v": {"terms": {"field": "author_id"}}}]
    assert agg["size"] == es.COMPOSITE_PAGE and agg["after"] == {"t": 1, "v": "x"}
    with pytest.raises(ValueError):
        es.histogram_aggregation("7m", "UTC")
    with pytest.raises(ValueError):
        es.composite_aggregation("1d", "UTC", "colour")
    with pytest.raises(Exception):
        es.histogram_aggregation("1d", "Mars/Olympus")


def test_series_from_buckets():
    ny = ZoneInfo("America/New_York")
    key = int(datetime(2024, 11, 3, tzinfo=ny).timestamp() * 1000)
    buckets = [{"key": key, "doc_count": 2}, {"key": key + 25 * 3600_000, "doc_count": 1}]
    split = {key: {"acme": 2}, key + 25 * 3600_000: {"globex": 1}}
    series = es.series_from_buckets(buckets, ny, split)
    assert series == [(datetime(2024, 11, 3, tzinfo=ny), {"acme": 2, "globex": 0}),
                      (datetime(2024, 11, 4, tzinfo=ny), {"acme": 0, "globex": 1})]
    assert es.series_from_buckets(buckets, ny, None)[1][1] == {"all": 1}


def test_deploy_api_key_grants_what_the_store_uses():
    body = json.loads((ROOT / "deploy" / "elasticsearch" / "api-key.json").read_text())
    (role,) = body["role_descriptors"].values()
    assert "monitor" in role["cluster"]  # GET _tasks/<id> for erasure, cluster settings for max_buckets
    indices, alert_state = role["indices"]
    assert indices["names"] == [es.DEFAULT_INDEX + "*"] == es.index_template()["index_patterns"]
    assert {"read", "write", "delete", "manage", "create_index"} <= set(indices["privileges"])
    # the alert state's own index (listener.alerts.state_elastic), outside the mentions' template pattern
    from listener.alerts.state_elastic import ALERT_INDEX_PREFIX

    assert alert_state["names"] == [ALERT_INDEX_PREFIX + es.DEFAULT_INDEX + "*"]
    assert not (ALERT_INDEX_PREFIX + es.DEFAULT_INDEX).startswith(es.index_template()["index_patterns"][0][:-1])
    assert {"read", "write", "delete", "create_index"} <= set(alert_state["privileges"])


def test_documents_carry_the_models_probabilities_and_mixed_is_two_ranges():
    from listener.model import MIXED_MIN, Sentiment

    m = corpus()[1].model_copy(update={"sentiment": Sentiment.from_probabilities([0.4, 0.2, 0.4])})
    doc = es.index_document(m)
    assert (doc["sentiment_negative"], doc["sentiment_neutral"], doc["sentiment_positive"]) == (0.4, 0.2, 0.4)
    assert es._mention(json.loads(json.dumps(doc))) == m
    for old in (corpus()[0], corpus()[4]):  # scored before probabilities were kept, and unscored
        assert es.index_document(old)["sentiment_negative"] is None
    clauses = es.build_query(Filters(mixed=True))["bool"]["filter"]
    assert {"range": {"sentiment_negative": {"gte": MIXED_MIN}}} in clauses
    assert {"range": {"sentiment_positive": {"gte": MIXED_MIN}}} in clauses
    assert set(es.MAPPINGS["properties"]) >= {"sentiment_negative", "sentiment_neutral", "sentiment_positive"}

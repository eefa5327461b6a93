"""The Elasticsearch store against a local server that answers as Elasticsearch 8 and 9 do (tests/fake_elastic.py):
what a busy, secured, real cluster does to it. Each test scripts the server's answers and checks both what the
store sends and what it makes of the answer."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import ssl

import pytest

from fake_elastic import (
    FakeElasticsearch, Response, bulk_answer, bulk_failure, bulk_item, bulk_rejection, error, stalled,
)
from listener.store import elastic as es
from listener.store.base import (
    CursorError, ErasureIncomplete, Filters, QueryRejected, QueryTooSlow, SchemaMismatch, SeriesTooLong, StoreConfigError,
    StoreUnavailable, WriteFailed,
)
from listener.store.elastic_connect import client_options, env_options
from store_contract import StoreContract, corpus, mention

FAST = {"initial_backoff": 0.01, "task_poll": 0.01}  # no real waiting in tests


@pytest.fixture(params=["8.19.3", "9.1.4"])
def server(request):
    with FakeElasticsearch(request.param) as fake:
        yield fake


def open_store(server: FakeElasticsearch, index: str = "listener-test", **options) -> es.ElasticStore:
    return es.ElasticStore(index, hosts=[server.url], **{**FAST, **options})


def compat(request, header: str = "accept") -> str:
    return request.headers.get(header, "")


# ---------------------------------------------------------------- 1. client and server versions


def test_the_client_speaks_the_servers_rest_version(server):
    store = open_store(server)
    first, *rest = server.requests
    assert (first.method, first.path) == ("GET", "/") and "compatible-with=8" in compat(first)
    assert rest, "the store created its index"
    for request in rest:
        assert f"compatible-with={server.major}" in compat(request), (request.method, request.path)
    store.upsert([mention("a")])
    bulk = server.calls("PUT", "/_bulk$") + server.calls("POST", "/_bulk$")
    assert f"compatible-with={server.major}" in compat(bulk[-1], "content-type")
    assert store.client.server_version == server.version
    store.close()


def test_an_unadjusted_9x_client_is_refused_by_an_8_server():
    """The fake refuses as Elasticsearch 8 does, so the test above would fail without the adjustment."""
    from elasticsearch import BadRequestError, Elasticsearch

    with FakeElasticsearch("8.19.3") as server:
        with pytest.raises(BadRequestError) as caught:
            Elasticsearch(server.url).info()
        assert caught.value.error == "media_type_header_exception"


def test_an_unsupported_server_version_is_refused_with_a_message():
    with FakeElasticsearch("7.17.9") as server:
        with pytest.raises(StoreUnavailable, match="listener supports Elasticsearch 8.x and 9.x"):
            open_store(server)


# ---------------------------------------------------------------- 2. bulk indexing


def test_rejected_documents_are_retried_until_stored(server):
    store = open_store(server)
    batch = [mention("a"), mention("b"), mention("c")]
    b_id = batch[1].id
    server.script("PUT", "/_bulk$",
                  bulk_answer(lambda i, idx: bulk_rejection(i, idx) if i == b_id else bulk_item(i, idx)))
    result = store.upsert(batch)
    assert (result.inserted, result.updated) == (3, 0)
    bulks = server.calls("PUT", "/_bulk$")
    assert len(bulks) == 2
    assert [line["index"]["_id"] for line in bulks[1].body[::2]] == [b_id]  # only the rejected one again
    assert b_id in server.indices["listener-test-v4"]["docs"]


def test_documents_still_failing_are_reported_and_the_batch_not_counted(server):
    store = open_store(server, bulk_retries=2)
    batch = [mention("a"), mention("b"), mention("c")]
    busy, bad = batch[0].id, batch[2].id

    def items(doc_id, index):
        if doc_id == busy:
            return bulk_rejection(doc_id, index)
        if doc_id == bad:
            return bulk_failure(doc_id, index, "document_parsing_exception", "[1:20] failed to parse field [rating]")
        return bulk_item(doc_id, index)

    server.script("PUT", "/_bulk$", *[bulk_answer(items)] * 3)
    with pytest.raises(WriteFailed) as caught:
        store.upsert(batch)
    failures = dict(caught.value.failures)
    assert set(failures) == {busy, bad}
    assert failures[busy].startswith("429 es_rejected_execution_exception")
    assert "failed to parse field [rating]" in failures[bad]
    assert caught.value.written == 1
    assert len(server.calls("PUT", "/_bulk$")) == 3  # the first try and two retries of the 429
    assert "2 mention(s) of the batch were not stored" in str(caught.value)


def test_a_write_blocked_index_says_so(server):
    store = open_store(server)
    server.indices["listener-test-v4"]["settings"]["index.blocks.write"] = True
    with pytest.raises(WriteFailed, match="cluster_block_exception"):
        store.upsert([mention("a")])


# ---------------------------------------------------------------- 3. prefixes in phrases, refused queries


def test_a_query_the_server_refuses_becomes_a_query_error(server):
    store = open_store(server)
    too_many = error(400, "search_phase_execution_exception", "all shards failed", phase="query",
                     failed_shards=[{"shard": 0, "index": "listener-test-v4", "reason": {
                         "type": "query_shard_exception",
                         "reason": "failed to create query: maxClauseCount is set to 1024",
                         "caused_by": {"type": "too_many_nested_clauses",
                                       "reason": "Query contains too many nested clauses; "
                                                 "maxClauseCount is set to 1024"}}}])
    server.script("POST", "/_search$", too_many)
    with pytest.raises(QueryRejected, match="too many terms"):
        store.search(Filters(query="refundsandmore* NEAR/3 fee"))
    request = server.calls("POST", "/_search$")[-1]
    assert "span_multi" in json.dumps(request.body)


# ---------------------------------------------------------------- 4. privacy erasure


def _task(completed: bool, **response) -> Response:
    body = {"completed": completed, "task": {"node": "n1", "id": 7, "action": "indices:data/write/delete/byquery"}}
    if completed:
        body["response"] = {"took": 5, "timed_out": False, "total": 0, "deleted": 0, "batches": 1,
                            "version_conflicts": 0, "noops": 0, "failures": [], **response}
    return Response(200, body)


def test_forget_author_repeats_until_nothing_is_left(server):
    store = open_store(server)
    server.script("POST", "/_delete_by_query$", Response(200, {"task": "n1:7"}), Response(200, {"task": "n1:8"}))
    server.script("GET", "/_tasks/n1:7$", _task(False), _task(True, deleted=3, version_conflicts=1, failures=[
        {"index": "listener-test-v4", "id": "x", "status": 409,
         "cause": {"type": "version_conflict_engine_exception", "reason": "[x]: version conflict"}}]))
    server.script("GET", "/_tasks/n1:8$", _task(True, deleted=1))
    server.script("POST", "/_count$", Response(200, {"count": 1}), Response(200, {"count": 0}))
    server.script("POST", "/_refresh$", Response(200, {}), Response(200, {}))
    assert store.forget_author("reddit:alice") == 4
    deletes = server.calls("POST", "/_delete_by_query$")
    assert len(deletes) == 2
    assert deletes[0].query["wait_for_completion"] == "false" and deletes[0].query["conflicts"] == "proceed"
    assert deletes[0].body["query"] == {"term": {"author_id": "reddit:alice"}}
    assert [r.body["query"] for r in server.calls("POST", "/_count$")] == [{"term": {"author_id": "reddit:alice"}}] * 2


def test_forget_author_fails_loudly_when_documents_remain(server):
    store = open_store(server, erase_attempts=2)
    server.script("POST", "/_delete_by_query$", Response(200, {"task": "n1:1"}), Response(200, {"task": "n1:2"}))
    failure = {"index": "listener-test-v4", "id": "y", "status": 503,
               "cause": {"type": "unavailable_shards_exception", "reason": "primary shard is not active"}}
    server.script("GET", "/_tasks/n1:1$", _task(True, deleted=2, failures=[failure]))
    server.script("GET", "/_tasks/n1:2$", _task(True, timed_out=True, failures=[failure]))
    server.script("POST", "/_count$", Response(200, {"count": 5}), Response(200, {"count": 5}))
    server.script("POST", "/_refresh$", Response(200, {}), Response(200, {}))
    with pytest.raises(ErasureIncomplete) as caught:
        store.forget_author("reddit:bob")
    message = str(caught.value)
    assert "5 mention(s) of author 'reddit:bob' are still stored after 2" in message
    assert "unavailable_shards_exception" in message and "timed out" in message


def test_forget_author_gives_up_on_a_task_that_never_ends(server):
    store = open_store(server, task_timeout=0.05)
    server.script("POST", "/_delete_by_query$", Response(200, {"task": "n1:9"}))
    server.script("GET", "/_tasks/n1:9$", *[_task(False)] * 200)
    with pytest.raises(ErasureIncomplete, match="GET _tasks/n1:9"):
        store.forget_author("reddit:carol")


# ---------------------------------------------------------------- 5. aggregations within the cluster's limits


def _span(first_s: int, last_s: int) -> Response:
    return Response(200, {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
                          "aggregations": {"first": {"value": first_s * 1000.0}, "last": {"value": last_s * 1000.0}}})


def test_bucket_count_is_checked_against_search_max_buckets_before_asking(server):
    store = open_store(server)
    server.script("GET", "/_cluster/settings$", Response(200, {"persistent": {"search": {"max_buckets": "100"}},
                                                               "defaults": {"search": {"max_buckets": "65536"}}}))
    start = int(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    server.script("POST", "/_search$", _span(start, start + 200 * 86400))
    with pytest.raises(SeriesTooLong, match="more than 100"):  # what the CLI and API report for SQLite too
        store.timeseries(Filters(), "1d")
    assert len(server.calls("POST", "/_search$")) == 1  # the span only, never the histogram
    assert server.calls("GET", "/_cluster/settings$")[0].query["include_defaults"] == "true"


def test_too_many_buckets_from_the_server_is_a_clear_error(server):
    store = open_store(server)
    server.script("GET", "/_cluster/settings$", Response(200, {"defaults": {"search.max_buckets": "65536"}}))
    start = int(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    server.script("POST", "/_search$", _span(start, start + 3 * 86400), error(
        400, "too_many_buckets_exception", "Trying to create too many buckets. Must be less than or equal to: "
        "[65536] but this number of buckets was exceeded. This limit can be set by changing the [search.max_buckets] "
        "cluster level setting.", max_buckets=65536))
    with pytest.raises(SeriesTooLong, match="too many buckets"):
        store.timeseries(Filters(), "1d")


def test_a_split_pages_through_every_value(server):
    """2,500 authors in one day: a terms sub-aggregation would have kept 1,000; the composite pages keep all."""
    store = open_store(server)
    server.script("GET", "/_cluster/settings$", Response(200, {"defaults": {"search.max_buckets": "65536"}}))
    day = int(dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc).timestamp())
    histogram = Response(200, {"aggregations": {"series": {"buckets": [
        {"key": day * 1000, "doc_count": 2500}, {"key": (day + 86400) * 1000, "doc_count": 0},
        {"key": (day + 2 * 86400) * 1000, "doc_count": 1}]}}})
    authors = [f"reddit:user{i:04d}" for i in range(2500)]
    pairs = [{"key": {"t": day * 1000, "v": a}, "doc_count": 1} for a in authors]
    pairs.append({"key": {"t": (day + 2 * 86400) * 1000, "v": authors[0]}, "doc_count": 1})

    def page(start):
        chunk = pairs[start:start + es.COMPOSITE_PAGE]
        body = {"buckets": chunk}
        if chunk:
            body["after_key"] = chunk[-1]["key"]
        return Response(200, {"aggregations": {"pairs": body}})

    server.script("POST", "/_search$", _span(day, day + 2 * 86400), histogram,
                  *[page(s) for s in range(0, len(pairs) + es.COMPOSITE_PAGE, es.COMPOSITE_PAGE)])
    series = store.timeseries(Filters(), "1d", "UTC", split="author")
    assert len(series) == 3 and len(series[0][1]) == 2500
    assert sum(series[0][1].values()) == 2500 and series[1][1][authors[0]] == 0 and series[2][1][authors[0]] == 1
    composite = [r.body["aggs"]["pairs"]["composite"] for r in server.calls("POST", "/_search$")[2:]]
    assert "after" not in composite[0] and composite[1]["after"] == pairs[999]["key"]
    assert all("terms" not in json.dumps(r.body.get("aggs", {}).get("series", {})) for r in server.requests
               if r.body and isinstance(r.body, dict))


# ---------------------------------------------------------------- 6. TLS and credentials


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made here: (cert file, key file, SHA-256 fingerprint)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "listener-test-es")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return cert_file, key_file, fingerprint


@pytest.fixture
def tls_server(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate[0], certificate[1])
    with FakeElasticsearch("9.1.4", tls=context, auth="ApiKey " + "a2V5aWQ6c2VjcmV0LWtleQ==") as fake:
        yield fake


def test_tls_with_a_ca_file_and_an_api_key_from_the_environment(tls_server, certificate):
    env = {"LISTENER_ES_API_KEY": "a2V5aWQ6c2VjcmV0LWtleQ==", "LISTENER_ES_CA_CERTS": str(certificate[0])}
    index, options = client_options(tls_server.store_url("brand-a"), env)
    store = es.ElasticStore(index, **options)
    assert tls_server.scheme == "https" and store.client.server_version == "9.1.4"
    assert all(r.headers["authorization"] == "ApiKey a2V5aWQ6c2VjcmV0LWtleQ==" for r in tls_server.requests)
    assert "brand-a" in tls_server.aliases
    store.close()


def test_tls_with_a_certificate_fingerprint(tls_server, certificate):
    env = {"LISTENER_ES_API_KEY": "a2V5aWQ6c2VjcmV0LWtleQ==", "LISTENER_ES_FINGERPRINT": certificate[2].upper()}
    index, options = client_options(tls_server.store_url(), env)
    es.ElasticStore(index, **options).close()
    assert tls_server.requests


def test_an_untrusted_certificate_says_what_to_set(tls_server):
    index, options = client_options(tls_server.store_url(), {"LISTENER_ES_API_KEY": "a2V5aWQ6c2VjcmV0LWtleQ=="})
    with pytest.raises(StoreUnavailable, match="LISTENER_ES_CA_CERTS") as caught:
        es.ElasticStore(index, **options)
    assert "a2V5aWQ6c2VjcmV0LWtleQ" not in str(caught.value)


def test_wrong_credentials_are_refused_without_printing_them(certificate):
    with FakeElasticsearch("8.19.3", auth="Basic " + base64.b64encode(b"elastic:right-pass").decode()) as server:
        index, options = client_options(server.store_url(userinfo="elastic:wrong-pass"), {})
        with pytest.raises(StoreUnavailable, match="refused the credentials") as caught:
            es.ElasticStore(index, **options)
        assert "wrong-pass" not in str(caught.value)
        index, options = client_options(server.store_url(userinfo="elastic:right-pass"), {})
        es.ElasticStore(index, **options).close()


def test_environment_settings_are_checked():
    assert env_options({}) == {}
    with pytest.raises(StoreConfigError, match="LISTENER_ES_CA_CERTS: no such file"):
        env_options({"LISTENER_ES_CA_CERTS": "/nonexistent/ca.pem"})
    with pytest.raises(StoreConfigError, match="keep one"):
        env_options({"LISTENER_ES_API_KEY": "k", "LISTENER_ES_USERNAME": "u"})
    with pytest.raises(StoreConfigError, match="keep one"):
        client_options("elasticsearch://u:p@h/x", {"LISTENER_ES_API_KEY": "k"})
    assert env_options({"LISTENER_ES_FINGERPRINT": "AB:CD", "LISTENER_ES_TIMEOUT": "5"}) == {
        "ssl_assert_fingerprint": "abcd", "request_timeout": 5.0}


def test_an_unreachable_server_is_one_clear_error():
    with FakeElasticsearch() as server:
        port = server.port
    with pytest.raises(StoreUnavailable, match=rf"cannot reach Elasticsearch at http://127.0.0.1:{port}"):
        es.ElasticStore("x", hosts=[f"http://127.0.0.1:{port}"], max_retries=0)


# ---------------------------------------------------------------- 7 and 10. paging and cursors


def _hits(*pairs, pit_id: str | None = None) -> Response:
    hits = []
    for m, sort in pairs:
        hits.append({"_index": "listener-test-v4", "_id": m.id, "_score": sort[0] if len(sort) >= 3 else None,
                     "_source": {"doc": json.loads(m.to_json())}, "sort": sort})
    body = {"hits": {"total": {"value": 3, "relation": "eq"}, "hits": hits}}
    if pit_id:
        body["pit_id"] = pit_id
    return Response(200, body)


def test_relevance_pages_read_one_point_in_time(server):
    store = open_store(server)
    a, b, c = corpus()[:3]
    server.script("POST", "/_pit$", Response(200, {"id": "pit-1"}))
    server.script("POST", "/_search$", _hits((a, [3.0, 1, a.id, 11]), (b, [2.0, 1, b.id, 12]), pit_id="pit-2"),
                  _hits((c, [1.0, 1, c.id, 13]), pit_id="pit-3"))
    server.script("DELETE", "/_pit$", Response(200, {"succeeded": True, "num_freed": 1}))
    first = store.search(Filters(query="acme"), sort="relevance", limit=1)
    assert [h.mention.id for h in first.hits] == [a.id] and first.hits[0].score == 3.0
    second = store.search(Filters(query="acme"), sort="relevance", limit=5, cursor=first.next_cursor)
    assert [h.mention.id for h in second.hits] == [c.id] and second.next_cursor is None
    pit_open = server.calls("POST", "/_pit$")[0]
    assert pit_open.path == "/listener-test/_pit" and pit_open.query["keep_alive"] == es.PIT_KEEP_ALIVE
    searches = server.calls("POST", "/_search$")
    assert [r.path for r in searches] == ["/_search", "/_search"]  # a point in time names no index
    assert searches[0].body["pit"]["id"] == "pit-1" and searches[1].body["pit"]["id"] == "pit-2"
    # the last hit shown (not the extra one), with the point in time's tiebreaker
    assert searches[1].body["search_after"] == [3.0, 1, a.id, 11]
    assert server.calls("DELETE", "/_pit$")[0].body == {"id": "pit-3"}  # closed after the last page


def test_an_expired_point_in_time_is_a_clear_cursor_error(server):
    store = open_store(server)
    cursor = es.encode_cursor("r", ["pit-old", 1.0, 1, "x", 7])
    server.script("POST", "/_search$",
                  error(404, "search_context_missing_exception", "No search context found for id [1]"))
    with pytest.raises(CursorError, match="cursor has expired"):
        store.search(Filters(query="acme"), sort="relevance", cursor=cursor)


def test_date_pages_need_no_point_in_time(server):
    store = open_store(server)
    a = corpus()[0]
    server.script("POST", "/_search$", _hits((a, [1714557600000, a.id])))
    store.search(Filters(), limit=5)
    assert not server.calls("POST", "/_pit$")
    assert server.calls("POST", "/_search$")[0].path == "/listener-test/_search"


def test_a_malformed_cursor_never_reaches_the_server(server):
    store = open_store(server)
    before = len(server.requests)
    forged = base64.urlsafe_b64encode(json.dumps(["d", "yesterday", 5]).encode()).decode()
    with pytest.raises(ValueError, match="invalid cursor"):
        store.search(Filters(), cursor=forged)
    assert len(server.requests) == before


def test_a_cursor_the_server_cannot_use_is_a_cursor_error(server):
    store = open_store(server)
    server.script("POST", "/_search$", error(400, "illegal_argument_exception", "invalid id [pit-forged]"))
    with pytest.raises(CursorError, match="invalid cursor"):
        store.search(Filters(query="acme"), sort="relevance", cursor=es.encode_cursor("r", ["pit-forged", 1.0, 1, "x"]))


# ---------------------------------------------------------------- 9. index lifecycle


def test_a_new_store_is_an_alias_over_a_versioned_index(server):
    open_store(server, index="brand-b")
    assert server.aliases == {"brand-b": ["brand-b-v4"]}
    created = server.calls("PUT", "/brand-b-v4$")[0].body
    assert created["mappings"]["_meta"] == {"listener_schema": es.SCHEMA_VERSION}
    assert created["aliases"] == {"brand-b": {"is_write_index": True}}
    assert created["settings"]["number_of_shards"] == es.SETTINGS["number_of_shards"]


def test_an_index_of_another_schema_version_is_refused(server):
    server.add_index("old-store", {"properties": {"id": {"type": "keyword"}}})  # schema 1: no _meta
    with pytest.raises(SchemaMismatch, match=f"schema version 1, this listener needs {es.SCHEMA_VERSION}: run `listener es migrate`"):
        open_store(server, index="old-store")


def test_migrate_copies_into_a_new_index_and_switches_the_alias(server):
    from listener.store.elastic_migrate import migrate

    mentions = corpus()
    old_docs = {m.id: {"id": m.id, "doc": json.loads(m.to_json())} for m in mentions}
    server.add_index("brand-c", {"properties": {"id": {"type": "keyword"}}}, old_docs)
    store = open_store(server, index="brand-c", create=False, check_schema=False)
    progress = []
    report = migrate("unused", store=store, batch_size=3, progress=progress.append)
    assert report["status"] == "migrated" and report["copied"] == len(mentions) and progress[-1] == len(mentions)
    assert "brand-c" not in server.indices and server.aliases["brand-c"] == ["brand-c-v4"]
    new_docs = server.indices["brand-c-v4"]["docs"]
    assert set(new_docs) == set(old_docs)
    assert new_docs[mentions[0].id] == json.loads(json.dumps(es.index_document(mentions[0])))  # rebuilt, not copied
    # the old index was write-blocked during the copy; bulk settings during, production settings after
    blocked = server.calls("PUT", "/brand-c/_settings$")[0].body
    assert blocked == {"index.blocks.write": True} or blocked == {"index": {"blocks": {"write": True}}}
    created = server.calls("PUT", "/brand-c-v4$")[0].body["settings"]
    assert created["number_of_replicas"] == 0 and created["refresh_interval"] == "-1"
    assert server.indices["brand-c-v4"]["settings"]["index.refresh_interval"] == es.SETTINGS["refresh_interval"]
    swap = server.calls("POST", "/_aliases$")[0].body["actions"]
    assert swap[0] == {"remove_index": {"index": "brand-c"}} and swap[1]["add"]["index"] == "brand-c-v4"
    es.ElasticStore("brand-c", hosts=[server.url]).close()  # the schema check passes now
    assert migrate("unused", store=open_store(server, index="brand-c"))["status"] == "up to date"


def test_a_failed_copy_leaves_the_old_index_writable(server):
    from listener.store.elastic_migrate import MigrationFailed, migrate

    m = corpus()[0]
    server.add_index("brand-d-v1", {"properties": {}}, {m.id: {"id": m.id, "doc": json.loads(m.to_json())}},
                     alias="brand-d")
    store = open_store(server, index="brand-d", create=False, check_schema=False)
    server.script("PUT", "/_bulk$", *[bulk_answer(lambda i, idx: bulk_failure(i, idx, "mapper_exception", "nope"))] * 6)
    with pytest.raises(MigrationFailed, match="could not be copied into 'brand-d-v4' .*mapper_exception: nope"):
        migrate("unused", store=store)
    assert server.indices["brand-d-v1"]["settings"]["index.blocks.write"] is False
    assert server.aliases["brand-d"] == ["brand-d-v1"]


def test_a_thread_is_one_term_query_on_the_indexed_thread_id(server):
    """Schema 3 indexes thread_id: the mention page's thread is one filtered search, not a read of the source."""
    store = open_store(server)
    base = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    store.upsert([mention("late", at=base + dt.timedelta(hours=1), thread_id="t3_x"), mention("root", at=base,
                  thread_id="t3_x"), *[mention(f"noise{i}", at=base) for i in range(5)]])
    before = len(server.requests)
    assert [m.native_id for m in store.thread("reddit", "t3_x")] == ["root", "late"]
    searches = [r for r in server.requests[before:] if r.path.endswith("/_search")]
    assert len(searches) == len(server.requests[before:]) == 1
    clauses = searches[0].body["query"]["bool"]["filter"]
    assert {"term": {"thread_id": "t3_x"}} in clauses and {"term": {"source": "reddit"}} in clauses
    assert searches[0].body["sort"] == [{"published_at": "asc"}, {"id": "asc"}]
    assert store.thread("reddit", "t3_x", limit=1)[0].native_id == "root"


def test_migrate_from_schema_2_indexes_thread_ids(server):
    """A store made before thread_id was indexed is refused until migrated; the copy fills the new field."""
    from listener.store.elastic_migrate import migrate

    base = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    mentions = [mention("root", at=base, thread_id="t3_x"), mention("reply", at=base + dt.timedelta(minutes=5),
                thread_id="t3_x", parent_id="t3_x"), mention("alone", at=base)]
    schema_2 = {**es.MAPPINGS, "_meta": {"listener_schema": 2},
                "properties": {k: v for k, v in es.MAPPINGS["properties"].items() if k != "thread_id"}}
    old_docs = {m.id: {k: v for k, v in es.index_document(m).items() if k != "thread_id"} for m in mentions}
    server.add_index("brand-e-v2", schema_2, old_docs, alias="brand-e")
    with pytest.raises(SchemaMismatch, match=f"schema version 2, this listener needs {es.SCHEMA_VERSION}"):
        open_store(server, index="brand-e")
    report = migrate("unused", store=open_store(server, index="brand-e", create=False, check_schema=False))
    assert report["from"] == ["brand-e-v2"] and report["to"] == "brand-e-v4" and report["copied"] == 3
    assert server.aliases["brand-e"] == ["brand-e-v4"]
    new = server.indices["brand-e-v4"]
    assert new["mappings"]["properties"]["thread_id"] == {"type": "keyword"}
    assert {d["id"]: d["thread_id"] for d in new["docs"].values()} == {m.id: m.thread_id for m in mentions}
    store = open_store(server, index="brand-e")
    assert [m.native_id for m in store.thread("reddit", "t3_x")] == ["root", "reply"]


def test_an_export_reads_one_point_in_time_and_closes_it(server):
    store = open_store(server)
    a, b, c = corpus()[:3]
    server.script("POST", "/_pit$", Response(200, {"id": "pit-x"}))
    server.script("POST", "/_search$", _hits((a, [1, a.id, 5]), (b, [2, b.id, 6]), pit_id="pit-y"),
                  _hits((c, [3, c.id, 7]), pit_id="pit-y"))
    server.script("DELETE", "/_pit$", Response(200, {"succeeded": True, "num_freed": 1}))
    assert [m.id for m in store.iter_mentions(Filters(), batch_size=2)] == [a.id, b.id, c.id]
    searches = server.calls("POST", "/_search$")
    assert searches[0].body["pit"]["id"] == "pit-x" and searches[1].body["pit"]["id"] == "pit-y"
    assert searches[1].body["search_after"] == [2, b.id, 6]
    assert server.calls("DELETE", "/_pit$")[0].body == {"id": "pit-y"}


def test_credentials_never_reach_the_logs(caplog, certificate):
    """Everything logged at DEBUG while connecting, writing and failing carries neither the password nor the key."""
    import logging

    caplog.set_level(logging.DEBUG)
    password, api_key = "pw-5f1c2e", "a2V5aWQ6bG9nLXRlc3Qta2V5"
    basic = "Basic " + base64.b64encode(f"elastic:{password}".encode()).decode()
    with FakeElasticsearch("8.19.3", auth=basic) as server:
        index, options = client_options(server.store_url(userinfo=f"elastic:{password}"), {})
        store = es.ElasticStore(index, **{**FAST, **options})
        store.upsert([mention("a")])
        index, options = client_options(server.store_url(), {"LISTENER_ES_API_KEY": api_key})
        with pytest.raises(StoreUnavailable):
            es.ElasticStore(index, **options)
    assert caplog.records, "the transport logged nothing: the test would prove nothing"
    for secret in (password, api_key, base64.b64encode(f"elastic:{password}".encode()).decode()):
        assert secret not in caplog.text


def test_results_from_only_some_shards_are_refused(server):
    """Elasticsearch answers 200 with the shards that worked; counts from half an index look right and are not."""
    store = open_store(server)
    partial = {"took": 4, "timed_out": False,
               "_shards": {"total": 3, "successful": 2, "skipped": 0, "failed": 1, "failures": [
                   {"shard": 1, "index": "listener-test-v4", "node": "n2",
                    "reason": {"type": "node_not_connected_exception", "reason": "[n2] Node not connected"}}]},
               "hits": {"total": {"value": 40, "relation": "eq"}, "hits": []}}
    server.script("POST", "/_search$", Response(200, partial))
    with pytest.raises(StoreUnavailable, match="1 of 3 shards .* failed .*node_not_connected_exception"):
        store.search(Filters())
    server.script("POST", "/_count$", Response(200, {"count": 40, "_shards": partial["_shards"]}))
    with pytest.raises(StoreUnavailable, match="incomplete"):
        store.count(Filters())
    timed_out = {**partial, "timed_out": True, "_shards": {"total": 1, "failed": 0}}
    server.script("POST", "/_search$", Response(200, timed_out))
    with pytest.raises(QueryTooSlow, match="time-out"):
        store.terms(Filters(), "source")


def test_a_batch_with_documents_still_rejected_is_not_counted_by_the_pipeline(server):
    """The pipeline reports nothing for a batch the store could not fully write: the exception reaches the
    caller (the worker), which retries the batch or dead-letters it."""
    from listener.pipeline import PipelineContext, process_batch

    store = open_store(server, bulk_retries=1)
    empty = Response(200, {"_shards": {"total": 1, "failed": 0}, "hits": {"total": {"value": 0, "relation": "eq"},
                                                                          "hits": []}})
    server.script("POST", "/_search$", *[empty] * 10)  # near-duplicate look-ups find nothing
    server.script("PUT", "/_bulk$", *[bulk_answer(lambda i, idx: bulk_rejection(i, idx))] * 2)
    with pytest.raises(WriteFailed) as caught:
        process_batch([mention("p1", "acme outage again"), mention("p2", "acme app crashes")],
                      PipelineContext(store=store, keep_unmatched=True))
    assert len(caught.value.failures) == 2 and caught.value.written == 0
    assert isinstance(caught.value, RuntimeError)  # what the workers' retry policy retries


# ---------------------------------------------------------------- the time limit on reads


def _timed_out(request):
    """What Elasticsearch answers when the search's `timeout` passed: 200, the hits found so far, timed_out."""
    return Response(200, {"took": 20001, "timed_out": True, "_shards": {"total": 1, "successful": 1, "failed": 0},
                          "hits": {"total": {"value": 3, "relation": "eq"}, "hits": []},
                          "aggregations": {"values": {"buckets": [{"key": "reddit", "doc_count": 3}]},
                                           "first": {"value": 0}, "last": {"value": 86400000},
                                           "series": {"buckets": [{"key": 0, "doc_count": 3}]}}})


def test_every_search_carries_the_time_limit(server):
    """Each shard stops at the store's query_timeout: the search body says so (Elasticsearch has no limit
    by default, so without it a runaway query holds the cluster's search threads)."""
    store = open_store(server)
    store.query_timeout = 1.5
    found = {"took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "failed": 0},
             "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
             "aggregations": {"values": {"buckets": []}}}
    server.script("POST", "/_search$", Response(200, found), Response(200, found))
    store.search(Filters(query="refund"))
    store.terms(Filters(), "source")
    bodies = [r.body for r in server.calls("POST", "/_search$")]
    assert [body.get("timeout") for body in bodies] == ["1500ms", "1500ms"]
    store.query_timeout = None
    server.script("POST", "/_search$", Response(200, found))
    store.terms(Filters(), "source")
    assert "timeout" not in server.calls("POST", "/_search$")[-1].body


@pytest.mark.parametrize("read", [
    lambda store: store.search(Filters(query="refund")),
    lambda store: store.terms(Filters(), "source"),
    lambda store: store.timeseries(Filters(), "1d"),
    lambda store: list(store.iter_mentions(Filters())),
], ids=["search", "terms", "timeseries", "export"])
def test_a_search_stopped_at_its_time_out_is_refused_with_one_line(server, read):
    """timed_out: true comes with a 200 and whatever was found so far; the store refuses it with the same
    kind of error (and message) as the SQLite store's time limit, never a partial answer."""
    store = open_store(server)
    server.script("POST", "/_search$", *[_timed_out] * 3)
    server.script("POST", "/_pit$", Response(200, {"id": "pit-1"}))
    with pytest.raises(QueryTooSlow) as caught:
        read(store)
    message = str(caught.value)
    assert "stopped" in message and "time-out" in message and "narrow it" in message and "\n" not in message


def test_a_server_that_stalls_is_given_up_on_at_the_time_limit(server, monkeypatch):
    """A node that never answers: the request's own time-out (query_timeout plus a little) stops the wait,
    and the error is the time limit's, not a generic connection failure."""
    import threading
    import time

    monkeypatch.setattr(es, "_TIMEOUT_GRACE", 0.2)
    store = open_store(server)
    store.query_timeout = 0.3
    release = threading.Event()
    try:
        server.script("POST", "/_search$", stalled(release))
        server.script("POST", "/_count$", stalled(release))
        started = time.monotonic()
        with pytest.raises(QueryTooSlow, match="longer than 0.3 s and was stopped"):
            store.search(Filters())
        with pytest.raises(QueryTooSlow, match="stopped"):
            store.count(Filters())
        assert time.monotonic() - started < 10  # not the 30 s the stalled handler would wait
    finally:
        release.set()


# ---------------------------------------------------------------- the shared contract on the local server


class TestContractOnTheLocalServer(StoreContract):
    """The shared store contract against the local server (the real-server run needs LISTENER_ES_URL,
    tests/test_store_elastic.py). The local server evaluates keyword, date and number clauses, sorts and
    search_after; what it cannot evaluate (the query compiler's full-text clauses, aggregations) is refused
    by it as unscripted, so those contract tests only run against a real server (listed in _REAL_SERVER_ONLY)."""

    @pytest.fixture
    def store(self, request):
        if request.node.originalname in _REAL_SERVER_ONLY:
            pytest.skip("needs full-text queries or aggregations: runs against a real server (LISTENER_ES_URL)")
        with FakeElasticsearch("9.1.4") as fake:
            store = open_store(fake)
            yield store
            store.close()


#: contract tests that send what the local server does not evaluate: the query compiler's full-text clauses
#: (match_phrase, span_near, prefix), aggregations (terms, date_histogram, composite) or delete-by-query tasks
_REAL_SERVER_ONLY = {
    "test_reupsert_replaces_content_and_keeps_count", "test_query", "test_query_with_filters_and_duplicates",
    "test_pages_cover_everything_once", "test_relevance_best_first", "test_relevance_ranks_field_only_matches_last",
    "test_relevance_without_words_sorts_by_date", "test_forged_cursors_are_refused", "test_empty_store",
    "test_snippet_marks_and_escapes", "test_snippet_marks_every_matched_word", "test_snippet_phrase_and_prefix",
    "test_snippet_persian_and_arabic", "test_snippet_of_a_long_text_is_a_window", "test_snippet_title_only_match",
    "test_timeseries_daily_utc", "test_timeseries_split", "test_timeseries_day_buckets_follow_local_midnight_across_dst",
    "test_timeseries_spring_forward_day_is_23_hours", "test_timeseries_hours_when_the_clock_repeats_an_hour",
    "test_timeseries_half_hour_offsets", "test_timeseries_every_interval", "test_terms", "test_terms_respect_filters",
    "test_terms_every_field", "test_forget_author", "test_mixed_selects_both_likely_whatever_the_label",
}


def test_probabilities_round_trip_and_mixed_filters_on_the_server(server):
    from listener.model import Sentiment

    store = open_store(server)
    mixed = mention("mx", "great food, late delivery", lang="en",
                    sentiment=Sentiment.from_probabilities([0.45, 0.1, 0.45]))
    corrected = mention("c", "a person said positive",
                        sentiment=Sentiment.from_probabilities([0.4, 0.2, 0.4]).corrected_to("positive"))
    plain = mention("p", "great food", sentiment=Sentiment.from_probabilities([0.05, 0.05, 0.9]))
    old = mention("o", "scored before probabilities were kept", sentiment=Sentiment(label="negative", score=0.9))
    store.upsert([mixed, corrected, plain, old, mention("u", "unscored")])
    assert store.get(mixed.id) == mixed and store.get(corrected.id) == corrected and store.get(old.id) == old
    stored = server.indices["listener-test-v4"]["docs"][mixed.id]
    assert (stored["sentiment_negative"], stored["sentiment_positive"]) == (0.45, 0.45)
    assert {h.mention.native_id for h in store.search(Filters(mixed=True)).hits} == {"mx", "c"}
    assert store.count(Filters(mixed=True, sentiments=("negative",))) == 1

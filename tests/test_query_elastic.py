"""The Elasticsearch compiler (listener.query.elastic): the exact DSL of every node type, and agreement with
the in-memory matcher.

Agreement is checked two ways:
- offline, always: `evaluate` below is a small interpreter of the DSL subset the compiler emits, written
  from Lucene's documented semantics (whitespace-analysed fields; span_near unordered slop = match width
  minus the spans' lengths, overlap allowed; bool must/filter/should/must_not). It checks the compiler's
  translation against the matcher on random queries and documents (the strategies of
  tests/test_query_fts5_property.py), so a wrong slop, a lost field or a mis-nested NOT fails here;
- against a real server, only when LISTENER_ES_URL is set (e.g. elasticsearch://127.0.0.1:9200): no server
  can be installed on the development machines (see notes/services.md), so that test is what checks the
  interpreter's reading of Lucene (span iteration, prefix expansion) against Lucene itself.
"""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener.query import COMPILERS, And, Filter, Near, Not, Or, Term, author_key, parse, render
from listener.query.elastic import compile_elastic, domain_parts, index_fields
from listener.query.matcher import DocView, compile_matcher
from test_query_fts5_property import CORPUS, mentions, queries

BOTH = ("title", "body")


def boost(field: str) -> dict:
    """The title's boost: the SQLite store's bm25 title weight (2), so both back ends rank alike."""
    return {"boost": 2.0} if field == "title" else {}


def both(build):
    return {"bool": {"should": [build(f) for f in BOTH], "minimum_should_match": 1}}


# ---------------------------------------------------------------- exact DSL


def test_registered():
    assert COMPILERS["elastic"] is compile_elastic


def test_word_and_phrase():
    assert compile_elastic(Term(("acme",))) == both(lambda f: {"match_phrase": {f: {"query": "acme", **boost(f)}}})
    assert compile_elastic(Term(("fast", "delivery"))) == both(
        lambda f: {"match_phrase": {f: {"query": "fast delivery", **boost(f)}}})


def test_title_only():
    assert compile_elastic(Term(("stars",), field="title")) == {
        "match_phrase": {"title": {"query": "stars", "boost": 2.0}}}


def test_prefix_word_and_phrase():
    assert compile_elastic(Term(("crash",), prefix=True, field="title")) == {
        "prefix": {"title": {"value": "crash", "boost": 2.0}}}
    assert compile_elastic(Term(("fast", "del"), prefix=True, field="title")) == {"span_near": {
        "clauses": [{"span_term": {"title": "fast"}},
                    {"span_multi": {"match": {"prefix": {"title": {"value": "del"}}}}}],
        "slop": 0, "in_order": True, "boost": 2.0}}


def test_near():
    node = Near((Term(("orbit",)),), (Term(("app",)), Term(("pay", "car"), prefix=True)), 3)
    assert compile_elastic(node) == both(lambda f: {"span_near": {
        "clauses": [{"span_term": {f: "orbit"}},
                    {"span_or": {"clauses": [
                        {"span_term": {f: "app"}},
                        {"span_near": {"clauses": [{"span_term": {f: "pay"}},
                                                   {"span_multi": {"match": {"prefix": {f: {"value": "car"}}}}}],
                                       "slop": 0, "in_order": True}}]}}],
        "slop": 3, "in_order": False, **boost(f)}})
    title = Near((Term(("a",), field="title"),), (Term(("b",), field="title"),), 0)
    assert compile_elastic(title) == {"span_near": {"clauses": [{"span_term": {"title": "a"}},
                                                                {"span_term": {"title": "b"}}],
                                                    "slop": 0, "in_order": False, "boost": 2.0}}


def test_filters():
    assert compile_elastic(Filter("site", "acme.com")) == {"bool": {"filter": [{"term": {"domain_parts": "acme.com"}}]}}
    assert compile_elastic(Filter("lang", "fa")) == {"bool": {"filter": [{"term": {"lang": "fa"}}]}}
    assert compile_elastic(Filter("source", "reddit")) == {"bool": {"filter": [{"term": {"source": "reddit"}}]}}
    assert compile_elastic(Filter("author", "Jane_Doe")) == {"bool": {"filter": [{"bool": {"should": [
        {"term": {"author_key": author_key("Jane_Doe")}}, {"term": {"author_id": "Jane_Doe"}}],
        "minimum_should_match": 1}}]}}


def test_not_and_or():
    word = {"match_phrase": {"title": {"query": "a", "boost": 2.0}}}
    a = Term(("a",), field="title")
    assert compile_elastic(Not(a)) == {"bool": {"must_not": [word]}}
    assert compile_elastic(And((a, Filter("lang", "en")))) == {
        "bool": {"must": [word], "filter": [{"term": {"lang": "en"}}]}}
    assert compile_elastic(And((Filter("lang", "en"), Filter("source", "rss")))) == {
        "bool": {"filter": [{"term": {"lang": "en"}}, {"term": {"source": "rss"}}]}}
    assert compile_elastic(Or((a, Filter("lang", "en")))) == {"bool": {"should": [
        word, {"bool": {"filter": [{"term": {"lang": "en"}}]}}], "minimum_should_match": 1}}


def test_domain_parts_and_index_fields():
    assert domain_parts("blog.Acme.com") == ["blog.acme.com", "acme.com", "com"]
    assert domain_parts(None) == []
    mention = CORPUS[0].model_copy(update={"title": "Kétab‌ها!", "text": "أَحْمَد — e-mail"})
    fields = index_fields(mention)
    assert fields["title"] == "ketab ها" and fields["body"] == "احمد e mail"


# ---------------------------------------------------------------- an interpreter of the emitted DSL


def _doc(mention) -> dict:
    fields = index_fields(mention)
    fields["title"] = fields["title"].split()  # the whitespace analyzer
    fields["body"] = fields["body"].split()
    return fields


def _spans(q: dict, doc: dict) -> set[tuple[int, int]]:
    (kind, arg), = q.items()
    if kind == "span_term":
        (field, token), = arg.items()
        return {(i, i + 1) for i, t in enumerate(doc[field]) if t == token}
    if kind == "span_multi":
        (field, value), = arg["match"]["prefix"].items()
        return {(i, i + 1) for i, t in enumerate(doc[field]) if t.startswith(value["value"])}
    if kind == "span_or":
        return set().union(*(_spans(c, doc) for c in arg["clauses"]))
    if kind == "span_near":
        parts = [_spans(c, doc) for c in arg["clauses"]]
        if arg["in_order"]:  # consecutive (slop 0 is all the compiler emits in order)
            assert arg["slop"] == 0
            out = parts[0]
            for nxt in parts[1:]:
                out = {(s, e2) for s, e in out for s2, e2 in nxt if s2 == e}
            return out
        (left, right) = parts
        return {(min(s1, s2), max(e1, e2)) for s1, e1 in left for s2, e2 in right
                if max(e1, e2) - min(s1, s2) - (e1 - s1) - (e2 - s2) <= arg["slop"]}
    raise AssertionError(f"unexpected span query {kind}")


def evaluate(q: dict, doc: dict) -> bool:
    (kind, arg), = q.items()
    if kind == "match_phrase":
        (field, value), = arg.items()
        words, want = doc[field], value["query"].split()
        return any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1))
    if kind == "prefix":
        (field, value), = arg.items()
        return any(t.startswith(value["value"]) for t in doc[field])
    if kind == "term":
        (field, value), = arg.items()
        have = doc.get(field)
        return value in have if isinstance(have, list) else have == value
    if kind.startswith("span_"):
        return bool(_spans(q, doc))
    if kind == "bool":
        ok = all(evaluate(c, doc) for c in arg.get("must", []) + arg.get("filter", []))
        ok = ok and not any(evaluate(c, doc) for c in arg.get("must_not", []))
        if "should" in arg:
            ok = ok and sum(evaluate(c, doc) for c in arg["should"]) >= arg.get("minimum_should_match", 1)
        return ok
    raise AssertionError(f"unexpected query {kind}")


# What Elasticsearch accepts, per query type (its query DSL reference); anything else it refuses with a
# parsing_exception, so the interpreter refuses it too rather than giving it a meaning a cluster would not.
_LEAF_PARAMS = {"match_phrase": {"query", "boost", "slop"}, "prefix": {"value", "boost"}}
_SPAN_PARAMS = {"span_near": {"clauses", "slop", "in_order", "boost"}, "span_or": {"clauses", "boost"},
                "span_multi": {"match", "boost"}}
_BOOL_PARAMS = {"must", "filter", "should", "must_not", "minimum_should_match", "boost"}


def check_accepted(q: dict, nested_span: bool = False) -> None:
    """Fail on DSL a real cluster refuses: unknown parameters, a non-span clause inside a span query, a boost
    on a nested span clause ("can't have non-default boost value"), a prefix inside a span on a field
    without index_prefixes (it would expand into too_many_clauses on a large index)."""
    from listener.store.elastic import MAPPINGS

    (kind, arg), = q.items()
    if kind in ("match_phrase", "prefix", "term"):
        assert not nested_span, f"{kind} inside a span query"
        (field, value), = arg.items()
        assert field in MAPPINGS["properties"], field
        if kind != "term":
            assert set(value) <= _LEAF_PARAMS[kind], (kind, value)
        return
    if kind == "span_term":
        (field, value), = arg.items()
        assert isinstance(value, str), "span_term takes the bare term"
        return
    if kind in _SPAN_PARAMS:
        assert set(arg) <= _SPAN_PARAMS[kind], (kind, arg)
        assert not (nested_span and "boost" in arg), f"{kind} nested in a span query can't have a boost"
        if kind == "span_multi":
            (inner, body), = arg["match"].items()
            assert inner == "prefix"
            (field, value), = body.items()
            assert set(value) == {"value"}, "span_multi [match] must not have a boost"
            prefixes = MAPPINGS["properties"][field].get("index_prefixes")
            assert prefixes and prefixes["min_chars"] <= len(value["value"]) or len(value["value"]) > 10
            return
        assert arg["clauses"], f"{kind} needs clauses"
        for clause in arg["clauses"]:
            check_accepted(clause, nested_span=True)
        return
    assert kind == "bool" and not nested_span, kind
    assert set(arg) <= _BOOL_PARAMS, arg
    for key in ("must", "filter", "should", "must_not"):
        for clause in arg.get(key, []):
            check_accepted(clause)


CORPUS_DOCS = [_doc(m) for m in CORPUS]
CORPUS_VIEWS = [DocView.from_mention(m) for m in CORPUS]


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(mentions, min_size=1, max_size=12), query=queries)
def test_dsl_agrees_with_the_matcher(docs, query):
    matches = compile_matcher(query)
    dsl = compile_elastic(query)
    check_accepted(dsl)
    for mention in docs:
        assert evaluate(dsl, _doc(mention)) == matches(DocView.from_mention(mention)), (render(query), mention)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries)
def test_dsl_agrees_with_the_matcher_on_a_fixed_corpus(query):
    matches = compile_matcher(query)
    dsl = compile_elastic(query)
    check_accepted(dsl)
    got = [evaluate(dsl, doc) for doc in CORPUS_DOCS]
    assert got == [matches(view) for view in CORPUS_VIEWS], render(query)


# ---------------------------------------------------------------- against a real server


@pytest.fixture(scope="module")
def es_corpus():
    url = os.environ.get("LISTENER_ES_URL")
    if not url:
        pytest.skip("LISTENER_ES_URL is not set (e.g. elasticsearch://127.0.0.1:9200): no Elasticsearch server "
                    "to check the compiler against; the offline interpreter tests above still run")
    from listener.store.elastic import ElasticStore
    from listener.store.elastic_connect import client_options

    _index, options = client_options(url)  # credentials and TLS from LISTENER_ES_*
    store = ElasticStore(f"listener-test-query-{uuid.uuid4().hex[:12]}", **options)
    store.upsert(CORPUS)
    try:
        yield store
    finally:
        store.drop()
        store.close()


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=queries)
def test_server_agrees_with_the_matcher(es_corpus, query):
    matches = compile_matcher(query)
    expected = {m.id for m, view in zip(CORPUS, CORPUS_VIEWS) if matches(view)}
    response = es_corpus.client.search(index=es_corpus.index, query=compile_elastic(query), size=len(CORPUS),
                                       source=False)
    assert {h["_id"] for h in response["hits"]["hits"]} == expected, render(query)


def test_interpreter_refuses_what_a_cluster_refuses():
    nested_boost = {"span_near": {"clauses": [{"span_near": {"clauses": [{"span_term": {"body": "a"}}],
                                                             "slop": 0, "in_order": True, "boost": 2.0}},
                                              {"span_term": {"body": "b"}}], "slop": 1, "in_order": False}}
    for refused in (nested_boost,
                    {"span_near": {"clauses": [{"match_phrase": {"body": {"query": "a"}}}], "slop": 0}},
                    {"match_phrase": {"body": {"query": "a", "max_expansions": 5}}},
                    {"span_multi": {"match": {"prefix": {"body": {"value": "a", "boost": 2}}}}}):
        with pytest.raises(AssertionError):
            check_accepted(refused)
    check_accepted(compile_elastic(parse('"fast del*" NEAR/2 refund* OR title:stars')))


def test_parse_then_compile_examples():
    # a few queries as users type them, end to end through the parser
    assert compile_elastic(parse("site:https://www.Acme.com/x")) == {
        "bool": {"filter": [{"term": {"domain_parts": "acme.com"}}]}}
    assert compile_elastic(parse("-refund")) == {"bool": {"must_not": [both(
        lambda f: {"match_phrase": {f: {"query": "refund", **boost(f)}}})]}}

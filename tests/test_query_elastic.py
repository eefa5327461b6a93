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


def both(build):
    return {"bool": {"should": [build(f) for f in BOTH], "minimum_should_match": 1}}


# ---------------------------------------------------------------- exact DSL


def test_registered():
    assert COMPILERS["elastic"] is compile_elastic


def test_word_and_phrase():
    assert compile_elastic(Term(("acme",))) == both(lambda f: {"match_phrase": {f: {"query": "acme"}}})
    assert compile_elastic(Term(("fast", "delivery"))) == both(
        lambda f: {"match_phrase": {f: {"query": "fast delivery"}}})


def test_title_only():
    assert compile_elastic(Term(("stars",), field="title")) == {"match_phrase": {"title": {"query": "stars"}}}


def test_prefix_word_and_phrase():
    assert compile_elastic(Term(("crash",), prefix=True, field="title")) == {"prefix": {"title": {"value": "crash"}}}
    assert compile_elastic(Term(("fast", "del"), prefix=True, field="title")) == {"span_near": {
        "clauses": [{"span_term": {"title": "fast"}},
                    {"span_multi": {"match": {"prefix": {"title": {"value": "del"}}}}}],
        "slop": 0, "in_order": True}}


def test_near():
    node = Near((Term(("orbit",)),), (Term(("app",)), Term(("pay", "car"), prefix=True)), 3)
    assert compile_elastic(node) == both(lambda f: {"span_near": {
        "clauses": [{"span_term": {f: "orbit"}},
                    {"span_or": {"clauses": [
                        {"span_term": {f: "app"}},
                        {"span_near": {"clauses": [{"span_term": {f: "pay"}},
                                                   {"span_multi": {"match": {"prefix": {f: {"value": "car"}}}}}],
                                       "slop": 0, "in_order": True}}]}}],
        "slop": 3, "in_order": False}})
    title = Near((Term(("a",), field="title"),), (Term(("b",), field="title"),), 0)
    assert compile_elastic(title) == {"span_near": {"clauses": [{"span_term": {"title": "a"}},
                                                                {"span_term": {"title": "b"}}],
                                                    "slop": 0, "in_order": False}}


def test_filters():
    assert compile_elastic(Filter("site", "acme.com")) == {"bool": {"filter": [{"term": {"domain_parts": "acme.com"}}]}}
    assert compile_elastic(Filter("lang", "fa")) == {"bool": {"filter": [{"term": {"lang": "fa"}}]}}
    assert compile_elastic(Filter("source", "reddit")) == {"bool": {"filter": [{"term": {"source": "reddit"}}]}}
    assert compile_elastic(Filter("author", "Jane_Doe")) == {"bool": {"filter": [{"bool": {"should": [
        {"term": {"author_key": author_key("Jane_Doe")}}, {"term": {"author_id": "Jane_Doe"}}],
        "minimum_should_match": 1}}]}}


def test_not_and_or():
    word = {"match_phrase": {"title": {"query": "a"}}}
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


CORPUS_DOCS = [_doc(m) for m in CORPUS]
CORPUS_VIEWS = [DocView.from_mention(m) for m in CORPUS]


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(mentions, min_size=1, max_size=12), query=queries)
def test_dsl_agrees_with_the_matcher(docs, query):
    matches = compile_matcher(query)
    dsl = compile_elastic(query)
    for mention in docs:
        assert evaluate(dsl, _doc(mention)) == matches(DocView.from_mention(mention)), (render(query), mention)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries)
def test_dsl_agrees_with_the_matcher_on_a_fixed_corpus(query):
    matches = compile_matcher(query)
    dsl = compile_elastic(query)
    got = [evaluate(dsl, doc) for doc in CORPUS_DOCS]
    assert got == [matches(view) for view in CORPUS_VIEWS], render(query)


# ---------------------------------------------------------------- against a real server


@pytest.fixture(scope="module")
def es_corpus():
    url = os.environ.get("LISTENER_ES_URL")
    if not url:
        pytest.skip("LISTENER_ES_URL is not set (e.g. elasticsearch://127.0.0.1:9200): no Elasticsearch server "
                    "to check the compiler against; the offline interpreter tests above still run")
    from listener.store.elastic import ElasticStore, parse_url

    options = parse_url(url)
    options.pop("index")
    store = ElasticStore(f"listener-test-query-{uuid.uuid4().hex[:12]}", **options)
    store.upsert(CORPUS)
    try:
        yield store
    finally:
        store.client.indices.delete(index=store.index, ignore_unavailable=True)
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


def test_parse_then_compile_examples():
    # a few queries as users type them, end to end through the parser
    assert compile_elastic(parse("site:https://www.Acme.com/x")) == {
        "bool": {"filter": [{"term": {"domain_parts": "acme.com"}}]}}
    assert compile_elastic(parse("-refund")) == {"bool": {"must_not": [both(
        lambda f: {"match_phrase": {f: {"query": "refund"}}})]}}

"""Resource limits: a huge query is refused with a clear message, a runaway search is stopped, and a page
built to exhaust the stack costs only its own block."""

from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from listener.cli import app
from listener.model import Mention
from listener.query import MAX_NEAR_PAIRS, MAX_PREFIXES, MAX_QUERY_CHARS, MAX_TERMS, QuerySyntaxError, parse
from listener.store.base import Filters, QueryTooSlow
from spiders.parse import MalformedPage
from spiders.parse.appstore import parse_appstore_feed
from spiders.parse.schemaorg import parse_review_page
from spiders.parse.trustpilot import parse_trustpilot_page


def ors(template: str, n: int) -> str:
    return " OR ".join(template.format(i=i) for i in range(n))


@pytest.mark.parametrize("query, message", [
    ("word " * (MAX_QUERY_CHARS // 5 + 1), "characters long"),
    (ors("site:s{i}.example.com", 8000), "characters long"),
    (ors("site:s{i}.io", MAX_TERMS + 1), "field filters"),
    (ors("w{i}", MAX_TERMS + 1), "field filters"),
    (ors("p{i}*", MAX_PREFIXES + 1), "prefix"),
    (f"({ors('a{i}', 21)}) NEAR/5 ({ors('b{i}', 20)})", "NEAR pairs"),
])
def test_oversized_queries_are_refused_with_what_is_too_big(query, message):
    with pytest.raises(QuerySyntaxError, match=message):
        parse(query)


def test_queries_at_the_limits_still_parse_and_run(sqlite_store):
    sqlite_store.upsert([Mention(source="forum", native_id="1", text="w7 here", domain="s3.example.com",
                                 published_at=datetime(2026, 11, 1, tzinfo=timezone.utc))])
    for query in (ors("w{i}", MAX_TERMS), ors("site:s{i}.example.com", MAX_TERMS)):
        assert sqlite_store.search(Filters(query=query)).total == 1
    parse(f"({ors('a{i}', 20)}) NEAR/5 ({ors('b{i}', MAX_NEAR_PAIRS // 20)})")


def test_the_cli_says_what_is_too_big_with_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    result = CliRunner().invoke(app, ["search", ors("site:s{i}.example.com", 8000)], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: query: the query is 206,886 characters long")
    assert result.stderr.count("\n") == 1  # one line: no 200 KB query echoed back with a caret
    result = CliRunner().invoke(app, ["search", ors("site:s{i}.io", 600)], catch_exceptions=False)
    assert result.exit_code == 2 and result.stderr.startswith("error: query: the query has 600 words")


def test_a_runaway_search_is_stopped_with_a_clear_error(sqlite_store):
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    sqlite_store.upsert([Mention(source="forum", native_id=str(i), text=f"alpha{i} beta{i % 7} gamma",
                                 published_at=t0 + timedelta(minutes=i)) for i in range(3000)])
    query = f"({ors('alpha{i}*', 20)}) NEAR/50 ({ors('beta{i}*', 7)}) OR gamma"
    assert sqlite_store.search(Filters(query=query)).total == 3000  # fine with the default limit
    sqlite_store.query_timeout = 0.0  # every statement is now over its time
    with pytest.raises(QueryTooSlow, match="stopped"):
        sqlite_store.search(Filters(query=query))
    with pytest.raises(QueryTooSlow):
        sqlite_store.count(Filters(query=query))
    with pytest.raises(QueryTooSlow):
        sqlite_store.timeseries(Filters(query=query), interval="1h")
    sqlite_store.query_timeout = 20.0
    assert sqlite_store.count(Filters(query="gamma")) == 3000  # the handler is gone: the store still works


REVIEW = '{"@type":"Review","reviewBody":"works well","author":"Kim","datePublished":"2026-01-01"}'


@pytest.mark.parametrize("depth", [70, 1000, 100_000])
@pytest.mark.parametrize("opener, closer", [('{"a":', "}"), ("[", "]")])
def test_a_deep_jsonld_block_is_skipped_with_a_note_and_the_page_read(depth, opener, closer):
    deep = opener * depth + "1" + closer * depth
    page = (f'<html><body><script type="application/ld+json">{deep}</script>'
            f'<script type="application/ld+json">{REVIEW}</script></body></html>')
    result = parse_review_page(page, "https://reviews.example/p")
    assert [m.text for m in result.mentions] == ["works well"]
    assert any("JSON-LD block 1" in note and "deep" in note for note in result.skipped)


def test_deep_json_feeds_are_malformed_pages_not_crashes():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(MalformedPage, match="deep"):
        parse_appstore_feed(deep, app_id="1", country="us", page=1, base="https://itunes.example")
    page = f'<html><body><script id="__NEXT_DATA__">{deep}</script></body></html>'
    with pytest.raises(MalformedPage, match="deep"):
        parse_trustpilot_page(page, "https://www.trustpilot.com/review/x.example")

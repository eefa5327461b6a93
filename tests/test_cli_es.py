"""The CLI with an Elasticsearch store, in a real subprocess: what fails is one clear line and exit code 2 (never
a traceback, never a credential), and `listener es migrate` against a local server answering as Elasticsearch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fake_elastic import FakeElasticsearch, error
from store_contract import corpus


def listener(*args: str, store: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_")}
    environ.update({"LISTENER_STORE": store, "LISTENER_DATA": os.environ.get("TMPDIR", "/tmp"), **env})
    return subprocess.run([sys.executable, "-m", "listener.cli", *args], capture_output=True, text=True,
                          env=environ, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_unreachable_elasticsearch_is_one_line_without_the_password():
    with FakeElasticsearch() as server:
        port = server.port  # closed again: nothing listens there now
    result = listener("search", "acme", store=f"elasticsearch://elastic:hunter2-secret@127.0.0.1:{port}/x")
    assert_one_line_error(result, f"cannot reach Elasticsearch at http://127.0.0.1:{port}")
    assert "hunter2" not in result.stderr + result.stdout


def test_unknown_store_scheme_is_one_line_without_the_password():
    result = listener("forget", "--author", "x", store="elastcsearch://u:topsecret@127.0.0.1:9200/x")
    assert_one_line_error(result, "unknown store URL scheme 'elastcsearch'", "known: ")
    assert "topsecret" not in result.stderr


def test_an_api_key_refused_is_one_line_without_the_key():
    with FakeElasticsearch("8.19.3", auth="ApiKey right") as server:
        result = listener("search", "acme", store=server.store_url(), LISTENER_ES_API_KEY="wrong-key-12345")
    assert_one_line_error(result, "refused the credentials (401)", "LISTENER_ES_API_KEY")
    assert "wrong-key-12345" not in result.stderr


def test_a_query_the_cluster_refuses_is_a_query_error():
    with FakeElasticsearch("9.1.4") as server:
        server.script("POST", "/_search$", error(400, "search_phase_execution_exception", "all shards failed",
                                                 caused_by={"type": "too_many_clauses",
                                                            "reason": "maxClauseCount is set to 1024"}))
        result = listener("search", "refundable* NEAR/2 fee", store=server.store_url())
    assert_one_line_error(result, "too many terms")


def test_es_migrate_moves_an_old_index_behind_an_alias():
    mentions = corpus()
    with FakeElasticsearch("8.19.3") as server:
        server.add_index("brand-old", {"properties": {"id": {"type": "keyword"}}},
                         {m.id: {"id": m.id, "doc": json.loads(m.to_json())} for m in mentions})
        refused = listener("search", "acme", store=server.store_url("brand-old"))
        assert_one_line_error(refused, "schema version 1", "listener es migrate")
        result = listener("es", "migrate", "--json", store=server.store_url("brand-old"))
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["status"] == "migrated" and report["copied"] == len(mentions) and report["to"] == "brand-old-v4"
        assert server.aliases["brand-old"] == ["brand-old-v4"] and len(server.indices["brand-old-v4"]["docs"]) == 8


def test_es_migrate_needs_an_elasticsearch_store(tmp_path):
    result = listener("es", "migrate", store=f"sqlite:///{tmp_path / 'x.db'}")
    assert_one_line_error(result, "LISTENER_STORE", "not an Elasticsearch store")


def test_a_servers_reason_quoting_scraped_text_cannot_drive_the_terminal():
    with FakeElasticsearch("9.1.4") as server:
        server.script("POST", "/_search$", error(400, "parsing_exception",
                                                 "bad value '\x1b[2J\x1b[31mpwned\u202e' [red]x[/red]\nsecond line"))
        result = listener("search", "acme", store=server.store_url())
    assert_one_line_error(result, "parsing_exception", "\\u001b[2J", "[red]x[/red]")
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr

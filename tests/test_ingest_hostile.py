"""`listener ingest` on hostile lines: each line stands alone, bad ones are reported, good ones all stored."""

import json

import pytest


def line(native_id: str, **fields) -> bytes:
    data = {"source": "forum", "native_id": native_id, "text": f"post {native_id}",
            "published_at": "2026-11-01T10:00:00Z", **fields}
    return json.dumps(data).encode()


def ingest(run, tmp_path, lines: list[bytes]) -> dict:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run("ingest", str(path), "--no-score", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def around(bad: bytes) -> list[bytes]:
    """600 good lines, the bad one (line 601), 100 good lines: the bad line sits inside the first batch of 500
    after it, so a batch that fails as a whole shows up as lost good lines."""
    return [line(f"a{i}") for i in range(600)] + [bad] + [line(f"b{i}") for i in range(100)]


def test_a_lone_surrogate_loses_only_its_line(run, tmp_path):
    report = ingest(run, tmp_path, around(line("bad", text="broken \\ud800 text").replace(b"\\\\ud800", b"\\ud800")))
    assert report["inserted"] == 700
    assert report["bad_lines"] == [{"line": 601, "error": report["bad_lines"][0]["error"]}]
    assert "surrogate" in report["bad_lines"][0]["error"] and "text" in report["bad_lines"][0]["error"]


def test_a_lone_surrogate_in_extra_is_refused_too(run, tmp_path):
    bad = b'{"source":"forum","native_id":"x","text":"t","published_at":"2026-11-01T10:00:00Z","extra":{"k":"\\udc00"}}'
    report = ingest(run, tmp_path, around(bad))
    assert report["inserted"] == 700 and [b["line"] for b in report["bad_lines"]] == [601]


@pytest.mark.parametrize("depth", [40, 5000])  # 40 parses but is refused by the model; 5000 breaks json itself
def test_a_deeply_nested_extra_loses_only_its_line(run, tmp_path, depth):
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    bad = (b'{"source":"forum","native_id":"deep","text":"t","published_at":"2026-11-01T10:00:00Z","extra":'
           + nested + b"}")
    report = ingest(run, tmp_path, around(bad))
    assert report["inserted"] == 700
    assert [b["line"] for b in report["bad_lines"]] == [601]
    assert "nested" in report["bad_lines"][0]["error"]


def test_invalid_utf8_is_reported_not_replaced(run, tmp_path):
    report = ingest(run, tmp_path, [line("ok"), line("latin1", text="caf\u00e9").replace(b"\\u00e9", b"\xe9")])
    assert report["inserted"] == 1
    assert report["bad_lines"][0]["line"] == 2 and "UTF-8" in report["bad_lines"][0]["error"]
    assert "0xe9" in report["bad_lines"][0]["error"]


def test_a_raw_cr_inside_a_line_does_not_split_it(run, tmp_path):
    report = ingest(run, tmp_path, [line("cr", text="first\\rsecond").replace(b"\\\\r", b"\r"), line("next")])
    assert report["bad_line_count"] == 0 and report["inserted"] == 2 and report["lines"] == 2
    found = json.loads(run("search", "first", "--json").stdout)
    assert found["hits"][0]["mention"]["text"] == "first\rsecond"


def test_a_utf8_bom_at_the_start_is_not_an_error(run, tmp_path):
    report = ingest(run, tmp_path, [b"\xef\xbb\xbf" + line("one"), line("two")])
    assert report["bad_line_count"] == 0 and report["inserted"] == 2


@pytest.mark.parametrize("published_at, why", [("0001-01-01T00:00:00Z", "before 1990"),
                                               ("9999-12-31T00:00:00Z", "future")])
def test_implausible_dates_are_refused_with_a_note(run, tmp_path, published_at, why):
    report = ingest(run, tmp_path, [line("ok"), line("odd", published_at=published_at)])
    assert report["inserted"] == 1
    assert report["bad_lines"][0]["line"] == 2
    assert "published_at" in report["bad_lines"][0]["error"] and why in report["bad_lines"][0]["error"]

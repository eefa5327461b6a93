"""The command line end to end on a temporary data folder (no model: --no-score)."""

import csv
import io
import json
from pathlib import Path

import pytest

from listener.cli import app

ROOT = Path(__file__).resolve().parents[1]

GOOD = [
    {"source": "reddit", "native_id": "t3_1", "text": "Nimbus login code never arrives, locked out",
     "published_at": "2026-11-01T10:00:00Z", "author_name": "sam", "url": "https://www.reddit.com/r/x/1"},
    {"source": "trustpilot", "native_id": "r1", "title": "Great", "text": "تحويل سريع جدا مع نيمبس",
     "published_at": "2026-11-02T10:00:00+03:00", "rating": 5, "author_name": "Ali"},
    {"source": "rss", "url": "https://news.example.com/a", "text": "کارمزد انتقال در نیمبوس افزایش یافت",
     "published_at": "2026-11-03T08:00:00Z", "author_name": "sam"},
]


@pytest.fixture
def jsonl(tmp_path):
    lines = [json.dumps(GOOD[0]), "{not json", json.dumps({"source": "reddit", "native_id": "x", "text": "no date"}),
             json.dumps(GOOD[1]), "", json.dumps({**GOOD[0], "native_id": "t3_2", "published_at": "yesterday-ish"}),
             json.dumps(GOOD[2]), "[1, 2]"]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_reports_bad_lines_with_numbers_and_keeps_good(run, jsonl):
    result = run("ingest", str(jsonl), "--no-score", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["inserted"] == 3 and report["good_lines"] == 3
    assert [b["line"] for b in report["bad_lines"]] == [2, 3, 6, 8]
    reasons = {b["line"]: b["error"] for b in report["bad_lines"]}
    assert "not JSON" in reasons[2] and "published_at" in reasons[3] and "published_at" in reasons[6]
    assert "JSON object" in reasons[8]
    again = json.loads(run("ingest", str(jsonl), "--no-score", "--json").stdout)
    assert again["inserted"] == 0 and again["updated"] == 3  # idempotent


def test_search_finds_all_three_languages_with_variants(run, jsonl):
    run("ingest", str(jsonl), "--no-score")
    def ids(query, *extra):
        out = run("search", query, "--json", *extra)
        assert out.exit_code == 0, out.output
        return sorted(h["mention"]["native_id"] for h in json.loads(out.stdout)["hits"] if h["mention"].get("native_id"))
    assert ids("login AND code") == ["t3_1"]
    assert ids("نیمبس") == ["r1"]                # Persian yeh finds the Arabic spelling
    assert len(json.loads(run("search", "كارمزد", "--json").stdout)["hits"]) == 1  # Arabic kaf, Persian text
    assert ids("", "--source", "trustpilot", "--rating-min", "4") == ["r1"]
    assert ids("nimbus", "--since", "2026-11-02") == []
    page = json.loads(run("search", "login", "--json").stdout)
    assert "<mark>" in page["hits"][0]["snippet"]


def test_bad_query_names_the_position(run, jsonl):
    result = run("search", "nimbus AND (login OR")
    assert result.exit_code == 2
    assert "position" in result.output and "^" in result.output


def test_bad_options_are_clear(run):
    assert "expected a date" in run("search", "x", "--since", "last tuesday").output
    assert run("search", "x", "--sentiment", "angry").exit_code == 2
    assert run("export", "--format", "xml").exit_code == 2


def test_export_csv_and_jsonl_round_trip(run, jsonl, tmp_path):
    run("ingest", str(jsonl), "--no-score")
    out = tmp_path / "out.csv"
    assert run("export", "--format", "csv", "-o", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 3 and {r["source"] for r in rows} == {"reddit", "trustpilot", "rss"}
    dump = run("export", "--format", "jsonl").stdout
    lines = [json.loads(l) for l in dump.splitlines()]
    assert [l["published_at"][:10] for l in lines] == ["2026-11-01", "2026-11-02", "2026-11-03"]  # oldest first


def test_forget_author_removes_everything_of_that_author(run, jsonl):
    run("ingest", str(jsonl), "--no-score")
    hits = json.loads(run("search", "", "--json").stdout)["hits"]
    sam = {h["mention"]["author_id"] for h in hits if h["mention"].get("author_name") == "sam"}
    assert len(sam) == 2  # the same name on two sources is two authors
    author = next(h["mention"]["author_id"] for h in hits if h["mention"]["source"] == "reddit")
    result = json.loads(run("forget", "--author", author, "--json").stdout)
    assert result["removed"] == 1
    assert json.loads(run("search", "", "--json").stdout)["total"] == 2


def test_stats_json_has_breakdowns_and_series(run, jsonl):
    run("ingest", str(jsonl), "--no-score")
    stats = json.loads(run("stats", "--json", "--interval", "1d", "--tz", "Asia/Tehran").stdout)
    assert stats["total"] == 3 and stats["unscored"] == 3
    assert dict(stats["breakdowns"]["source"]) == {"reddit": 1, "trustpilot": 1, "rss": 1}
    assert len(stats["timeseries"]) == 3
    assert stats["timeseries"][0]["start"].endswith("+03:30")
    assert sorted(a["name"] for a in stats["top_authors"]) == ["Ali", "sam", "sam"]  # one id per source


def test_every_command_is_in_the_readme():
    import typer.main

    commands = typer.main.get_command(app).commands
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(commands) >= 13
    assert sorted(name for name in commands if f"listener {name}" not in readme) == []


def test_search_and_export_select_mixed_mentions(run, tmp_path):
    mixed = {"source": "trustpilot", "native_id": "mx", "text": "Nimbus app is great, the refund was late",
             "published_at": "2026-11-01T10:00:00Z", "rating": 3, "sentiment": {
                 "label": "negative", "score": 0.45,
                 "probabilities": {"negative": 0.45, "neutral": 0.1, "positive": 0.45}}}
    plain = {**mixed, "native_id": "p", "text": "Nimbus refund was late", "sentiment": {
        "label": "negative", "score": 0.9, "probabilities": {"negative": 0.9, "neutral": 0.05, "positive": 0.05}}}
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(mixed) + "\n" + json.dumps(plain) + "\n", encoding="utf-8")
    assert run("ingest", str(path), "--no-score").exit_code == 0
    shown = run("search", "nimbus", "--mixed")
    assert shown.exit_code == 0 and "1 mention(s)" in shown.output and "negative (mixed)" in shown.output
    assert "2 mention(s)" in run("search", "nimbus").output
    out = tmp_path / "mixed.csv"
    assert run("export", "--mixed", "--format", "csv", "-o", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["id"] != "", r["sentiment_negative"], r["sentiment_mixed"]) for r in rows] == [(True, "0.4500", "yes")]

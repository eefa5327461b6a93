"""What the CLI prints and exports is safe to open, whatever the pages said; its help and errors read well."""

import csv
import io
import json

import pytest

from listener.cli import app

HOSTILE = [
    {"source": "forum", "native_id": "1", "published_at": "2026-11-01T10:00:00Z",
     "author_name": "=HYPERLINK(\"http://evil.example\",\"click\")", "title": "+cmd|' /C calc'!A0",
     "text": "nimbus @SUM(1+1) \x1b]52;c;ZXZpbA==\x07 then \x1b[2J cleared", "url": "javascript:alert(1)"},
    {"source": "forum", "native_id": "2", "published_at": "2026-11-01T11:00:00Z",
     "author_name": "moc.evil\u202eexe", "text": "-nimbus is down \x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\",
     "url": "https://forum.example/t/2"},
    {"source": "forum", "native_id": "3", "published_at": "2026-11-01T12:00:00Z",
     "text": "نیمبوس data link", "url": "data:text/html,<script>alert(1)</script>"},
]


@pytest.fixture
def stored(run, tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in HOSTILE), encoding="utf-8")
    assert run("ingest", str(path), "--no-score", "--json").exit_code == 0
    return run


def exported_rows(run, tmp_path, *args) -> list[dict]:
    out = tmp_path / "out.csv"
    result = run("export", *args, "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))


def test_csv_cells_never_run_as_formulas(stored, tmp_path):
    rows = {row["id"][-4:]: row for row in exported_rows(stored, tmp_path)}
    assert len(rows) == 3
    for row in rows.values():
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    first = next(r for r in rows.values() if r["title"].startswith("'+cmd"))
    assert first["author_name"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"  # kept, only neutralised
    assert any(r["text"].startswith("'-nimbus") for r in rows.values())


def test_csv_link_column_holds_only_web_links(stored, tmp_path):
    links = sorted(row["url"] for row in exported_rows(stored, tmp_path))
    assert links == ["", "", "https://forum.example/t/2"]


def test_csv_bom_is_offered_for_excel(stored, tmp_path):
    out = tmp_path / "excel.csv"
    assert stored("export", "--format", "csv", "--bom", "-o", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,")
    plain = tmp_path / "plain.csv"
    assert stored("export", "--format", "csv", "-o", str(plain)).exit_code == 0
    assert plain.read_bytes().startswith(b"id,")


def test_jsonl_export_keeps_the_stored_values(stored, tmp_path):
    out = tmp_path / "all.jsonl"
    assert stored("export", "-o", str(out)).exit_code == 0
    urls = sorted(json.loads(line)["url"] for line in out.read_text(encoding="utf-8").splitlines())
    assert "javascript:alert(1)" in urls  # stored as said: JSON Lines is data to re-import, not links to click


def test_export_takes_the_query_as_an_argument_like_search(stored, tmp_path):
    assert len(exported_rows(stored, tmp_path, "nimbus")) == 2
    assert len(exported_rows(stored, tmp_path, "-q", "نیمبوس")) == 1
    both = stored("export", "nimbus", "-q", "nimbus")
    assert both.exit_code == 2 and "once" in both.stderr


def test_search_output_carries_no_escape_sequences_and_no_unsafe_links(stored):
    result = stored("search", "--limit", "10")
    assert result.exit_code == 0
    out = result.stdout
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "ZXZpbA==" not in out  # the clipboard payload went with its sequence
    assert "\u202e" not in out and "<U+202E>" in out
    assert "javascript:" not in out and "data:text" not in out
    assert "link not shown" in out and "https://forum.example/t/2" in out


def test_search_json_escapes_c1_and_bidi_controls(stored):
    result = stored("search", "--json")
    assert "\u202e" not in result.stdout and "\\u202e" in result.stdout
    names = {hit["mention"].get("author_name") for hit in json.loads(result.stdout)["hits"]}
    assert "moc.evil\u202eexe" in names  # still the same value for a program reading the JSON


def test_stats_breakdowns_are_terminal_safe(stored):
    out = stored("stats", "--since", "2026-10-01", "--until", "2026-11-02").stdout
    assert "\u202e" not in out and "\x1b" not in out


def test_errors_are_one_readable_line(run):
    result = run("search", "--since", "last tuesday")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --since:") and "[bold red]" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("value", ["nan", "-1", "6", "inf"])
def test_rating_filters_outside_0_to_5_are_refused(run, value):
    result = run("search", "--rating-min", value)
    assert result.exit_code == 2 and "--rating-min" in result.stderr


def test_version_is_printed(run):
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("listener ")


@pytest.mark.parametrize("command", [["search"], ["ingest"], ["export"], []])
def test_help_shows_no_type_for_flags(run, command):
    out = run(*command, "--help").stdout
    assert "<bool>" not in out and "--help" in out


def test_every_export_filter_option_has_help(run):
    from typer.main import get_command

    export = get_command(app).commands["export"]
    missing = [p.name for p in export.params if getattr(p, "help", None) in (None, "") and not p.hidden]
    assert missing == []

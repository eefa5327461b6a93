"""`forget` leaves no trace on disk, works by the name a person posts under, and the data stays owner-only."""

import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from listener.cli import app
from listener.model import Mention
from listener.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
SECRET_WORDS = ("zyxwvutsrq", "Qpmzlkjhgf")  # appear nowhere else, so any byte of them on disk is a trace


def mentions():
    out = [Mention(source="reddit", native_id="r1", author_name="Sara K", published_at=T0,
                   text=f"my address is {SECRET_WORDS[0]} street, nimbus lost my money"),
           Mention(source="trustpilot", native_id="t1", author_name="sara  k", published_at=T0 + timedelta(hours=1),
                   title=SECRET_WORDS[1], text="the same person on another site"),
           Mention(source="appstore", native_id="a1", author_name="Sarah Kay", published_at=T0,
                   text="someone else entirely")]
    # enough other rows that the forgotten ones share pages with rows that stay
    out += [Mention(source="forum", native_id=f"f{i}", author_name=f"user{i}", published_at=T0 + timedelta(minutes=i),
                    text=f"ordinary post number {i} about nimbus") for i in range(300)]
    return out


def disk_bytes(folder) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


def test_forget_author_leaves_no_trace_in_the_files(tmp_path):
    store = SqliteStore(tmp_path / "data" / "listener.db")
    store.upsert(mentions())
    store.upsert(mentions()[:2])  # an update too: old versions of the rows must not linger either
    author = next(m for m in mentions() if m.native_id == "r1").author_id
    assert SECRET_WORDS[0].encode() in disk_bytes(tmp_path / "data")
    assert store.forget_author(author) == 1
    # checked while the store is still open: the WAL must not hold the old pages
    assert SECRET_WORDS[0].lower().encode() not in disk_bytes(tmp_path / "data").lower()
    store.close()
    assert SECRET_WORDS[0].lower().encode() not in disk_bytes(tmp_path / "data").lower()


@pytest.fixture
def run(run, tmp_path):
    """The CLI (conftest's `run`) on a data folder that holds `mentions()`."""
    path = tmp_path / "in.jsonl"
    path.write_text("".join(m.to_json() + "\n" for m in mentions()), encoding="utf-8")
    assert run("ingest", str(path), "--no-score", "--json").exit_code == 0
    return run


def test_forget_by_name_previews_and_asks_first(run, tmp_path):
    refused = run("forget", "--author-name", "Sara K", input="n\n")
    assert refused.exit_code == 1
    assert "reddit" in refused.stderr and "trustpilot" in refused.stderr and "appstore" not in refused.stderr
    assert "2 mention(s)" in refused.stderr and "nothing deleted" in refused.stderr
    assert json.loads(run("search", "nimbus OR person", "--json", "--limit", "1").stdout)["total"] == 302

    done = run("forget", "--author-name", "SARA K", input="y\n")
    assert done.exit_code == 0 and "removed 2 mention(s)" in done.stdout
    left = json.loads(run("search", "--json", "--limit", "1000").stdout)
    names = {hit["mention"].get("author_name") for hit in left["hits"]}
    assert left["total"] == 301 and "Sarah Kay" in names and "Sara K" not in names
    for word in SECRET_WORDS:
        assert word.lower().encode() not in disk_bytes(tmp_path / "data").lower()


def test_forget_by_name_for_scripts(run):
    result = run("forget", "--author-name", "sara k", "--yes", "--json")
    report = json.loads(result.stdout)
    assert report["removed"] == 2 and len(report["author_ids"]) == 2


def test_forget_needs_exactly_one_way_to_name_the_person(run):
    assert run("forget").exit_code == 2
    assert run("forget", "--author", "x", "--author-name", "y").exit_code == 2
    bad = run("forget", "--author-name", 'a "quoted" name', "--yes")
    assert bad.exit_code == 2 and "--author" in bad.stderr


def test_data_folder_and_databases_are_owner_only(tmp_path, monkeypatch):
    old = os.umask(0o022)  # the usual umask: without care, files come out world-readable
    try:
        monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "new" / "data"))
        monkeypatch.delenv("LISTENER_STORE", raising=False)
        path = tmp_path / "one.jsonl"
        path.write_text(mentions()[0].to_json() + "\n", encoding="utf-8")
        assert CliRunner().invoke(app, ["ingest", str(path), "--no-score"]).exit_code == 0
        from spiders.checkpoint import CheckpointStore

        CheckpointStore(tmp_path / "new" / "data" / "state.db").set("k", 1)
    finally:
        os.umask(old)
    data = tmp_path / "new" / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700  # created by listener too
    for name in ("listener.db", "state.db"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    for extra in data.glob("*-wal"):
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra.name

"""One row dated 0001-01-01 or 9999 (stored before ingest refused them, or by another tool) must not break
or stretch every time series: a series spans what its filter selects."""

from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from listener.cli import app
from listener.model import Mention
from listener.store.base import Filters, SeriesTooLong

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def mention(native_id, published_at):
    return Mention(source="forum", native_id=native_id, text=f"nimbus post {native_id}", published_at=published_at)


@pytest.fixture
def store_with_outliers(sqlite_store):
    sqlite_store.upsert([mention(str(i), T0 + timedelta(hours=i)) for i in range(48)]
                        + [mention("zero", datetime(1, 1, 1, tzinfo=timezone.utc)),
                           mention("never", datetime(9999, 12, 31, tzinfo=timezone.utc))])
    return sqlite_store


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Tehran"])
def test_a_filtered_series_spans_only_its_filter(store_with_outliers, tz):
    filters = Filters(since=T0, until=T0 + timedelta(days=2))
    series = store_with_outliers.timeseries(filters, interval="1h", tz=tz)
    assert sum(sum(counts.values()) for _, counts in series) == 48
    assert len(series) in (48, 49)  # 49 where local hours are half an hour off UTC's (Tehran)
    assert T0 - timedelta(hours=1) < series[0][0] <= T0 and series[-1][0] <= T0 + timedelta(hours=47)


def test_a_filter_that_selects_no_outlier_needs_no_date_filter(store_with_outliers):
    # no --since/--until, but the query selects only the real rows: the selection's own edges are used
    series = store_with_outliers.timeseries(Filters(query="nimbus AND NOT zero AND NOT never"), interval="1d")
    assert [sum(c.values()) for _, c in series] == [24, 24]


def test_a_series_over_thousands_of_years_says_so(store_with_outliers):
    with pytest.raises(SeriesTooLong, match="0001-01-01 to 9999-12-31"):
        store_with_outliers.timeseries(Filters(), interval="1d")


def test_stats_cli_keeps_working_after_an_outlier_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    monkeypatch.delenv("LISTENER_PROJECT", raising=False)
    from listener.config import Settings
    from listener.runtime import open_settings_store

    with open_settings_store(Settings.from_env()) as store:
        store.upsert([mention("a", T0), mention("b", T0 + timedelta(days=1)),
                      mention("zero", datetime(1, 1, 1, tzinfo=timezone.utc))])
    runner = CliRunner()
    ok = runner.invoke(app, ["stats", "--since", "2026-10-30", "--json"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    too_long = runner.invoke(app, ["stats", "--interval", "1h"], catch_exceptions=False)
    assert too_long.exit_code == 2 and too_long.stderr.startswith("error: stats:")
    assert "--since" in too_long.stderr

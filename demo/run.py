"""`listener demo`: the bundled sample through the whole path, offline, then a summary of what was found."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

from rich.console import Console
from rich.table import Table

from listener.cli.render import shown
from listener.config import Settings
from demo.gather import gather_through_sources
from demo.project import demo_project
from demo.alerts import print_alerts, raise_sample_alerts
from demo.render import render
from demo.sample import INCIDENT_DAYS_AGO, build_sample, count_mentions
from demo.seo import run_seo
from listener.runtime import open_settings_store, pipeline_context
from listener.store.base import Filters

TRY_NEXT = [
    "listener search 'nimbus AND (login OR \"verification code\")' --since 7d",
    "listener search 'کد تایید' --lang fa --sentiment negative",
    "listener search 'رمز NEAR/3 التحقق' --lang ar",
    "listener stats --brand Nimbus --interval 1h --since 4d --tz Asia/Dubai",
    "listener search 'title:update' --source trustpilot --sort relevance",
    "listener export --format csv -o mentions.csv --brand Nimbus",
    "listener seo report --project examples/project.toml",
    "listener seo history 'nimbus reset password' --project examples/project.toml",
    "listener user add ana --role admin                  # who may log in to the web app",
    "listener serve --project examples/project.toml     # then open http://127.0.0.1:8000",
]


def run_demo(settings: Settings, score: bool = True, console: Console | None = None) -> dict:
    """Build the sample, serve it on 127.0.0.1 in each source's shape, gather it with the real spiders and
    clients, store and score it, and return (and print) a summary. Sample ids are fixed, so running the demo again
    updates the same mentions (moved to the new time window) instead of adding copies."""
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    posts = build_sample(end=now)
    rendered = render(posts)
    project = demo_project(rendered.sources)  # the sources of the local servers the sample is served from
    say = console.print if console else (lambda *a, **k: None)
    say(f"[bold]listener demo[/bold]: {count_mentions(posts)} sample mentions over 21 days in English, "
        f"Persian and Arabic (data folder: {settings.data_dir})")
    with open_settings_store(settings) as store:
        if score:
            say("loading the multilingual model (the first run converts it, about 10 s)…")
        ctx = pipeline_context(settings, project, store, score=score)
        report, by_source = gather_through_sources(settings, project, posts, ctx, say, fresh=True,
                                                   rendered=rendered)
        summary = summarise(store, now, project.project.timezone)
        summary["seo"] = run_seo(settings, store, project, say)  # last: it ranks the threads just gathered
    summary["alerts"] = raise_sample_alerts(settings, project, now)
    summary.update({
        "seconds": round(time.perf_counter() - started, 1),
        "gathered": {"received": report.received, "stored": report.inserted + report.updated,
                     "near_duplicates": report.near_duplicates, "unmatched": report.unmatched,
                     "scored": report.scored, "by_source": by_source},
        "try_next": TRY_NEXT,
    })
    if console:
        print_summary(console, summary)
    return summary


def summarise(store, now: datetime, tz: str) -> dict:
    everything = Filters(since=now - timedelta(days=22))
    nimbus_negative = Filters(brands=("Nimbus",), sentiments=("negative",), since=now - timedelta(days=22))
    hourly = store.timeseries(Filters(brands=("Nimbus",), since=now - timedelta(days=22)), interval="1h")
    counts = [bucket["all"] for _, bucket in hourly]
    peak_index = max(range(len(counts)), key=counts.__getitem__) if counts else None
    peak = None
    if peak_index is not None:
        start = hourly[peak_index][0]
        in_peak = Filters(brands=("Nimbus",), since=start, until=start + timedelta(hours=1))
        peak = {
            "start": start, "mentions": counts[peak_index], "median_per_hour": statistics.median(counts),
            "negative_share": (store.count(Filters(brands=("Nimbus",), sentiments=("negative",), since=start,
                                                   until=start + timedelta(hours=1))) / max(counts[peak_index], 1)),
            "topics": store.terms(in_peak, "topic", size=3),
            "languages": store.terms(in_peak, "lang", size=3),
            "examples": [hit.mention.text[:140] for hit in store.search(in_peak, limit=3).hits],
            "planted_incident_day": (now - timedelta(days=INCIDENT_DAYS_AGO)).date(),
        }
    return {
        "total": store.count(everything),
        "by_language": store.terms(everything, "lang", size=5),
        "by_source": store.terms(everything, "source", size=10),
        "by_sentiment": store.terms(everything, "sentiment", size=3),
        "by_brand": store.terms(everything, "brand", size=5),
        "nimbus_negative": store.count(nimbus_negative),
        "busiest_hour": peak,
    }


def print_summary(console: Console, s: dict) -> None:
    g = s["gathered"]
    console.print(f"\ngathered {g['received']} mention(s), stored {g['stored']}, linked {g['near_duplicates']} "
                  f"near-duplicate(s), dropped {g['unmatched']} that matched no brand, scored {g['scored']} "
                  f"in {s['seconds']} s")
    table = Table(show_edge=False, title="What the store holds now")
    for column in ("languages", "sources", "sentiment", "brands"):
        table.add_column(column)
    columns = [s["by_language"], s["by_source"], s["by_sentiment"], s["by_brand"]]
    for row in range(max(len(c) for c in columns)):
        table.add_row(*(f"{shown(c[row][0])} {c[row][1]}" if row < len(c) else "" for c in columns))
    console.print(table)
    peak = s["busiest_hour"]
    if peak:
        topics = ", ".join(f"{t} ({n})" for t, n in peak["topics"]) or "none"
        console.print(f"\n[bold red]busiest hour for Nimbus[/bold red]: {peak['start']:%Y-%m-%d %H:00} UTC, "
                      f"{peak['mentions']} mentions against a median of {peak['median_per_hour']:.0f} an hour; "
                      f"{peak['negative_share']:.0%} negative; topics: {topics}")
        for text in peak["examples"]:
            console.print(f"  • {shown(text)}", highlight=False)
    print_alerts(console, s["alerts"])
    if s.get("seo"):
        from listener.cli.seo import render_report

        console.print("\n[bold]SEO: third-party pages above the help center[/bold] (a local search provider)")
        render_report(console, s["seo"])
    console.print("\n[bold]try next[/bold] (with .venv/bin on your PATH):")
    for line in s["try_next"]:
        # soft_wrap: a command longer than the terminal stays one line (copied whole), never split by rich
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)

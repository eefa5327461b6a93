"""The demo's gathering: the sample served on 127.0.0.1 and fetched by the real spiders and API clients.

`gather_through_sources` renders the sample (`demo.render`), starts three local servers (a Reddit
API, a YouTube Data API, and a web server standing in for the review sites, the news feed and the forum),
runs one pass of `listener run` over the demo project (`spiders.run.run_sources`: the Scrapy spiders in
their own process, Reddit through PRAW and YouTube in this one), and stops the servers whatever happens.

The web pages have made-up `.example` addresses; the crawl process is given the web server as its HTTP
proxy (http_proxy), so every page request reaches it and none can leave the machine, and page URLs do not
depend on the port. Credentials are made up too and go only to the gatherers (`environ=` and the crawl's
environment), never into this process's environment. Checkpoints go to <data>/demo/state.db, apart from
those of the user's own sources: a second pass gathers nothing new, and `fresh=True` (what `listener demo`
asks for) starts over, so a new run of the demo re-reads the sample on its new timeline.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from listener.cli.render import shown

from listener.config import Project, Settings
from demo.render import Rendered, render, site_bases
from demo.sample import SamplePost
from demo.servers.reddit import RedditServer
from demo.servers.sites import SiteServer
from demo.servers.youtube import YouTubeServer
from listener.pipeline import BatchReport, PipelineContext

# Made-up credentials that only the demo's servers accept.
CREDENTIALS = {"LISTENER_REDDIT_CLIENT_ID": "listener-demo", "LISTENER_REDDIT_CLIENT_SECRET": "not-a-secret",
               "LISTENER_YOUTUBE_KEY": "listener-demo-key"}
# Variables of the user's environment the crawl must not see: their proxies (ours is the only way out),
# the development HTTP cache (it would serve an earlier run's pages) and operators' Scrapy settings.
_DROPPED = ("LISTENER_HTTPCACHE", "LISTENER_SCRAPY_SETTINGS")


def state_dir(settings: Settings) -> Path:
    """Where the demo's gatherers keep their checkpoints."""
    return settings.data_dir / "demo"


def crawl_environment(proxy: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The crawl process's environment: this one without proxies or cache switches, plus the site bases and
    the demo's web server as the HTTP proxy for every host."""
    env = {name: value for name, value in (os.environ if environ is None else environ).items()
           if not name.lower().endswith("_proxy") and name not in _DROPPED}
    env.update(site_bases())
    env.update({"http_proxy": proxy, "HTTP_PROXY": proxy})
    return env


def reset_state(settings: Settings) -> None:
    """Forget what earlier demo runs gathered (only the demo's own checkpoint file)."""
    for suffix in ("", "-wal", "-shm"):
        (state_dir(settings) / f"state.db{suffix}").unlink(missing_ok=True)


def gather_through_sources(settings: Settings, project: Project, posts: list[SamplePost], ctx: PipelineContext,
                           say: Callable[..., Any] = lambda *a, **k: None, *, fresh: bool = False,
                           rendered: Rendered | None = None) -> tuple[BatchReport, dict[str, dict]]:
    """Serve the sample and run every source of `project` (whose sources must be `render(posts).sources`)
    over it once, into `ctx`. Returns the pipeline's totals and a summary per source (keyed by
    Mention.source)."""
    rendered = rendered or render(posts)
    if fresh:
        reset_state(settings)
    reddit = RedditServer(rendered.reddit, credentials=(CREDENTIALS["LISTENER_REDDIT_CLIENT_ID"],
                                                        CREDENTIALS["LISTENER_REDDIT_CLIENT_SECRET"]))
    youtube = YouTubeServer(rendered.videos, rendered.video_comments, keys=[CREDENTIALS["LISTENER_YOUTUBE_KEY"]])
    sites = SiteServer()
    for path, page in rendered.pages.items():
        sites.add_page(path, page.body, page.content_type)
    started = time.perf_counter()
    try:
        gather_settings = settings.model_copy(update={
            "data_dir": state_dir(settings), "reddit_url": reddit.start(), "youtube_url": youtube.start(),
            "broker_url": None})  # the demo is the embedded runtime: its checkpoints stay in its own file
        proxy = sites.start()
        counts = rendered.counts()
        say(f"serving the sample on 127.0.0.1: {counts['reddit things']} Reddit posts and comments, "
            f"{counts['videos']} YouTube videos with {counts['video comments']} comments, {counts['pages']} web pages")
        from spiders.run import run_sources
        from spiders.settings import LOCAL_OVERRIDES

        # One environment for the gatherers: the API clients read the credentials from it and the crawl
        # process gets it whole, with the local-server Scrapy settings (no politeness delays on 127.0.0.1).
        environ = {**crawl_environment(proxy), **CREDENTIALS,
                   "LISTENER_SCRAPY_SETTINGS": json.dumps(LOCAL_OVERRIDES)}
        reports = run_sources(gather_settings, project, score=ctx.scorer is not None, environ=environ, ctx=ctx,
                              say=say)
    finally:
        for server in (sites, youtube, reddit):
            server.stop()
    total, by_source = summarise_reports(reports)
    say("gathered " + ", ".join(f"{name} {s.get('received', 0)}" for name, s in by_source.items())
        + f" in {time.perf_counter() - started:.1f} s")
    for name, summary in by_source.items():
        for problem in summary.get("errors", [])[:3]:
            say(f"[yellow]{shown(name)}: {shown(problem)}[/yellow]")
    return total, by_source


def summarise_reports(reports: dict[str, dict]) -> tuple[BatchReport, dict[str, dict]]:
    """run_sources' reports as one BatchReport and a short summary per source."""
    total = BatchReport()
    by_source: dict[str, dict] = {}
    crawl = reports.get("crawl")
    if crawl is not None and "error" in crawl:
        by_source["crawl"] = {"errors": [crawl["error"]]}
    elif crawl is not None and not crawl.get("ok", True):
        by_source["crawl"] = {"errors": [line for line in crawl.get("log", []) if line.startswith("ERROR")][:10]
                              or ["the crawl logged errors"]}
    for spider, stats in ((crawl or {}).get("spiders") or {}).items():
        report = BatchReport(**{name: stats.get(name, 0) for name in (
            "received", "inserted", "updated", "repeated_in_batch", "near_duplicates", "unmatched", "scored")})
        total.add(report)
        problems = [f"{p['url']}: {p['reason']}"
                    for p in stats.get("skipped_pages", []) + stats.get("failed_requests", [])]
        if stats.get("errors"):
            problems.append(f"{stats['errors']} error(s) in the crawl log")
        by_source[_mention_source(spider)] = {
            "via": f"spider {spider}", **_counts(report), "requests": stats.get("requests", 0),
            "seconds": stats.get("elapsed_s"), **({"errors": problems} if problems else {})}
    for name in ("reddit", "youtube"):
        summary = reports.get(name)
        if summary is None:
            continue
        pipeline = summary.get("pipeline") or {}
        report = BatchReport(received=summary.get("new", 0), **{key: pipeline.get(key, 0) for key in (
            "inserted", "updated", "near_duplicates", "unmatched", "scored")})
        total.add(report)
        errors = list(summary.get("errors", []))
        for key in ("skipped", "error", "stopped"):
            if isinstance(summary.get(key), str):
                errors.append(summary[key])
        by_source[name] = {"via": "API client", **_counts(report), "requests": summary.get("requests", 0),
                           "seconds": summary.get("seconds"), **({"errors": errors} if errors else {})}
    return total, by_source


def _mention_source(spider: str) -> str:
    """The Mention.source a spider yields, from the one source registry."""
    from spiders.registry import SOURCES

    return SOURCES[spider].mention_source if spider in SOURCES else spider


def _counts(report: BatchReport) -> dict[str, int]:
    return {"received": report.received, "stored": report.inserted + report.updated, "inserted": report.inserted,
            "updated": report.updated, "unmatched": report.unmatched, "near_duplicates": report.near_duplicates}

"""Scrapy settings for listener's spiders: polite by default, and every value says why it is what it is.

`build_settings()` starts from this module, adds what depends on the process (the User-Agent with the
project's contact URL, the data folder, the development HTTP cache switch, the site base URLs), then
LISTENER_SCRAPY_SETTINGS (a JSON object, for operators), then the caller's overrides. `LOCAL_OVERRIDES` is for crawling servers we run ourselves on 127.0.0.1 (tests, the
demo, benchmarks): no delays there, since there is nobody to be polite to.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from scrapy.settings import Settings as ScrapySettings

BOT_NAME = "listener"
# Spiders are found through the source registry (spiders/registry.py), not by scanning modules.
SPIDER_MODULES: list[str] = []

# ---------------------------------------------------------------- politeness
# Sites' robots.txt rules are obeyed; a disallowed URL is logged and skipped, never fetched.
ROBOTSTXT_OBEY = True
# Two requests at a time per site at most: review sites are someone else's servers.
CONCURRENT_REQUESTS_PER_DOMAIN = 2
CONCURRENT_REQUESTS = 16  # across sites: a crawl of several sources still runs in parallel
# At least a second between requests to one site; AutoThrottle raises it when the site slows down.
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50 %, so requests do not arrive on a metronome
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # aim for one request in flight per site on average
# No cookies: we read public pages and want no session state or consent walls following us around.
COOKIES_ENABLED = False
# The telnet console and the remote-control HTTP server each open a local port that controls the
# crawler; we never need them, and an open port is one more thing to secure.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# ---------------------------------------------------------------- robustness
# 429 and 5xx are retried with exponential backoff (Retry-After honoured) by our middleware, which
# replaces Scrapy's immediate-retry one.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"  # a site that stays down is expected, not an error of ours
LISTENER_RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry; doubles each time
LISTENER_RETRY_BACKOFF_MAX = 120.0  # never wait longer than this, whatever Retry-After says
LISTENER_RETRY_SLOW_SITE = True  # a 429/5xx also raises the site's delay, so its other requests wait too
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    # Scrapy 2.19's robots.txt middleware lets through the third and later requests to a site that
    # arrive while robots.txt is still downloading (see spiders/middlewares.py); ours waits properly.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.middlewares.RobotsTxtWaitMiddleware": 100,
}
# Review pages are under 2 MB (a big marketplace product page with reviews is ~1.5 MB); a page over
# 8 MB is not a review page and is skipped with a warning instead of eating memory.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 3 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30  # seconds; Scrapy's 180 s default holds a slot far too long on a hung server
REDIRECT_MAX_TIMES = 5  # real redirects chain two or three hops; more is a loop
# Keep the crawl going whatever a page does; pages with 4xx/5xx reach our errbacks and are logged.
HTTPERROR_ALLOWED_CODES: list[int] = []
LOG_LEVEL = "INFO"

# ---------------------------------------------------------------- development HTTP cache
# Off by default. LISTENER_HTTPCACHE=1 turns it on (responses kept a day in <data>/httpcache) so that
# working on a parser does not hit the site again on every run. Never on in production: it would hide
# new reviews.
HTTPCACHE_ENABLED = False
HTTPCACHE_EXPIRATION_SECS = 24 * 3600
HTTPCACHE_IGNORE_HTTP_CODES = [301, 302, 303, 307, 308, 403, 404, 408, 429, 500, 502, 503, 504]

# ---------------------------------------------------------------- listener
ITEM_PIPELINES = {
    "spiders.pipelines.ValidatePipeline": 100,  # dicts -> Mention, reject impossible values
    "spiders.pipelines.DedupePipeline": 200,  # drop repeats within this crawl
    "spiders.pipelines.ListenerPipeline": 300,  # batches into listener.pipeline, then checkpoints
}
LISTENER_BATCH_SIZE = 200  # mentions per listener.pipeline batch (one store transaction each)
LISTENER_MAX_PAGES = 20  # pages followed per start URL (pagination), whatever a site links to next
LISTENER_SCORE = False  # score sentiment/topics while crawling (loads the transformer once per crawl)

# Where the site spiders go. Overridable (Scrapy setting or environment) so tests and the demo can
# point them at a local server serving pages of the same shape.
SITE_BASES = {
    "LISTENER_TRUSTPILOT_URL": "https://www.trustpilot.com",
    "LISTENER_APPSTORE_URL": "https://itunes.apple.com",
    "LISTENER_PLAY_URL": "https://play.google.com",
}

# For servers we run ourselves (127.0.0.1): no delays or throttling, more parallelism, short backoff.
# Never for a real site.
LOCAL_OVERRIDES: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "LISTENER_RETRY_BACKOFF_BASE": 0.1,
    "LISTENER_RETRY_BACKOFF_MAX": 2.0,
    "LISTENER_RETRY_SLOW_SITE": False,
}


def user_agent(contact: str) -> str:
    """Names the project and how to reach whoever runs it, as robots.txt etiquette asks."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("listener")
    except PackageNotFoundError:
        release = "dev"
    return f"listener/{release} (+{contact}; social listening; obeys robots.txt)"


def build_settings(listener_settings, project=None, overrides: Mapping[str, Any] | None = None,
                   environ: Mapping[str, str] | None = None) -> ScrapySettings:
    """Scrapy settings for one crawl process: this module, then the process's facts, then overrides."""
    env = os.environ if environ is None else environ
    settings = ScrapySettings()
    settings.setmodule(__name__, priority="project")
    settings.set("USER_AGENT", user_agent(listener_settings.user_agent_contact), priority="project")
    settings.set("LISTENER_ENV", json.loads(listener_settings.model_dump_json()), priority="project")
    if project is not None:
        settings.set("LISTENER_PROJECT", json.loads(project.model_dump_json()), priority="project")
    for name, default in SITE_BASES.items():
        settings.set(name, env.get(name) or default, priority="project")
    if env.get("LISTENER_HTTPCACHE", "").lower() in ("1", "true", "yes", "on"):
        settings.set("HTTPCACHE_ENABLED", True, priority="project")
        settings.set("HTTPCACHE_DIR", str(listener_settings.data_dir / "httpcache"), priority="project")
    extra = env.get("LISTENER_SCRAPY_SETTINGS")
    if extra:  # operators' escape hatch: a JSON object of Scrapy settings, e.g. {"CONCURRENT_REQUESTS": 4}
        try:
            loaded = json.loads(extra)
        except ValueError as err:
            raise ValueError(f"LISTENER_SCRAPY_SETTINGS is not a JSON object: {err}") from None
        if not isinstance(loaded, dict):
            raise ValueError("LISTENER_SCRAPY_SETTINGS must be a JSON object of Scrapy settings")
        for name, value in loaded.items():
            settings.set(name, value, priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings

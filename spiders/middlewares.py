"""Downloader middlewares: retries with exponential backoff that honour Retry-After, and a robots.txt
middleware that waits for robots.txt properly.

Scrapy's own RetryMiddleware re-queues a failed request at once; against a site that answers 429 or
503 because it is overloaded, that is the wrong thing to do. This subclass waits before handing the
retry back (Retry-After when the server sends one, else base * 2^(n-1) with jitter, capped), and slows
the whole site down by raising its download slot's delay, so the other queued requests to that host
wait too. Everything else (which codes and exceptions, how many times, stats, give-up logging) is
Scrapy's.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

log = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: "120" or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None,
                  jitter: float = 0.25) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): the server's Retry-After when given,
    else base * 2^(attempt-1) plus up to `jitter` of it at random; never more than `cap`."""
    if retry_after is not None:
        return min(cap, retry_after)
    delay = base * 2 ** max(0, attempt - 1)
    return min(cap, delay * (1 + random.uniform(0, jitter)))


class BackoffRetryMiddleware(RetryMiddleware):
    """RetryMiddleware that sleeps before each retry. Settings: LISTENER_RETRY_BACKOFF_BASE (seconds,
    default 1), LISTENER_RETRY_BACKOFF_MAX (cap, default 120), LISTENER_RETRY_SLOW_SITE (also raise the
    site's download delay, default on)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("LISTENER_RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("LISTENER_RETRY_BACKOFF_MAX", 120.0)
        self.slow_site = settings.getbool("LISTENER_RETRY_SLOW_SITE", True)

    async def process_response(self, request: Request, response, spider=None):
        result = super().process_response(request, response)
        if isinstance(result, Request):
            server_says = retry_after_seconds(response.headers.get(b"Retry-After"))
            delay = backoff_delay(result.meta.get("retry_times", 1), self.base, self.cap, server_says)
            if self.slow_site:
                self._slow_down_site(request, delay)
            log.info("HTTP %s from %s: retry %s in %.1f s%s", response.status, request.url,
                     result.meta.get("retry_times"), delay, " (Retry-After)" if server_says is not None else "")
            self.crawler.stats.inc_value("listener/backoff_seconds", delay)
            await sleep(delay)
        return result

    async def process_exception(self, request: Request, exception: Exception, spider=None):
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await sleep(backoff_delay(result.meta.get("retry_times", 1), self.base, self.cap))
        return result

    def _slow_down_site(self, request: Request, delay: float) -> None:
        """Raise the delay of the request's download slot (its host), so the site gets a break."""
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        key = request.meta.get("download_slot")
        slot = downloader.slots.get(key) if downloader is not None and key else None
        if slot is not None and slot.delay < delay:
            slot.delay = delay


class RobotsTxtWaitMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, fixed for requests that arrive while robots.txt is downloading.

    In Scrapy 2.19 every such request awaits the same Deferred; the first waiter's callback returns None,
    so the second and later waiters receive None, which means "no robots.txt, allow everything": with
    three or more start URLs on one site, disallowed pages were fetched. After the wait, this reads the
    parser the stock middleware has stored by then (the parsed rules, or None when robots.txt failed).
    """

    async def robot_parser(self, request: Request):
        parser = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc, parser)
        return parser if isinstance(stored, Deferred) else stored

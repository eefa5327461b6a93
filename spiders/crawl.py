"""Run spiders: `crawl(names, project, settings, brand)` starts `python -m spiders.crawl` in a subprocess,
which runs them together in one Scrapy CrawlerProcess and prints a JSON report that this side reads.

Why a subprocess: Twisted's reactor cannot be restarted in a process, so a long-lived caller (the CLI's
`run --every`, the demo, a Celery task, the tests) could crawl only once; Scrapy's docs advise a process
per crawl. The child gets its instructions as JSON on stdin (settings, project, spider names, brand,
Scrapy overrides) and writes one JSON line on stdout; its log goes to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from listener.config import Project, Settings
from spiders import registry

log = logging.getLogger(__name__)

#: name -> (spider class, the BrandSources field it reads): the spiders of the one source registry.
SPIDERS: dict[str, tuple[str, str]] = {name: (source.target, source.fields[0])
                                       for name, source in registry.spiders().items()}
MAX_LOG_LINES = 300  # warnings kept in the report
_REPORT_KEYS = ("received", "inserted", "updated", "unmatched", "near_duplicates", "repeated_in_batch", "scored")


class CrawlError(RuntimeError):
    """The crawl process failed as a whole (it crashed, timed out, or printed no report)."""


def spider_class(name: str):
    import importlib

    try:
        target, _ = SPIDERS[name]
    except KeyError:
        raise ValueError(f"unknown spider {name!r}; known: {', '.join(SPIDERS)}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def configured_spiders(project: Project, brand: str | None = None) -> list[str]:
    """The spiders that have something to do for these brands (a source of theirs is configured)."""
    brands = [b for b in project.brands if brand is None or b.name == brand]
    return [name for name, source in registry.spiders().items() if source.wanted(brands)]


def _names(spider_names: str | Iterable[str] | None, project: Project, brand: str | None) -> list[str]:
    if brand is not None and brand not in {b.name for b in project.brands}:
        known = ", ".join(b.name for b in project.brands)
        raise ValueError(f"unknown brand {brand!r}; the project defines: {known}")
    if spider_names is None or spider_names == "" or spider_names == []:
        return configured_spiders(project, brand)
    names = [spider_names] if isinstance(spider_names, str) else list(spider_names)
    for name in names:
        if name not in SPIDERS:
            raise ValueError(f"unknown spider {name!r}; known: {', '.join(SPIDERS)}")
    return names


def crawl(spider_names: str | Iterable[str] | None, project: Project, settings: Settings, brand: str | None = None,
          *, score: bool = False, overrides: Mapping[str, Any] | None = None, timeout: float = 3600,
          env: Mapping[str, str] | None = None, stream_logs: bool = False) -> dict[str, Any]:
    """Crawl with these spiders (None: every spider with a configured source) in a fresh process and
    return its report: per spider the pages, items, what the pipeline stored, and what was skipped or
    failed and why; totals; the warnings logged. Raises ValueError for an unknown spider or brand and
    CrawlError when the process fails as a whole."""
    names = _names(spider_names, project, brand)
    if not names:
        return {"ok": True, "spiders": {}, "totals": {}, "log": [], "elapsed_s": 0.0,
                "note": "no source configured for these spiders/brands"}
    request = {"spiders": names, "brand": brand, "score": score, "overrides": dict(overrides or {}),
               "settings": json.loads(settings.model_dump_json()), "project": json.loads(project.model_dump_json())}
    child_env = dict(os.environ if env is None else env)
    root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (root, child_env.get("PYTHONPATH")) if p)
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "spiders.crawl"], input=json.dumps(request), text=True,
                              stdout=subprocess.PIPE, stderr=None if stream_logs else subprocess.PIPE,
                              env=child_env, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise CrawlError(f"crawl did not finish within {timeout:.0f} s") from err
    lines = [line for line in (proc.stdout or "").splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = "\n".join((proc.stderr or "").splitlines()[-30:])
        raise CrawlError(f"crawl process exited with code {proc.returncode} and no report:\n{tail}") from None
    report["process_s"] = round(time.monotonic() - started, 3)
    report["exit_code"] = proc.returncode
    if not stream_logs:
        report["stderr"] = proc.stderr or ""
    return report


# ---------------------------------------------------------------- the child process


class _Capture(logging.Handler):
    """Keeps WARNING and above for the report."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.lines: list[str] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.lines) < MAX_LOG_LINES:
            try:
                self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")
            except Exception:  # a record whose arguments do not format
                self.lines.append(f"{record.levelname} {record.name}: {record.msg}")


def _spider_report(stats: dict[str, Any]) -> dict[str, Any]:
    statuses = {key.rsplit("/", 1)[1]: value for key, value in stats.items()
                if key.startswith("downloader/response_status_count/")}
    return {
        "finish_reason": stats.get("finish_reason"),
        "requests": stats.get("downloader/request_count", 0),
        "responses": stats.get("downloader/response_count", 0),
        "statuses": statuses,
        "items": stats.get("item_scraped_count", 0),
        "dropped": stats.get("item_dropped_count", 0),
        **{key: stats.get(f"listener/{key}", 0) for key in _REPORT_KEYS},
        "skipped_items": stats.get("listener/skipped_items", 0),
        "skipped_pages": stats.get("listener/skipped_pages", []),
        "failed_requests": stats.get("listener/failed_requests", []),
        "skipped_page_count": stats.get("listener/skipped_pages_count", 0),
        "failed_request_count": stats.get("listener/failed_requests_count", 0),
        "retries": stats.get("retry/count", 0),
        "backoff_s": round(stats.get("listener/backoff_seconds", 0.0), 3),
        "robots_forbidden": stats.get("robotstxt/forbidden", 0),
        "errors": stats.get("log_count/ERROR", 0),
        "elapsed_s": stats.get("elapsed_time_seconds"),
    }


def run_crawl(request: Mapping[str, Any]) -> dict[str, Any]:
    """Run the crawl described by `request` in this process (once: the reactor does not restart)."""
    from scrapy.crawler import CrawlerProcess

    from spiders.settings import build_settings

    settings = Settings.model_validate(request["settings"])
    project = Project.model_validate(request["project"]) if request.get("project") else None
    overrides = dict(request.get("overrides") or {})
    overrides.setdefault("LISTENER_SCORE", bool(request.get("score")))
    scrapy_settings = build_settings(settings, project, overrides)
    capture = _Capture()
    process = CrawlerProcess(scrapy_settings)
    logging.getLogger().addHandler(capture)
    crawlers = {}
    for name in request["spiders"]:
        crawler = process.create_crawler(spider_class(name))
        crawlers[name] = crawler
        process.crawl(crawler, brand=request.get("brand"))
    started = time.monotonic()
    process.start()
    spiders = {name: _spider_report(crawler.stats.get_stats()) for name, crawler in crawlers.items()}
    totals = {key: sum(s[key] for s in spiders.values())
              for key in ("requests", "responses", "items", "dropped", *_REPORT_KEYS, "skipped_items",
                          "skipped_page_count", "failed_request_count", "retries", "errors")}
    return {"ok": totals["errors"] == 0, "elapsed_s": round(time.monotonic() - started, 3), "spiders": spiders,
            "totals": totals, "warning_count": capture.count, "log": capture.lines}


def main() -> int:
    request = json.loads(sys.stdin.read())
    report = run_crawl(request)
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

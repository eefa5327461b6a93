"""`listener run`: one incremental pass over every configured source, or one every N minutes.

The Scrapy spiders run in a subprocess (spiders.crawl); the API sources (Reddit, YouTube) run here and
share one pipeline context, so the model is loaded once per pass. A source that is not configured is
not run; one that is configured but lacks credentials is skipped with a note saying which variable to
set; one that fails is reported and the others go on. Checkpoints are written only after the pipeline
has stored a batch, so stopping (Ctrl-C) between or inside passes loses nothing: the next pass resumes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Callable, Iterator, Mapping

from listener.config import Project, Settings
from listener.pipeline import BatchReport, PipelineContext
from spiders import registry
from spiders.crawl import configured_spiders, crawl
from spiders.sources import (
    SourceError, checkpoint_store, open_pipeline, pipeline_sink, select_brands, source_factory,
)

log = logging.getLogger(__name__)


def _api_sources(settings: Settings, environ: Mapping[str, str]):
    """(name, wanted(brands), missing-credentials note or None, factory(checkpoints, ctx)) per poller."""
    return [(name, source.wanted, source.missing_credentials(environ),
             source_factory(source.load(), settings, environ)) for name, source in registry.pollers().items()]


@contextlib.contextmanager
def _context(settings: Settings, project: Project, score: bool,
             ctx: PipelineContext | None) -> Iterator[PipelineContext]:
    if ctx is not None:
        yield ctx
    else:
        with open_pipeline(settings, project, score=score) as opened:
            yield opened


def run_sources(settings: Settings, project: Project, *, brand: str | None = None, score: bool = True,
                environ: Mapping[str, str] | None = None, ctx: PipelineContext | None = None,
                say: Callable[[str], None] = lambda text: None) -> dict[str, dict]:
    """One pass over every configured source; returns a summary per source. `environ` (default: this
    process's) holds the credentials and is the crawl process's whole environment (site bases, proxies,
    LISTENER_SCRAPY_SETTINGS); `ctx` is an open pipeline to reuse (a worker keeps one, model loaded)."""
    environ = os.environ if environ is None else environ
    brands = select_brands(project, brand)
    reports: dict[str, dict] = {}
    spiders = configured_spiders(project, brand)
    if spiders:
        say(f"crawling with {', '.join(spiders)}…")
        try:
            result = crawl(spiders, project, settings, brand, score=score, env=environ)
            reports["crawl"] = {"spiders": result.get("spiders", {}), "totals": result.get("totals", {}),
                                "ok": result.get("ok", False), "seconds": result.get("process_s")}
        except Exception as err:  # one source failing must not stop the others
            log.exception("crawl failed")
            reports["crawl"] = {"error": str(err)}
    checkpoints = checkpoint_store(settings)
    try:
        with _context(settings, project, score, ctx) as pipeline:
            for name, wanted, missing, factory in _api_sources(settings, environ):
                if not wanted(brands):
                    continue
                if missing:
                    reports[name] = {"skipped": f"not configured: {missing}"}
                    continue
                say(f"polling {name}…")
                total = BatchReport()
                try:
                    report = factory(checkpoints, pipeline).poll(brands, pipeline_sink(pipeline, total))
                except SourceError as err:
                    reports[name] = {"error": str(err)}
                    continue
                report.pipeline = total
                reports[name] = report.summary()
    finally:
        checkpoints.close()
    return reports


def run_forever(settings: Settings, project: Project, every_seconds: float, *,
                on_pass: Callable[[dict[str, dict]], None], stop_after: int | None = None, **options) -> int:
    """Run passes every `every_seconds` (measured start to start) until interrupted; returns passes run."""
    passes = 0
    while stop_after is None or passes < stop_after:
        started = time.monotonic()
        on_pass(run_sources(settings, project, **options))
        passes += 1
        if stop_after is not None and passes >= stop_after:
            break
        time.sleep(max(0.0, every_seconds - (time.monotonic() - started)))
    return passes

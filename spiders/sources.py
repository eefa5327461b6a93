"""Polling an API source with a checkpoint: the one helper the Reddit and YouTube clients share.

A pass over a source reads each of its streams (a listing, a search, a video's comments) newest first and
stops where the previous pass stopped; it hands every new mention to a sink (the pipeline) and only then
writes the new checkpoints and seen marks, so a pass that fails half-way is simply run again: nothing
is lost, and the idempotent store absorbs the repeat. Pieces:

- `Checkpoints`: the durable `spiders.checkpoint.CheckpointStore` seen through a pending layer that is
  written by `commit()` after the sink accepted the batch;
- `take_new`: walk a newest-first stream until the checkpoint (minus an overlap for late arrivals);
- `Retry`: capped exponential backoff (`spiders.checkpoint.backoff_delays`) honouring Retry-After;
- `PassReport`: what a pass did, for logs, the CLI and the tests;
- `open_pipeline` / `checkpoint_store` / `select_brands`: the wiring the CLI commands use.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from listener.config import Brand, ConfigError, Project, Settings
from listener.model import Mention
from listener.pipeline import BatchReport, PipelineContext, process_stream
from spiders.about import About
from spiders.checkpoint import CheckpointStore, backoff_delays

log = logging.getLogger(__name__)

T = TypeVar("T")
Sink = Callable[[list[Mention]], Any]
#: brand matcher: the names of the brands a mention matches (listener.pipeline.BrandMatcher.match)
Matcher = Callable[[Mention], list[str]]


class SourceError(Exception):
    """A source cannot go on (bad credentials, quota used up); the message says what to do."""


class PollingSource:
    """Base of the API sources: a unique lowercase `name`, an `about` record, and `poll(brands, sink)`, which
    ends with `finish_pass`, the same for every poller."""

    name: str = ""
    about: About
    seen_scope: str = ""  # where the native ids of handed-over mentions are marked seen
    followed_key: str = ""  # the checkpoint of the items (threads, videos) followed for new comments

    def poll(self, brands: Sequence[Brand], sink: Sink) -> "PassReport":
        raise NotImplementedError

    def finish_pass(self, sink: Sink, cp: "Checkpoints", report: "PassReport", found: Iterable[Mention],
                    followed: dict[str, Any], *, started: float, requests: int,
                    rate_limit: dict[str, Any]) -> "PassReport":
        """Hand the pass's mentions to the sink and only then remember them and the followed items (so a
        sink that fails, or a process that dies, leaves the checkpoints where they were), and fill in the
        report."""
        mentions = merge_by_id(found)
        if mentions:
            sink(mentions)
        cp.mark_seen(self.seen_scope, (m.native_id for m in mentions))
        cp.set(self.followed_key, followed)
        cp.commit()
        report.new = len(mentions)
        report.requests = requests
        report.rate_limit = rate_limit
        report.seconds = time.monotonic() - started
        log.info("%s: pass done: %d new mentions, %d requests, %.1fs; %s", self.name, report.new, report.requests,
                 report.seconds, report.rate_limit)
        return report


# ---------------------------------------------------------------- checkpoints with a commit step


class Checkpoints:
    """Checkpoint values and seen marks for one pass; reads see this pass's pending writes, and nothing
    reaches the durable store before `commit()` (call it after the sink accepted the mentions)."""

    def __init__(self, store: CheckpointStore):
        self.store = store
        self._values: dict[str, Any] = {}
        self._seen: dict[str, dict[str, None]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._values:
            return self._values[key]
        return self.store.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def unseen(self, scope: str, items: Iterable[str]) -> list[str]:
        pending = self._seen.get(scope, {})
        return [item for item in self.store.unseen(scope, items) if item not in pending]

    def mark_seen(self, scope: str, items: Iterable[str]) -> None:
        self._seen.setdefault(scope, {}).update(dict.fromkeys(items))

    def discard(self, keys: Iterable[str]) -> None:
        """Forget pending writes of these keys (a stream that failed keeps its old checkpoint)."""
        for key in keys:
            self._values.pop(key, None)

    def commit(self) -> None:
        for scope, items in self._seen.items():
            self.store.mark_seen(scope, items)
        for key, value in self._values.items():
            self.store.set(key, value)
        self._values.clear()
        self._seen.clear()


# ---------------------------------------------------------------- newest-first streams


@dataclass
class Walk:
    """How a walk down a newest-first stream ended."""

    read: int = 0  # items read from the stream (including old ones in the overlap)
    newest: float | None = None  # newest timestamp read (the next checkpoint)
    reached_checkpoint: bool = False  # read down to an item older than the checkpoint
    exhausted: bool = False  # the stream ended (no more pages)


def take_new(items: Iterable[T], *, since: float | None, when: Callable[[T], float], overlap: float = 0.0,
             limit: int | None = None, walk: Walk | None = None) -> Iterator[T]:
    """Yield items of a newest-first stream down to the checkpoint `since` (a timestamp).

    Items up to `overlap` seconds older than the checkpoint are still yielded, for things that show up late
    (a search index lags; two posts share a second): filter them through a seen-set. `walk` records how the
    walk ended, so a caller can warn when a listing ran out before reaching the checkpoint (a gap).
    """
    walk = walk if walk is not None else Walk()
    floor = None if since is None else since - overlap
    for item in items:
        stamp = when(item)
        walk.read += 1
        if floor is not None and stamp < floor:
            walk.reached_checkpoint = True
            return
        if walk.newest is None or stamp > walk.newest:
            walk.newest = stamp
        yield item
        if limit is not None and walk.read >= limit:
            return
    walk.exhausted = True


# ---------------------------------------------------------------- retries


@dataclass
class Retry:
    """Retry a call on transient failures with capped exponential backoff (1, 2, 4 … `cap` seconds).

    `classify(error)` says whether an error is transient: None = no (raise it now), else the seconds the
    server asked to wait (Retry-After), or 0 for "use the backoff". The wait is the larger of the two,
    never more than `max_wait`; after `attempts` tries the last error is raised.
    """

    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    max_wait: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    waited: float = 0.0  # total seconds slept, for reports
    retries: int = 0

    def call(self, fn: Callable[[], T], classify: Callable[[Exception], float | None], what: str) -> T:
        delays = backoff_delays(self.base, self.cap)
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as err:
                hint = classify(err)
                if hint is None or attempt == self.attempts:
                    raise
                wait = min(max(hint, next(delays)), self.max_wait)
                log.warning("%s failed (%s); retry %d/%d in %.1fs", what, _describe(err), attempt,
                            self.attempts - 1, wait)
                self.retries += 1
                self.waited += wait
                self.sleep(wait)
        raise AssertionError("unreachable")


def _describe(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) < 200 else text[:200] + "…"


def retry_after_seconds(value: str | None) -> float:
    """A Retry-After header as seconds (a number of seconds; HTTP dates are rare in APIs and read as 0)."""
    try:
        return max(float(value), 0.0) if value else 0.0
    except ValueError:
        return 0.0


# ---------------------------------------------------------------- reports


@dataclass
class StreamReport:
    key: str
    new: int = 0
    read: int = 0
    error: str | None = None


@dataclass
class PassReport:
    """What one pass over a source did."""

    source: str
    new: int = 0  # mentions handed to the sink
    skipped: int = 0  # items that could not become mentions (deleted, empty)
    requests: int = 0
    streams: list[StreamReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the pass ended early (quota used up, ...)
    rate_limit: dict[str, Any] = field(default_factory=dict)
    pipeline: BatchReport | None = None
    seconds: float = 0.0

    def stream(self, key: str) -> StreamReport:
        report = StreamReport(key)
        self.streams.append(report)
        return report

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "new": self.new, "skipped": self.skipped,
                               "requests": self.requests, "seconds": round(self.seconds, 3),
                               "streams": {s.key: s.new for s in self.streams}}
        if self.errors:
            out["errors"] = self.errors
        if self.stopped:
            out["stopped"] = self.stopped
        if self.rate_limit:
            out["rate_limit"] = self.rate_limit
        if self.pipeline is not None:
            out["pipeline"] = {"inserted": self.pipeline.inserted, "updated": self.pipeline.updated,
                               "unmatched": self.pipeline.unmatched, "near_duplicates": self.pipeline.near_duplicates,
                               "scored": self.pipeline.scored}
        return out


def merge_by_id(mentions: Iterable[Mention]) -> list[Mention]:
    """One mention per id, brands united (a comment can reach a pass by two streams, tagged differently)."""
    merged: dict[str, Mention] = {}
    for mention in mentions:
        kept = merged.get(mention.id)
        if kept is None:
            merged[mention.id] = mention
        else:
            kept.brands.extend(b for b in mention.brands if b not in kept.brands)
    return list(merged.values())


# ---------------------------------------------------------------- wiring for the CLI (and later the workers)


def checkpoint_store(settings: Settings) -> CheckpointStore:
    """The checkpoints of this deployment (spiders.checkpoint.open_checkpoints: Redis or state.db)."""
    from spiders.checkpoint import open_checkpoints

    return open_checkpoints(settings)


def select_brands(project: Project, brand: str | None) -> list[Brand]:
    if brand is None:
        return list(project.brands)
    chosen = [b for b in project.brands if b.name.lower() == brand.lower()]
    if not chosen:
        raise ConfigError(f"--brand: no brand named {brand!r}; the project defines: "
                          f"{', '.join(b.name for b in project.brands)}")
    return chosen


@contextlib.contextmanager
def open_pipeline(settings: Settings, project: Project, score: bool = True) -> Iterator[PipelineContext]:
    """The store and pipeline context a gathering pass writes into (listener.runtime builds both)."""
    from listener.runtime import open_settings_store, pipeline_context

    with open_settings_store(settings) as store:
        yield pipeline_context(settings, project, store, score=score)


def pipeline_sink(ctx: PipelineContext, total: BatchReport, batch_size: int = 500) -> Sink:
    """A sink that runs mentions through the pipeline and adds the batch reports to `total`."""

    def sink(mentions: list[Mention]) -> None:
        total.add(process_stream(mentions, ctx, batch_size=batch_size))

    return sink


def source_factory(source_cls: type[PollingSource], settings: Settings, environ: Mapping[str, str] | None = None,
                   **options: Any) -> Callable[[CheckpointStore, PipelineContext], PollingSource]:
    """Builds a source for a pass from its checkpoints and the pipeline's brand matcher."""

    def factory(checkpoints: CheckpointStore, ctx: PipelineContext) -> PollingSource:
        matcher = ctx.matcher.match if ctx.matcher else None
        return source_cls.from_settings(settings, checkpoints, matcher,
                                        environ=None if environ is None else dict(environ), **options)

    return factory


def run_source(source_cls: type[PollingSource], settings: Settings, project_path: str | None = None,
               brand: str | None = None, score: bool = True, environ: Mapping[str, str] | None = None,
               **options: Any) -> PassReport:
    """`listener reddit` / `listener youtube`: one incremental pass of one API source over the project's
    brands, into the store."""
    from listener.runtime import resolve_project

    project = resolve_project(settings, project_path)
    if project is None:
        raise ConfigError("no project file given (pass --project FILE or set LISTENER_PROJECT)")
    return run_pass(settings, project, source_factory(source_cls, settings, environ, **options), brand=brand,
                    score=score)


def run_pass(settings: Settings, project: Project, source_factory: Callable[[CheckpointStore, PipelineContext],
             PollingSource], brand: str | None = None, score: bool = True) -> PassReport:
    """One incremental pass of a source over the project's brands, into the pipeline; returns its report."""
    brands = select_brands(project, brand)
    checkpoints = checkpoint_store(settings)
    try:
        with open_pipeline(settings, project, score=score) as ctx:
            total = BatchReport()
            source = source_factory(checkpoints, ctx)
            report = source.poll(brands, pipeline_sink(ctx, total))
            report.pipeline = total
            return report
    finally:
        checkpoints.close()

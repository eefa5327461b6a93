"""The tasks: thin wrappers that unpack JSON arguments and call one library function each.

Every task is idempotent (mention ids are deterministic and the store upserts), which is what makes late
acknowledgement safe. Store and model errors are retried with exponential backoff; what still fails, or can
never succeed (a mention that does not validate), goes to the dead-letter list (workers.deadletters).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from typing import Any

from celery import Task
from celery.signals import worker_process_shutdown

from listener.config import ConfigError
from workers import ledger, runtime
from workers.app import app
from workers.config import ROUTES, broker_url
from workers.deadletters import DeadLetter, DeadLetters

log = logging.getLogger(__name__)
SCORE_BATCH = 200  # mentions per score task: one model batch, small enough to redo cheaply


def _retryable() -> tuple[type[BaseException], ...]:
    """Errors of the store or the model that may pass: a locked or unreachable store, a lost connection,
    a model that ran out of memory. Bad input (ValueError, ValidationError) never passes: no retry."""
    kinds: list[type[BaseException]] = [OSError, sqlite3.OperationalError, RuntimeError, MemoryError]
    try:
        from elastic_transport import TransportError

        kinds.append(TransportError)
    except ImportError:
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeout

        kinds += [RedisConnectionError, RedisTimeout]
    except ImportError:
        pass
    return tuple(kinds)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}")
    return int(raw)


class ListenerTask(Task):
    """Retries with exponential backoff (LISTENER_TASK_RETRIES times, first after LISTENER_RETRY_BACKOFF s,
    doubling up to 10 min or what the visibility timeout leaves, with jitter so retries of many tasks do not
    arrive together); a task that fails for good is written to the dead-letter list with its arguments, error
    and traceback. Every task is crossed out of the ledger (workers.ledger) once it finished or failed for good."""

    autoretry_for = _retryable()
    max_retries = _int_env("LISTENER_TASK_RETRIES", 5)
    retry_backoff = _int_env("LISTENER_RETRY_BACKOFF", 2)
    # a retry waiting for its countdown sits taken-but-unacknowledged in Redis like a running task: the wait
    # plus the run must stay within the visibility timeout (workers.config), or a second worker takes it
    retry_backoff_max = max(1, min(600, app.conf.broker_transport_options["visibility_timeout"]
                                   - app.conf.task_time_limit - 1))
    retry_jitter = True

    def on_success(self, retval, task_id, args, kwargs):
        self._cross_out(task_id)

    def _cross_out(self, task_id: str) -> None:
        """Finished (or a dead letter now): out of the ledger, before the late acknowledgement. If Redis is
        down right now the entry stays and reconcile finds the task done-but-listed: it sends it again, which
        an idempotent task survives."""
        try:
            ledger.done(runtime.redis_client(), task_id)
        except Exception as err:  # never let bookkeeping turn a finished task into a failed one
            log.warning("could not cross %s out of the ledger: %s", task_id, err)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        delivery = self.request.delivery_info or {}
        queue = delivery.get("routing_key") or ROUTES.get(self.name, {}).get("queue", "score")
        letter = DeadLetter(task=self.name, args=list(args or []), kwargs=dict(kwargs or {}), queue=queue,
                            error=f"{type(exc).__name__}: {exc}", traceback=str(einfo),
                            retries=self.request.retries, task_id=task_id)
        DeadLetters(runtime.redis_client()).add(letter)
        self._cross_out(task_id)  # the dead-letter list owns it now
        log.error("%s %s failed for good, kept as dead letter %s: %s", self.name, task_id, letter.id, letter.error)


@app.task(name="listener.score_batch", base=ListenerTask)
def score_batch(mentions: list[dict[str, Any]], score: bool = True) -> dict[str, int]:
    """Normalise, dedupe, match, score and store one batch of mentions (JSON objects)."""
    from listener.model import Mention
    from listener.pipeline import process_batch

    batch = [Mention.model_validate(item) for item in mentions]
    report = process_batch(batch, runtime.pipeline(score))
    return {"received": report.received, "inserted": report.inserted, "updated": report.updated,
            "unmatched": report.unmatched, "scored": report.scored}


@app.task(name="listener.score_pending", base=ListenerTask)
def score_pending(batch_size: int = 256) -> dict[str, int]:
    """Score the stored mentions that have no sentiment yet (what the crawls stored unscored)."""
    from listener.nlp.rescore import rescore
    from listener.store.base import Filters

    ctx = runtime.pipeline(score=True)
    report = rescore(ctx.store, ctx.scorer, Filters(sentiments=("unscored",), include_duplicates=True),
                     batch_size=batch_size)
    return {"seen": report.seen, "scored": report.scored}


def publish(mentions: list, score: bool) -> int:
    """Send mentions to the score queue in batches; returns the number of messages. Once this returns, Redis
    holds them (append-only in deploy/), so the source may move its checkpoint on."""
    items = [m.model_dump(mode="json") for m in mentions]
    messages = 0
    for start in range(0, len(items), SCORE_BATCH):
        ledger.send(app, runtime.redis_client(), score_batch.name, args=[items[start:start + SCORE_BATCH]],
                    kwargs={"score": score}, queue="score")
        messages += 1
    return messages


@app.task(name="listener.gather", base=ListenerTask, max_retries=2)
def gather(source: str, brand: str | None = None, score: bool = True) -> dict[str, Any]:
    """One incremental pass of one source of the registry. A poller's mentions go to the score queue; a crawl
    stores them unscored from its own process, then one score_pending task scores them. The outcome is
    recorded for `listener status`; a source that fails is recorded as failed, never as done."""
    from spiders import registry

    started = time.time()
    entry = registry.get(source)
    project = runtime.require_project()
    client = runtime.redis_client()
    try:
        if entry.kind == "spider":
            summary = _crawl(entry.name, project, brand, score)
        else:
            summary = _poll(entry, project, brand, score)
    except Exception as err:
        runtime.record_run(client, source, "failed", started, {"error": f"{type(err).__name__}: {err}"})
        raise
    outcome = "skipped" if "not_run" in summary else "failed" if summary.get("errors") else "ok"
    runtime.record_run(client, source, outcome, started, summary)
    return {**summary, "source": source, "outcome": outcome}


def _crawl(name: str, project, brand: str | None, score: bool) -> dict[str, Any]:
    from spiders.crawl import crawl

    # the crawl process is stopped at the task's soft time limit at the latest (subprocess.run kills it when
    # SoftTimeLimitExceeded interrupts the wait); its own timeout, a little earlier, reports it more clearly
    report = crawl([name], project, runtime.settings(), brand, score=False,
                   timeout=max(1, app.conf.task_soft_time_limit - 5))
    totals = report.get("totals", {})
    if score and totals.get("inserted", 0) + totals.get("updated", 0):
        score_pending.apply_async(queue="score")
    summary: dict[str, Any] = {"new": totals.get("inserted", 0), "updated": totals.get("updated", 0)}
    if not report.get("ok", False):
        summary["errors"] = [line for line in report.get("log", []) if line.startswith("ERROR")][:5] or \
            ["the crawl logged errors"]
    return summary


def _poll(entry, project, brand: str | None, score: bool) -> dict[str, Any]:
    from listener.pipeline import PipelineContext
    from listener.runtime import brand_matcher
    from spiders.sources import SourceError, checkpoint_store, select_brands, source_factory

    missing = entry.missing_credentials(os.environ)
    if missing:
        return {"not_run": f"not configured: {missing}"}
    brands = select_brands(project, brand)
    checkpoints = checkpoint_store(runtime.settings())
    messages = [0]

    def sink(mentions: list) -> None:
        messages[0] += publish(mentions, score)

    try:
        matching = PipelineContext(store=None, matcher=brand_matcher(project))
        poller = source_factory(entry.load(), runtime.settings())(checkpoints, matching)
        report = poller.poll(brands, sink)
    except SourceError as err:  # bad credentials, quota used up: the source's state, not a task to retry
        return {"errors": [str(err)]}
    finally:
        checkpoints.close()
    summary = report.summary()
    summary["messages"] = messages[0]
    return summary


@app.task(name="listener.check_alerts", base=ListenerTask)
def check_alerts() -> dict[str, Any]:
    """The alert check on the alerts queue: the project's rules over the store, and delivery of what is due
    (listener.alerts.runner.check_now, the same call as `listener alerts check`)."""
    import json

    from listener.alerts.runner import check_now

    project = runtime.project()
    if project is None or not project.alert:
        return {"skipped": "the project file has no [[alert]] rules"}
    report = check_now(runtime.settings(), project)
    return json.loads(json.dumps(report.summary(), default=str))


@app.task(name="listener.check_serp", base=ListenerTask)
def check_serp() -> dict[str, Any]:
    """The SEO check: every [[serp]] question searched with the configured provider into the rank history
    (listener.seo.check). Provider failures are in the result, per question; they are not retried here,
    since the next scheduled check asks again and a blocked or exhausted provider needs time, not retries."""
    import dataclasses

    from listener.seo.check import check_questions
    from listener.seo.history import RankHistory
    from listener.seo.questions import questions_of
    from listener.seo.settings import SeoSettings

    settings = runtime.settings()
    with RankHistory.open(settings) as history:
        report = check_questions(questions_of(runtime.require_project()), history, SeoSettings.from_env())
    return dataclasses.asdict(report)


@app.task(name="listener.reconcile", base=ListenerTask)
def reconcile() -> dict[str, int]:
    """Send again what the ledger lists as sent, unfinished, overdue and in no queue (workers.ledger): the
    message a Redis crash took between a worker's BRPOP and its unacked record. Overdue means older than the
    visibility timeout, the time a dead worker's message takes to come back by itself."""
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    return ledger.reconcile(app, runtime.redis_client(), overdue_after=visibility)


@worker_process_shutdown.connect
def _close(**_):
    runtime.close()


def dead_letters() -> DeadLetters:
    return DeadLetters.from_url(broker_url())

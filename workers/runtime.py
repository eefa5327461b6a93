"""What a worker process keeps between tasks: its settings, project, store and pipeline (the model is loaded
once per process, on the first task that scores), and the record of each source's last run."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from listener.config import ConfigError, Project, Settings
from listener.pipeline import PipelineContext

_cache: dict[str, Any] = {}


def settings() -> Settings:
    if "settings" not in _cache:
        _cache["settings"] = Settings.from_env()
    return _cache["settings"]


def project() -> Project | None:
    """LISTENER_PROJECT's project file (brand queries, topics); None means every mention is kept."""
    from listener.runtime import resolve_project

    if "project" not in _cache:
        _cache["project"] = resolve_project(settings())
    return _cache["project"]


def require_project() -> Project:
    loaded = project()
    if loaded is None:
        raise ConfigError("LISTENER_PROJECT is not set: gather tasks need the project file's brands and sources")
    return loaded


def pipeline(score: bool) -> PipelineContext:
    """This process's pipeline context; opened on first use, after the worker forked its children (a SQLite
    connection or a model must not cross a fork)."""
    key = f"pipeline:{os.getpid()}:{score}"
    if key not in _cache:
        from listener.runtime import open_settings_store, pipeline_context

        store_key = f"store:{os.getpid()}"
        if store_key not in _cache:
            _cache[store_key] = open_settings_store(settings())
        _cache[key] = pipeline_context(settings(), project(), _cache[store_key], score=score)
    return _cache[key]


def close() -> None:
    """Close what this process opened (worker shutdown)."""
    for key, value in list(_cache.items()):
        if key.startswith(("store:", "redis:")):
            value.close()
    _cache.clear()


def redis_client():
    import redis

    from workers.config import broker_url

    url = broker_url()
    key = f"redis:{os.getpid()}:{url}"
    if key not in _cache:
        _cache[key] = redis.Redis.from_url(url)
    return _cache[key]


RUNS_KEY = "listener:source-runs"


def record_run(client, source: str, outcome: str, started: float, details: dict[str, Any]) -> None:
    """The last run of a source, for `listener status`: when, how it ended (ok, failed, skipped), and why."""
    record = {**details, "source": source, "outcome": outcome, "started": started, "finished": time.time()}
    client.hset(RUNS_KEY, source, json.dumps(record, default=str))


def last_runs(client) -> dict[str, dict[str, Any]]:
    return {key.decode(): json.loads(value) for key, value in client.hgetall(RUNS_KEY).items()}

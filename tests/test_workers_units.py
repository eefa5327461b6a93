"""The workers' parts that need no running worker: configuration, the beat schedule from the project file,
the one source registry, checkpoints shared through Redis, and the commands' argument errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from listener.config import BrandSources, ConfigError, Project


def test_celery_config_is_json_only_late_acks_and_three_queues():
    from workers.config import celery_config

    config = celery_config({"LISTENER_BROKER_URL": "redis://127.0.0.1:6379/3", "LISTENER_VISIBILITY_TIMEOUT": "600",
                            "LISTENER_TASK_TIME_LIMIT": "300"})
    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert [q.name for q in config["task_queues"]] == ["gather", "score", "alerts"]
    assert config["broker_transport_options"]["visibility_timeout"] == 600
    assert config["task_routes"]["listener.check_alerts"] == {"queue": "alerts"}


@pytest.mark.parametrize("env, message", [
    ({}, "LISTENER_BROKER_URL is not set"),
    ({"LISTENER_BROKER_URL": "amqp://guest@localhost//"}, "expected a redis:// URL"),
    ({"LISTENER_BROKER_URL": "redis://x", "LISTENER_VISIBILITY_TIMEOUT": "soon"}, "LISTENER_VISIBILITY_TIMEOUT"),
])
def test_celery_config_refuses_what_would_fail_later(env, message):
    from workers.config import celery_config

    with pytest.raises(ConfigError, match=message):
        celery_config(env)


def _project(schedule=None, **sources):
    data = {"brand": [{"name": "Acme", "query": "acme", "sources": {"reddit_search": False, **sources}}],
            "alert": [{"name": "acme volume", "brand": "Acme"}]}
    if schedule is not None:
        data["schedule"] = schedule
    return Project.model_validate(data)


def test_beat_gathers_each_configured_source_at_its_interval_and_checks_alerts():
    from workers.beat import beat_schedule

    schedule = beat_schedule(_project({"default": "2h", "sources": {"reddit": "10m"}, "alerts": "30s"},
                                      subreddits=["acme"], trustpilot=["https://www.trustpilot.com/review/acme.com"]))
    assert set(schedule) == {"gather reddit", "gather trustpilot", "check alerts"}
    assert schedule["gather reddit"]["schedule"].total_seconds() == 600
    assert schedule["gather trustpilot"]["schedule"].total_seconds() == 7200
    assert schedule["gather reddit"]["args"] == ["reddit"] and schedule["gather reddit"]["options"]["queue"] == "gather"
    assert schedule["check alerts"]["schedule"].total_seconds() == 30
    assert schedule["check alerts"]["options"]["queue"] == "alerts"


def test_schedule_names_and_durations_are_checked():
    from workers.beat import beat_schedule

    with pytest.raises(ConfigError, match="unknown source 'redit'.*known: review"):
        beat_schedule(_project({"sources": {"redit": "10m"}}))
    with pytest.raises(ValueError, match="reddit: expected a duration"):
        _project({"sources": {"reddit": "often"}})


def test_one_registry_for_spiders_pollers_and_the_sources_they_yield():
    from spiders import registry
    from spiders.crawl import SPIDERS
    from spiders.sources import PollingSource

    assert set(SPIDERS) == set(registry.spiders())
    assert set(registry.pollers()) == {"reddit", "youtube"}
    for name, source in registry.SOURCES.items():
        cls = source.load()
        assert cls.name == name
        assert cls.about.source == source.mention_source, name
        assert (source.kind == "poller") == issubclass(cls, PollingSource)
        assert all(field in BrandSources.model_fields for field in source.fields)
    assert registry.get("youtube").missing_credentials({}) == "set LISTENER_YOUTUBE_KEY"
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        registry.get("nope")


@pytest.fixture(params=["sqlite", "redis"])
def checkpoints(request, tmp_path):
    from listener.config import Settings
    from spiders.checkpoint import CheckpointStore, RedisCheckpointStore, open_checkpoints

    if request.param == "sqlite":
        store = open_checkpoints(Settings.from_env({"LISTENER_DATA": str(tmp_path)}))
        assert isinstance(store, CheckpointStore)
    else:
        import redis

        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        store = open_checkpoints(Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_BROKER_URL": url}))
        assert isinstance(store, RedisCheckpointStore)
    yield store
    store.close()


def test_checkpoint_stores_keep_positions_and_seen_marks(checkpoints):
    assert checkpoints.get("reddit:search:Acme", {"none": True}) == {"none": True}
    checkpoints.set("reddit:search:Acme", {"newest_utc": 1700000000})
    checkpoints.set("feed:https://x.example/rss", {"etag": "W/1"})
    assert checkpoints.get("reddit:search:Acme") == {"newest_utc": 1700000000}
    checkpoints.mark_seen("mention:rss", ["a", "b"])
    assert checkpoints.unseen("mention:rss", ["c", "a", "d", "b", "c"]) == ["c", "d"]
    assert checkpoints.unseen("mention:other", ["a"]) == ["a"]
    checkpoints.forget("reddit:")
    assert checkpoints.get("reddit:search:Acme") is None and checkpoints.get("feed:https://x.example/rss")
    checkpoints.forget("mention:rss")
    assert checkpoints.unseen("mention:rss", ["a"]) == ["a"]


def test_redis_checkpoints_are_the_same_for_every_process(redis_url):
    """Two gather workers on two machines see one position: the second client reads what the first wrote."""
    from spiders.checkpoint import RedisCheckpointStore

    first, second = RedisCheckpointStore(redis_url), RedisCheckpointStore(redis_url)
    first.forget("")
    first.set("youtube:search:acme", {"after": "2026-11-30T00:00:00Z"})
    first.mark_seen("mention:youtube", ["v1"])
    assert second.get("youtube:search:acme") == {"after": "2026-11-30T00:00:00Z"}
    assert second.unseen("mention:youtube", ["v1", "v2"]) == ["v2"]
    first.forget("")
    first.close(), second.close()


def test_worker_and_dlq_argument_errors_are_one_clear_line(monkeypatch, redis_url):
    from listener.cli import app

    monkeypatch.delenv("LISTENER_BROKER_URL", raising=False)
    runner = CliRunner()
    bad_queue = runner.invoke(app, ["worker", "--queues", "score,fast"])
    assert bad_queue.exit_code == 2 and "unknown queue fast" in bad_queue.stderr
    no_broker = runner.invoke(app, ["status"])
    assert no_broker.exit_code == 2 and "LISTENER_BROKER_URL is not set" in no_broker.stderr
    monkeypatch.setenv("LISTENER_BROKER_URL", redis_url)
    both = runner.invoke(app, ["dlq", "drop", "abc", "--all"])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_run_queues_one_gather_task_per_configured_source_when_a_broker_is_set(tmp_path, monkeypatch, redis_url):
    import json

    import redis

    from listener.cli import app

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    path = tmp_path / "p.toml"
    path.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n[brand.sources]\nsubreddits = ["acme"]\n'
                    'feeds = ["https://acme.example/feed"]\n')
    monkeypatch.setenv("LISTENER_BROKER_URL", redis_url)
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    result = CliRunner().invoke(app, ["run", "--project", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["queued"]) == {"feed", "reddit"}
    messages = [json.loads(raw) for raw in client.lrange("gather", 0, -1)]
    assert sorted(m["headers"]["task"] for m in messages) == ["listener.gather", "listener.gather"]
    assert sorted(json.loads(__import__("base64").b64decode(m["body"]))[0][0] for m in messages) == ["feed", "reddit"]
    assert CliRunner().invoke(app, ["run", "--project", str(path), "--every", "1h"]).exit_code == 2
    client.flushdb()


def test_status_and_dlq_say_when_redis_cannot_be_reached(monkeypatch):
    from listener.cli import app
    from tests.celery_harness import free_port

    monkeypatch.setenv("LISTENER_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    for args in (["status"], ["dlq", "list"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "cannot reach Redis" in result.stderr, result.output


def test_the_alert_task_checks_the_projects_rules_against_the_store(monkeypatch, tmp_path, redis_url):
    """The alerts queue's task runs the library's check (listener.alerts.runner.check_now) over the worker's
    store and project; without rules it says so."""
    from workers import runtime, tasks

    monkeypatch.setenv("LISTENER_BROKER_URL", redis_url)
    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    project = tmp_path / "project.toml"
    project.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n')
    monkeypatch.setenv("LISTENER_PROJECT", str(project))
    runtime._cache.clear()
    try:
        assert "no [[alert]] rules" in tasks.check_alerts.run()["skipped"]
        project.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\n\n[[alert]]\nname = "acme volume"\n'
                           'brand = "Acme"\n')
        runtime._cache.clear()
        report = tasks.check_alerts.run()
        assert report["raised"] == [] and report["failed"] == []  # an empty store raises nothing
        assert report["checked"] >= 1
    finally:
        runtime._cache.clear()

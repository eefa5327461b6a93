"""Shared pytest fixtures. Keep this small: fixtures used by one test module belong in that module."""

from __future__ import annotations

import pytest


@pytest.fixture
def run(tmp_path, monkeypatch):
    """`run("search", "nimbus")`: the listener CLI in-process on a fresh data folder, with no store URL or
    project from the environment. catch_exceptions=False: a traceback fails the test instead of hiding in
    result.exception."""
    from typer.testing import CliRunner

    from listener.cli import app

    monkeypatch.setenv("LISTENER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    monkeypatch.delenv("LISTENER_PROJECT", raising=False)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def sqlite_store(tmp_path):
    """A fresh embedded store in a temporary folder (WAL on a real file), closed after the test."""
    from listener.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "listener.db")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for the whole test run (append-only, on a free port of 127.0.0.1). The machine's
    Redis on 6379 is shared with the other checkouts, which run these same tests: a database number of our own
    would be theirs too, and their workers would take our messages."""
    import shutil

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    from tests.celery_harness import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.kill()

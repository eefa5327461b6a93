"""Shared pytest fixtures. Keep this small: fixtures used by one test module belong in that module."""

from __future__ import annotations

import pytest


@pytest.fixture
def sqlite_store(tmp_path):
    """A fresh embedded store in a temporary folder (WAL on a real file), closed after the test."""
    from listener.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "listener.db")
    try:
        yield store
    finally:
        store.close()

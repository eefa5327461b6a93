"""Search and paging over the configured store, shaped for the CLI and the API."""

from __future__ import annotations

from listener.config import Settings
from listener.runtime import open_settings_store
from listener.store.base import Filters, Store


def run_search(settings: Settings, filters: Filters, sort: str = "date", limit: int = 10,
               cursor: str | None = None) -> dict:
    with open_settings_store(settings) as store:
        return search_store(store, filters, sort=sort, limit=limit, cursor=cursor)


def search_store(store: Store, filters: Filters, sort: str = "date", limit: int = 10,
                 cursor: str | None = None) -> dict:
    """One page of hits from an open store (the web app passes the store it holds)."""
    page = store.search(filters, sort=sort, limit=limit, cursor=cursor)
    return {
        "total": page.total,
        "total_exact": page.total_exact,
        "next_cursor": page.next_cursor,
        "hits": [{"mention": hit.mention, "snippet": hit.snippet, "score": hit.score} for hit in page.hits],
    }

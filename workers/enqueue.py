"""`listener run` with a broker: one gather task per configured source of the registry, on the gather queue."""

from __future__ import annotations

from listener.config import Project


def enqueue_pass(project: Project, brand: str | None = None, score: bool = True) -> dict[str, str]:
    """Queue a pass over every source the project configures (for `brand` only, if given); returns
    source -> task id. The workers read their own LISTENER_PROJECT, which should be the same file."""
    from spiders import registry
    from spiders.sources import select_brands
    from workers import ledger, runtime
    from workers.app import app

    brands = select_brands(project, brand)
    return {name: ledger.send(app, runtime.redis_client(), "listener.gather", args=[name],
                              kwargs={"brand": brand, "score": score}, queue="gather")
            for name, source in registry.SOURCES.items() if source.wanted(brands)}

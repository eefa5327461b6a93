"""The beat schedule from the project file's `[schedule]`: a gather task for every configured source of the
one source registry, each at its interval, the alert check when the project has alert rules, and the SEO check
of the [[serp]] questions."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from listener.config import ConfigError, Project, load_project, parse_duration


def beat_schedule(project: Project) -> dict[str, dict[str, Any]]:
    from spiders import registry

    schedule = project.schedule
    unknown = sorted(set(schedule.sources) - set(registry.SOURCES))
    if unknown:
        raise ConfigError(f"schedule.sources: unknown source {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(registry.SOURCES)}")
    entries: dict[str, dict[str, Any]] = {}
    for name, source in registry.SOURCES.items():
        if not source.wanted(project.brands):
            continue
        every = parse_duration(schedule.sources.get(name, schedule.default))
        entries[f"gather {name}"] = {"task": "listener.gather", "schedule": every, "args": [name],
                                     # a pass still waiting when the next is due is dropped, not piled up
                                     "options": {"queue": "gather", "expires": every.total_seconds()}}
    if project.alert:  # nothing to check without rules
        alerts = parse_duration(schedule.alerts)
        entries["check alerts"] = {"task": "listener.check_alerts", "schedule": alerts,
                                   "options": {"queue": "alerts", "expires": max(alerts, timedelta(seconds=30))
                                               .total_seconds()}}
    if project.serp:
        serp = parse_duration(schedule.serp)
        entries["check serp"] = {"task": "listener.check_serp", "schedule": serp,
                                 "options": {"queue": "gather", "expires": serp.total_seconds()}}
    return entries


# Every minute the ledger is checked for tasks Redis lost (workers.ledger); with nothing overdue it is one
# sorted-set read.
RECONCILE = {"reconcile ledger": {"task": "listener.reconcile", "schedule": timedelta(minutes=1),
                                  "options": {"queue": "alerts", "expires": 60}}}


def schedule_from_env() -> dict[str, dict[str, Any]]:
    """The ledger's reconciliation, and the schedule of LISTENER_PROJECT's project file (none without one:
    workers do not need it)."""
    path = os.environ.get("LISTENER_PROJECT")
    return {**RECONCILE, **(beat_schedule(load_project(path)) if path else {})}

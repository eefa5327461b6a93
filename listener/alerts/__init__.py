"""Alerts: detectors over the store's counts, rules (window, sensitivity, minimum volume, cooldown),
explanations, alert state and the channels that deliver them (e-mail, Apprise). docs/alerts.md explains it.

`check_alerts(settings, project)` is the entry point for task runners (the Celery alert task): it checks
every rule once, delivers what is due, and returns a JSON-safe summary.
"""

from __future__ import annotations


def check_alerts(settings, project) -> dict:
    """Check the project's rules now (store and alert state from the settings); a JSON-safe report."""
    if project is None or not project.alert:
        return {"skipped": "no alert rules (no project file, or it has no [[alert]])"}
    import json

    from listener.alerts.runner import check_now

    report = check_now(settings, project).summary()
    return json.loads(json.dumps(report, default=str))  # datetimes as ISO text: task results are JSON

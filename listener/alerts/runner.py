"""One call for every caller (the CLI, `listener run`, the demo, the workers): open the store and the alert
state from the settings, check the project's rules, deliver what is due."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from listener.alerts.check import CheckReport, check_alerts
from listener.alerts.state import AlertRecord, open_alert_state
from listener.config import Project, Settings
from listener.runtime import open_settings_store


def check_now(settings: Settings, project: Project, now: datetime | None = None, *, deliver: bool = True,
              replay_from: datetime | None = None) -> CheckReport:
    with open_settings_store(settings) as store, open_alert_state(settings) as state, \
            _rank_history(settings, project) as history:
        return check_alerts(store, state, project, now, replay_from=replay_from, deliver=deliver, history=history)


@contextmanager
def _rank_history(settings: Settings, project: Project):
    """The SEO rank history when a rule reads it (metric = "serp"), else None: no file is touched for nothing."""
    if not any(rule.metric == "serp" for rule in project.alert):
        yield None
        return
    from listener.seo.history import RankHistory

    with RankHistory.open(settings) as history:
        yield history


def sample_alert() -> AlertRecord:
    """A made-up alert for `listener alerts test-email`: it shows the layout (and that escaping holds)."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start = now - timedelta(hours=1)
    hours = [now - timedelta(hours=h) for h in range(72, 0, -1)]
    counts = [4 + (h % 24 > 8) * 6 for h in range(72)]
    counts[-1] = 41
    return AlertRecord(
        subject="test", rule="test e-mail", kind="volume", brand="Example", split="", window_start=start,
        window_end=now, observed=41, expected=9.5, p=2e-9, z=5.9, id=0,
        title="Example: 41 mentions, 4.3x the usual 9.5 (a test alert)",
        details={"observed": 41, "expected": 9.5,
                 "drivers": {"topic": [{"value": "account_access", "count": 30, "share": 0.73,
                                        "baseline_share": 0.12, "excess": 25}]},
                 "answer_first": [{"source": "reddit", "author": "a <b>tester</b>", "url": "https://example.com/t/1",
                                   "title": "Cannot log in since the update <script>alert(1)</script>",
                                   "text": "", "sentiment": "negative", "engagement": 57},
                                  {"source": "trustpilot", "author": "کاربر", "url": "javascript:alert(1)",
                                   "title": "کد تایید نمی‌آید — @channel", "text": "", "sentiment": "negative",
                                   "engagement": 3}],
                 "chart": {"times": [h.isoformat() for h in hours], "counts": counts,
                           "window": [start.isoformat(), now.isoformat()]}})


def check_after_pass(settings: Settings, project: Project, say) -> CheckReport | None:
    """`listener run`'s hook: check the rules after a gathering pass. It never raises (a broken alert
    channel must not stop the gathering); what it raised or failed is said through `say(text)`."""
    if not project.alert:
        return None
    try:
        report = check_now(settings, project)
    except Exception as err:  # noqa: BLE001 - reported, and the next pass tries again
        say(f"alerts: the check failed: {type(err).__name__}: {err}")
        return None
    for record in report.raised:
        say(f"alert #{record.id}: {record.title} (listener alerts list)")
    for failure in report.failed:
        say(f"alerts: {failure}")
    return report

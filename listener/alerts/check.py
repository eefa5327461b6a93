"""Evaluate the project's alert rules against the store, raise what fires (once), and deliver it.

`check_alerts(store, state, project)` is what `listener alerts check`, `listener run` (after each pass)
and the workers call. For every rule and subject (listener.alerts.subjects) it asks the store for the
subject's counts over the last `HISTORY` in buckets a quarter of the rule's window long, replays them
through the rule's detector (learning only), scores the window that ends now (the bucket still filling
counts for the part of it that has elapsed), and lets the policy (sensitivity, minimum volume,
cooldown, re-alert when worse) decide. The decision is made again inside the alert state's write
transaction, so two checks running at once raise one alert (listener.alerts.state).

`replay_from` scores every bucket from that time on instead of only the last one, as if the check had
run at the end of each bucket: the demo uses it to show what listener would have raised over its sample.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from listener.alerts.detectors import CountSpikeDetector, DropDetector, Score, ShareSpikeDetector
from listener.alerts.policy import Policy, PolicyState, decide
from listener.alerts.state import AlertRecord, AlertState
from listener.alerts.subjects import Subject, subjects
from listener.config import AlertRule, Project, parse_duration
from listener.store.base import INTERVALS, Filters, Store

log = logging.getLogger(__name__)

#: two weeks for the volume rule's same-time window (the same weekday twice, SameTimeWindow.MIN_WEEKS) and a
#: day for that window itself to have been filled two weeks ago
HISTORY = timedelta(days=15)
SENT_LIMIT = 1000  # mentions read per window for repeat_author / engagement


@dataclass
class CheckReport:
    checked: int = 0  # subjects evaluated
    raised: list[AlertRecord] = field(default_factory=list)
    delivered: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {"checked": self.checked, "raised": [r.summary() for r in self.raised],
                "delivered": self.delivered, "failed": self.failed}


#: seconds; the half-life of the level that volume rules build expected counts on
FAST_LEVEL_HALF_LIFE = 2 * 3600.0


def bucket_step(window_seconds: float) -> tuple[str, int]:
    """The store interval for a window: about a quarter of it, at least 5 minutes."""
    fitting = [(name, s) for name, s in INTERVALS.items() if s <= window_seconds / 4 and window_seconds % s == 0]
    return max(fitting, key=lambda item: item[1]) if fitting else ("5m", 300)


def policy_of(rule: AlertRule) -> Policy:
    return Policy(sensitivity=rule.sensitivity, min_volume=rule.min_volume,
                  cooldown=parse_duration(rule.cooldown).total_seconds(),
                  realert_gap=parse_duration(rule.window).total_seconds())


def policy_state(last: AlertRecord | None) -> PolicyState:
    if last is None:
        return PolicyState()
    span = (last.window_end - last.window_start).total_seconds() or 3600.0
    return PolicyState(last.window_end.timestamp(), last.observed, last.p,
                       (last.observed - last.expected) * 3600.0 / span)


def check_alerts(store: Store, state: AlertState, project: Project, now: datetime | None = None, *,
                 replay_from: datetime | None = None, deliver: bool = True, explain: bool = True,
                 history=None) -> CheckReport:
    """Evaluate every rule; raise and (unless deliver=False) send what fires. Safe to run concurrently.
    `history`: the SEO rank history (listener.seo.history.RankHistory) that `serp` rules read."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    report = CheckReport()
    for rule in project.alert:
        for subject in subjects(rule, project, store, since=now - HISTORY):
            report.checked += 1
            try:
                fired = evaluate(store, state, project, subject, now, replay_from, explain, history)
            except Exception as err:  # one broken subject must not silence the others
                log.exception("alert rule %r on %s failed", rule.name, subject.key)
                report.failed.append({"subject": subject.key, "error": f"{type(err).__name__}: {err}"})
                continue
            for record in fired:  # an alert updated in place as the incident grew is listed once, as it is now
                report.raised = [r for r in report.raised if r.id != record.id] + [record]
    if deliver:
        from listener.alerts.deliver import deliver_due

        sent, failed = deliver_due(state, project, now=now)
        report.delivered.extend(sent)
        report.failed.extend(failed)
    return report


def evaluate(store: Store, state: AlertState, project: Project, subject: Subject, now: datetime,
             replay_from: datetime | None, explain: bool, history=None) -> list[AlertRecord]:
    rule = subject.rule
    if rule.metric == "serp":
        from listener.alerts.serp import rank_changes

        if history is None:
            raise ValueError(f"rule {rule.name!r} (metric = 'serp') needs the SEO rank history; "
                             "check through listener.alerts.runner.check_now, which opens it")
        # explained by the rank change itself (question, positions, the pages above): no mention window
        return [r for r in (raise_record(store, state, project, subject, cand, False, now=now)
                            for cand in rank_changes(history, store, project, subject, now)) if r]
    if rule.metric == "repeat_author":
        from listener.alerts.people import repeat_authors

        return [r for r in (raise_record(store, state, project, subject, cand, explain, now=now)
                            for cand in repeat_authors(store, subject, now)) if r]
    if rule.metric == "engagement":
        from listener.alerts.people import high_visibility

        return [r for r in (raise_record(store, state, project, subject, cand, explain, now=now)
                            for cand in high_visibility(store, subject, now)) if r]
    return evaluate_counts(store, state, project, subject, now, replay_from, explain)


@dataclass
class Candidate:
    """A firing score, with the window it covers and what the alert calls it."""

    score: Score  # t = the window's end (epoch seconds)
    start: datetime
    end: datetime
    kind: str
    split: str = ""
    title: str = ""
    extra: dict = field(default_factory=dict)


def evaluate_counts(store: Store, state: AlertState, project: Project, subject: Subject, now: datetime,
                    replay_from: datetime | None, explain: bool) -> list[AlertRecord]:
    rule = subject.rule
    window = parse_duration(rule.window).total_seconds()
    interval, step = bucket_step(window)
    n = max(1, int(window // step))
    first = _floor(now - HISTORY, step)
    grid = [first + i * step for i in range(int((now.timestamp() - first) // step) + 1)]
    total = _counts(store, replace(subject.filters, since=_utc(first), until=_utc(grid[-1] + step)), interval, grid)
    part = None
    if rule.metric == "negative":
        part = _counts(store, replace(subject.filters, sentiments=("negative",), since=_utc(first),
                                      until=_utc(grid[-1] + step)), interval, grid)
    elif rule.metric == "topic":
        part = _counts(store, replace(subject.filters, topics=(rule.topic,), since=_utc(first),
                                      until=_utc(grid[-1] + step)), interval, grid)
    tz = project.project.timezone
    if rule.metric == "volume":
        # expected counts follow a 2 h level (see SeasonalBaseline.fast_half_life): a story that grows over
        # an afternoon is its own new normal, not a spike every quarter hour (NAB realTweets 55 -> 65)
        # and the last three windows are compared with the same hours of recent days and weeks: a story
        # that lifts volume for an afternoon, which that level follows (NAB realTweets 72.3 -> 76.8)
        detector = CountSpikeDetector(step=step, windows=(n, 3 * n), tz=tz, fast_half_life=FAST_LEVEL_HALF_LIFE,
                                      same_time_window=3 * n * step)
    elif rule.metric == "drop":
        detector = DropDetector(step=step, window=n, tz=tz, min_expected=max(rule.min_volume, 5))
    else:
        detector = ShareSpikeDetector(step=step, windows=(n, 3 * n))
    policy = policy_of(rule)
    replay_start = replay_from.timestamp() if replay_from else None
    raised: list[AlertRecord] = []
    for i, t in enumerate(grid):
        last = i == len(grid) - 1
        fraction = min(1.0, max((now.timestamp() - t) / step, 1e-3)) if last else 1.0
        values = (part[i], total[i]) if part is not None else (total[i],)
        if not last and (replay_start is None or t + step < replay_start):
            detector.learn(t, *values)
            continue
        score = detector.score(t, *values, fraction=fraction)
        end = t + step
        scored = replace(score, t=end)
        if not _fires(rule, policy, scored, state.last_alert(subject.key)):
            continue
        candidate = Candidate(scored, _utc(end - score.window * step), _utc(end), rule.metric, subject.split)
        record = raise_record(store, state, project, subject, candidate, explain, policy=policy, now=now)
        if record:
            raised.append(record)
    return raised


def _fires(rule: AlertRule, policy: Policy, score: Score, last: AlertRecord | None) -> bool:
    if rule.metric == "drop":
        return decide_drop(policy, score, policy_state(last))
    return decide(policy, score, policy_state(last)).fire


def decide_drop(policy: Policy, score: Score, state: PolicyState) -> bool:
    """A drop fires on the lower tail alone (its observed count is low by nature), once per cooldown."""
    if not score.ready or score.p > policy.p_threshold:
        return False
    return state.last_t is None or score.t - state.last_t >= policy.cooldown


def raise_record(store: Store, state: AlertState, project: Project, subject: Subject, candidate: Candidate,
                 explain: bool, policy: Policy | None = None, now: datetime | None = None) -> AlertRecord | None:
    """Explain the candidate and store it, unless another check stored it (or a cooldown) first."""
    rule = subject.rule
    policy = policy or policy_of(rule)
    split = candidate.split or subject.split
    key = subject.key if split == subject.split else f"{subject.key}|{split}"
    title = candidate.title or title_for(rule, subject, candidate)
    details = dict(candidate.extra)
    if explain:
        from listener.alerts.explain import explain_alert

        details.update(explain_alert(store, project, subject, candidate))
    record = AlertRecord(subject=key, rule=rule.name, kind=candidate.kind, brand=subject.brand, split=split,
                         window_start=candidate.start, window_end=candidate.end, observed=candidate.score.observed,
                         expected=candidate.score.expected, p=candidate.score.p, z=candidate.score.z, title=title,
                         details=details)

    def still_fires(last: AlertRecord | None, new: AlertRecord) -> bool:
        if rule.metric in ("repeat_author", "engagement", "serp"):
            return last is None or (new.window_end - last.window_end).total_seconds() >= policy.cooldown
        fires = _fires(rule, policy, candidate.score, last)
        new.realert = bool(last and fires and rule.metric != "drop"
                           and candidate.score.t - last.window_end.timestamp() < policy.cooldown)
        return fires

    raised_at = min(candidate.end, now) if now else candidate.end  # a window still filling ends in the future
    due = [(channel, due_time(channel, raised_at, project.project.timezone)) for channel in rule.channels]
    return state.raise_alert(record, still_fires, due)


def due_time(channel: str, raised_at: datetime, tz: str) -> datetime:
    """Immediate, or the next hour / local midnight for `?digest=hourly|daily` channels."""
    if "digest=hourly" in channel:
        return (raised_at + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    if "digest=daily" in channel:
        local = raised_at.astimezone(ZoneInfo(tz))
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.astimezone(timezone.utc)
    return raised_at


def title_for(rule: AlertRule, subject: Subject, candidate: Candidate) -> str:
    s = candidate.score
    what = {"volume": "mentions", "negative": "negative mentions", "topic": f"'{rule.topic}' mentions",
            "drop": "mentions"}.get(rule.metric, "mentions")
    if rule.metric == "drop":
        return f"{subject.label}: {what} dropped to {s.observed:.0f} (expected {s.expected:.0f})"
    if s.expected < 0.5:
        return f"{subject.label}: {s.observed:.0f} {what} where almost none are usual"
    return f"{subject.label}: {s.observed:.0f} {what}, {s.observed / s.expected:.1f}x the usual {s.expected:.1f}"


def _floor(moment: datetime, step: int) -> float:
    return math.floor(moment.timestamp() / step) * step


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _counts(store: Store, filters: Filters, interval: str, grid: list[float]) -> list[float]:
    """The store's counts on the grid (buckets the store leaves out are zero)."""
    by_start = {bucket.timestamp(): sum(values.values()) for bucket, values in
                store.timeseries(filters, interval=interval, tz="UTC")}
    return [float(by_start.get(t, 0)) for t in grid]


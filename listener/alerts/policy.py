"""When a score becomes an alert: sensitivity, minimum volume, cooldown and "re-alert only when worse".

Pure and online, so the rule check, the demo and the NAB benchmark share the exact same decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from listener.alerts.detectors import Score
from listener.alerts.tails import z_to_p

#: never alert on fewer mentions than this, whatever the rule says: 0 -> 1 is never news.
ABSOLUTE_MIN_VOLUME = 2
#: during a cooldown a new alert needs this many times the excess (mentions beyond expected, per hour) of
#: the last one: "clearly worse", whatever window length each was seen in; and at most one per window, so a
#: growing incident updates the support lead hourly (with 1h windows), not every quarter hour.
WORSE_FACTOR = 2.0


@dataclass(frozen=True)
class Policy:
    sensitivity: float = 3.0  # standard deviations (one-sided): 3 -> p < 0.00135, 4 -> p < 0.00003
    min_volume: int = 10  # in the window that triggers
    cooldown: float = 6 * 3600.0  # seconds
    min_excess: float = 2.0  # observed must exceed expected by at least this many mentions
    realert_gap: float = 0.0  # seconds between an alert and a "worse" re-alert (a rule uses its window)

    @property
    def p_threshold(self) -> float:
        return z_to_p(self.sensitivity)


@dataclass
class Decision:
    fire: bool
    reason: str  # why (not): "spike", "worse", "cooldown", "below min_volume", "not unusual", "warming up"
    realert: bool = False


@dataclass
class PolicyState:
    """What the policy remembers between buckets: the last alert it raised."""

    last_t: float | None = None
    last_observed: float = 0.0
    last_p: float = 1.0
    last_rate: float = 0.0  # the last alert's excess per hour


def decide(policy: Policy, score: Score, state: PolicyState) -> Decision:
    """Whether this score raises an alert; updates `state` when it does."""
    if not score.ready:
        return Decision(False, "warming up")
    if score.p > policy.p_threshold:
        return Decision(False, "not unusual")
    if score.observed < max(policy.min_volume, ABSOLUTE_MIN_VOLUME):
        return Decision(False, "below min_volume")
    if score.observed - score.expected < policy.min_excess:
        return Decision(False, "not unusual")
    # A window that still holds the last alert's bucket is the same incident, whatever the cooldown says.
    window_start = score.t if score.window_start is None else score.window_start
    in_cooldown = state.last_t is not None and (score.t - state.last_t < policy.cooldown
                                                or window_start <= state.last_t)
    if in_cooldown:
        worse = score.excess_rate >= WORSE_FACTOR * state.last_rate and score.t - state.last_t >= policy.realert_gap
        if not worse:
            return Decision(False, "cooldown")
    state.last_t, state.last_observed, state.last_p = score.t, score.observed, score.p
    state.last_rate = score.excess_rate
    return Decision(True, "worse" if in_cooldown else "spike", realert=in_cooldown)

"""Online detectors over count series: each bucket is scored before the next one is seen.

`CountSpikeDetector` is the volume / negative / topic spike detector: a seasonal baseline
(listener.alerts.baseline) gives the expected count, and the observed count summed over the last few
buckets is compared with the expected sum under a negative binomial. Summing several windows (one
bucket, the rule's window, a few hours) catches both a sharp burst and a slow ramp; the smallest tail
probability wins, corrected for the number of windows looked at (Bonferroni). The result is a
`Score` with the probability and its z equivalent, so every alert can say "observed 57, expected 9.2,
p = 3e-9".

`DropDetector` is the other tail: a source that normally speaks goes quiet (a broken crawler, an
outage of the site, a blocked API key).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from listener.alerts.baseline import SeasonalBaseline
from listener.alerts.tails import nbinom_cdf, nbinom_sf, p_to_z

#: never score before this much history: a baseline from one afternoon is a guess.
DEFAULT_MIN_HISTORY = 86400.0


@dataclass(frozen=True)
class Score:
    """How unusual one bucket (and the windows ending at it) is."""

    t: float  # epoch second the bucket starts
    observed: float  # in the most unusual window
    expected: float  # in the same window
    p: float  # tail probability (corrected for the windows looked at); 1.0 = nothing unusual
    z: float  # p as standard deviations of a one-sided normal
    window: int  # buckets in the most unusual window
    ready: bool  # enough history to score at all

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else math.inf


class CountSpikeDetector:
    """Upper-tail detector for counts per bucket, online, with an hour-of-day/day-of-week baseline."""

    def __init__(self, step: float, windows: tuple[int, ...] = (1, 3, 12), tz: str = "UTC",
                 min_history: float = DEFAULT_MIN_HISTORY, **baseline_options):
        self.step = step
        self.windows = tuple(sorted(set(max(1, int(w)) for w in windows)))
        self.baseline = SeasonalBaseline(step=step, tz=tz, **baseline_options)
        self.min_history = min_history
        self._trail = _Trail(self.windows[-1] + 1)

    def score(self, t: float, value: float) -> Score:
        """Score the bucket starting at t, then learn from it."""
        ready = self.baseline.level is not None and self.baseline.history_seconds() >= self.min_history
        self._trail.add(self.baseline, t, value)
        best = Score(t, float(value), self.baseline.expected(t) or 0.0, 1.0, 0.0, 1, ready)
        if ready:
            inv_r = self.baseline.inv_r
            for window in self.windows:
                found = self._trail.window(window)
                if found is None:
                    break
                obs, exp = found
                if obs <= exp:
                    continue
                # Buckets of one window are correlated (a burst spans several): the sum's dispersion is
                # taken as that of one bucket, which is conservative for long windows.
                p = min(1.0, nbinom_sf(obs, exp, inv_r) * len(self.windows))
                if p < best.p:
                    best = Score(t, obs, exp, p, p_to_z(p), window, True)
        self.baseline.update(t, value)
        return best


class _Trail:
    """The last buckets: their counts, seasonal factors and the level the baseline had before each.

    A window's expected count is the level from BEFORE the window began times the window's seasonal
    factors: a baseline that already learned from the window's first hours would explain a slow ramp
    (or a slow fade to silence) away as the new normal."""

    def __init__(self, size: int):
        self.values: deque[float] = deque(maxlen=size)
        self.factors: deque[float] = deque(maxlen=size)
        self.levels: deque[float] = deque(maxlen=size)

    def add(self, baseline: SeasonalBaseline, t: float, value: float) -> None:
        self.values.append(float(value))
        self.factors.append(baseline.factor(t))
        self.levels.append(baseline.level if baseline.level is not None else float(value))

    def window(self, size: int) -> tuple[float, float] | None:
        if size > len(self.values):
            return None
        level = self.levels[-size]
        observed = sum(list(self.values)[-size:])
        expected = max(level * sum(list(self.factors)[-size:]), 1e-3)
        return observed, expected


class DropDetector:
    """Lower-tail detector: the count of the last `window` buckets is far below what the hour expects.

    A silent source is only news when it normally says something: a window whose expected count is
    below `min_expected` never raises a drop (3 quiet hours of a source with 1 mention a day is normal)."""

    def __init__(self, step: float, window: int = 12, tz: str = "UTC", min_history: float = 3 * 86400.0,
                 min_expected: float = 10.0, **baseline_options):
        self.step = step
        self.window = window
        self.baseline = SeasonalBaseline(step=step, tz=tz, **baseline_options)
        self.min_history = min_history
        self.min_expected = min_expected
        self._trail = _Trail(window)

    def score(self, t: float, value: float) -> Score:
        ready = self.baseline.level is not None and self.baseline.history_seconds() >= self.min_history
        self._trail.add(self.baseline, t, value)
        result = Score(t, float(value), self.baseline.expected(t) or 0.0, 1.0, 0.0, 1, ready)
        found = self._trail.window(self.window) if ready else None
        if found is not None:
            obs, exp = found
            if exp >= self.min_expected and obs < exp:
                p = nbinom_cdf(obs, exp, self.baseline.inv_r)
                result = Score(t, obs, exp, p, p_to_z(p), self.window, True)
        self.baseline.update(t, value)
        return result

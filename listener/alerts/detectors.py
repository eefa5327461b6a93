"""Online detectors over count series: each bucket is scored before the next one is seen.

`CountSpikeDetector` is the volume / negative / topic spike detector: a seasonal baseline
(listener.alerts.baseline) gives the expected count, and the observed count summed over the last few
buckets is compared with the expected sum under a negative binomial. Summing several windows (one
bucket, the rule's window, a few hours) catches both a sharp burst and a slow ramp; the smallest tail
probability wins, corrected for the number of windows looked at (Bonferroni). Optionally one more window
compares the last few hours with the same hours of recent days and weeks (`same_time_window`): a story that
lifts volume for an afternoon is soon followed by the level, but not by last week. The result is a
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
    window_start: float | None = None  # epoch second the most unusual window starts (None: = t)
    span: float = 0.0  # seconds the window covers (0: unknown)

    @property
    def excess_rate(self) -> float:
        """Mentions beyond the expected per hour: how bad, comparable between windows of different lengths."""
        return (self.observed - self.expected) * 3600.0 / (self.span or 3600.0)

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else math.inf


class CountSpikeDetector:
    """Upper-tail detector for counts per bucket, online, with an hour-of-day/day-of-week baseline.

    `confirm` > 1 asks a one-bucket window for persistence: it counts only when that many consecutive buckets
    were each unusual on their own (its p is the largest of theirs). A lone burst of a few minutes (one
    thread, one bot) is then left to the longer windows, which see it only if it is large enough to matter."""

    def __init__(self, step: float, windows: tuple[int, ...] = (1, 3, 12), tz: str = "UTC",
                 min_history: float = DEFAULT_MIN_HISTORY, confirm: int = 1, quiet_floor: float = 1.0,
                 same_time_window: float | None = None, **baseline_options):
        self.step = step
        self.quiet_floor = quiet_floor
        self.windows = tuple(sorted(set(max(1, int(w)) for w in windows)))
        self.baseline = SeasonalBaseline(step=step, tz=tz, **baseline_options)
        self.min_history = min_history
        self.confirm = max(1, int(confirm))
        self._trail = _Trail(self.windows[-1] + 1)
        self._single_p: deque[float] = deque(maxlen=self.confirm - 1)
        self._same_time = SameTimeWindow.for_step(step, same_time_window) if same_time_window else None
        # the windows each bucket is judged in: the Bonferroni factor of every window's tail probability
        self.looked_at = len(self.windows) + (self._same_time is not None)

    @property
    def ready(self) -> bool:
        return self.baseline.level is not None and self.baseline.history_seconds() >= self.min_history

    dispersion_power = 0.5

    def dispersion_divisor(self, window: int) -> float:
        return window ** self.dispersion_power

    def learn(self, t: float, value: float) -> None:
        """Learn from a bucket without scoring it (replaying history before a check)."""
        if self._same_time is not None:
            self._same_time.add(value, self.baseline.inv_r)
        self._trail.add(self.baseline, t, value)
        self.baseline.update(t, value)
        if self.confirm > 1:
            self._single_p.append(1.0)  # not scored: it confirms nothing

    def score(self, t: float, value: float, fraction: float = 1.0) -> Score:
        """Score the bucket starting at t, then learn from it. A bucket still filling (the current one, at
        `fraction` of its length) is expected to hold that fraction of a bucket, and is not learned from."""
        ready = self.ready
        self._trail.add(self.baseline, t, value, fraction)
        best = Score(t, float(value), self.baseline.expected(t) or 0.0, 1.0, 0.0, 1, ready)
        single_p = 1.0
        if ready:
            inv_r = self.baseline.inv_r
            for window in self.windows:
                found = self._trail.window(window)
                if found is None:
                    break
                obs, exp = found
                if obs <= exp:
                    continue
                # A sum of k independent negative binomials has dispersion inv_r / k; buckets of one window
                # are not independent (a burst spans several), so the sum keeps inv_r / sqrt(k): between
                # "independent" and "one bucket" (too deaf for slow ramps on small counts).
                dispersion = inv_r / self.dispersion_divisor(window)
                if self.quiet_floor > 0:
                    # Bursts (a thread taking off, a retweet cascade) are about as big at 4 am as at noon:
                    # their size follows the brand's audience, not the hour. So the spread of a quiet hour is
                    # at least that of a bucket at `quiet_floor` x the average hour; the expected count
                    # itself stays the hour's.
                    typical = self.quiet_floor * self._trail.typical(window)
                    if typical > exp:
                        dispersion *= (typical / exp) ** 2
                p = min(1.0, nbinom_sf(obs, exp, dispersion) * self.looked_at)
                if window == 1 and self.confirm > 1:
                    # persistence: the bucket AND the ones before it must each be unusual
                    single_p = p
                    p = max([p, *self._single_p]) if len(self._single_p) >= self.confirm - 1 else 1.0
                if p < best.p:
                    best = Score(t, obs, exp, p, p_to_z(p), window, True, t - (window - 1) * self.step, window * self.step)
        if self._same_time is not None:
            found = self._same_time.window(value, fraction) if ready else None
            if found is not None and found[0] > found[1]:
                obs, exp, spread = found
                # never narrower than the seasonal model's spread for a sum of this many buckets, as it was
                # before the window began (the window's own burst would otherwise widen it)
                size = self._same_time.size
                dispersion = max(spread, self._same_time.inv_r_before(self.baseline.inv_r) / self.dispersion_divisor(size))
                p = min(1.0, nbinom_sf(obs, exp, dispersion) * self.looked_at)
                if p < best.p:
                    best = Score(t, obs, exp, p, p_to_z(p), size, True, t - (size - 1) * self.step, size * self.step)
            if fraction >= 1.0:
                self._same_time.add(value, self.baseline.inv_r)
        if fraction >= 1.0:
            self.baseline.update(t, value)
            if self.confirm > 1:
                self._single_p.append(single_p)
        else:
            self._trail.pop()
        return best


class SameTimeWindow:
    """The sum of the last `size` buckets against the same hours of the last days and of the same weekday.

    The seasonal baseline's level follows the data within hours (it has to: a brand's volume drifts), so a
    story that lifts volume four-fold for a whole afternoon is explained away as the new level before any
    short window finds it unusual. Yesterday and last week have not moved: the expected sum here is the
    median of the same hours on each of the last DAYS days, or, when larger, the median of the same hours
    on the same weekday of the last WEEKS weeks (a Saturday night is compared with Saturday nights, not
    with quiet weekday nights). Medians, so one earlier incident at that hour does not raise the bar. The
    spread is that of the sums the median was taken from (median absolute deviation, as negative-binomial
    over-dispersion). Silent until DAYS days and MIN_WEEKS weeks of history exist, and where those hours
    usually hold fewer than MIN_EXPECTED mentions (the policy's default min_volume): a median of a week of
    near-empty afternoons says little, and the short windows, with their quiet-hour floor, judge sparse
    subjects."""

    DAYS = 7
    WEEKS = 4
    MIN_WEEKS = 2
    MIN_EXPECTED = 10.0

    def __init__(self, size: int, per_day: int):
        self.size = size
        self.per_day = per_day
        self.values: deque[float] = deque(maxlen=size)
        self.running = 0.0  # the sum of `values`
        self.inv_rs: deque[float] = deque(maxlen=size)  # the model's over-dispersion before each of them
        # the window's sum at every past bucket (nan before the window was full), WEEKS weeks of them, in a
        # ring (a deque's middle is slow to index)
        self.sums: list[float] = [math.nan] * (self.WEEKS * 7 * per_day)
        self.count = 0  # buckets added so far

    @classmethod
    def for_step(cls, step: float, seconds: float) -> SameTimeWindow | None:
        """None when a day is not a whole number of buckets (the same time of day has no bucket)."""
        per_day = 86400.0 / step
        if abs(per_day - round(per_day)) > 1e-9 or round(per_day) < 2:
            return None
        return cls(max(1, int(round(seconds / step))), int(round(per_day)))

    def inv_r_before(self, now: float) -> float:
        """The seasonal model's over-dispersion before the window's first bucket (`now`: before the current one)."""
        return self.inv_rs[-(self.size - 1)] if self.size > 1 else now

    def add(self, value: float, inv_r: float) -> None:
        """Add a bucket's count, with the seasonal model's over-dispersion before it learned from it."""
        if len(self.values) == self.size:
            self.running -= self.values[0]
        self.values.append(float(value))
        self.inv_rs.append(inv_r)
        self.running += float(value)
        self.sums[self.count % len(self.sums)] = self.running if len(self.values) == self.size else math.nan
        self.count += 1

    def _median_of(self, days_back) -> tuple[float, list[float]]:
        # the sum that ended k buckets before the current one is at (count - k) in the ring
        ring = len(self.sums)
        past = sorted(x for x in (self.sums[(self.count - d * self.per_day) % ring] for d in days_back
                                  if d * self.per_day <= min(self.count, ring)) if not math.isnan(x))
        if not past:
            return 0.0, past
        mid = len(past) // 2
        return (past[mid] if len(past) % 2 else 0.5 * (past[mid - 1] + past[mid])), past

    def window(self, value: float, fraction: float = 1.0) -> tuple[float, float, float] | None:
        """(observed, expected, over-dispersion) for the window ending with this bucket; None with too little
        history, when those hours are usually near-empty, or when the window is not above the last days'
        median (nothing to score). A bucket still
        filling counts as `fraction` of one in the expected sum."""
        if len(self.values) < self.size - 1:
            return None
        observed = self.running + float(value) - (self.values[0] if len(self.values) == self.size else 0.0)
        scale = (self.size - 1 + fraction) / self.size
        daily, days = self._median_of(range(1, self.DAYS + 1))
        if len(days) < self.DAYS or observed <= daily * scale:
            return None  # (most buckets: nothing above yesterday's usual, no need for the rest)
        weekly, weeks = self._median_of(range(7, 7 * self.WEEKS + 1, 7))
        if len(weeks) < self.MIN_WEEKS:
            return None
        median, past = (daily, days) if daily >= weekly else (weekly, weeks)
        if median < self.MIN_EXPECTED:
            return None
        mad = 1.4826 * sorted(abs(x - median) for x in past)[len(past) // 2]  # ~ sd for a normal
        spread = max((mad * mad - median) / (median * median), 0.0)  # var = mu + inv_r * mu^2
        return observed, median * scale, spread


class _Trail:
    """The last buckets: their counts, seasonal factors and the level the baseline had before each.

    A window's expected count is the level from BEFORE the window began times the window's seasonal
    factors: a baseline that already learned from the window's first hours would explain a slow ramp
    (or a slow fade to silence) away as the new normal."""

    def __init__(self, size: int):
        self.values: deque[float] = deque(maxlen=size)
        self.factors: deque[float] = deque(maxlen=size)
        self.levels: deque[float] = deque(maxlen=size)
        self.fractions: deque[float] = deque(maxlen=size)

    def add(self, baseline: SeasonalBaseline, t: float, value: float, fraction: float = 1.0) -> None:
        self.values.append(float(value))
        self.factors.append(baseline.factor(t) * fraction)
        self.fractions.append(fraction)
        self.levels.append(baseline.reference if baseline.level is not None else float(value))

    def pop(self) -> None:
        self.values.pop()
        self.factors.pop()
        self.levels.pop()
        self.fractions.pop()

    def typical(self, size: int) -> float:
        """The window's expected count at the level alone, as if every bucket were an average hour."""
        return self.levels[-size] * sum(list(self.fractions)[-size:])

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

    def learn(self, t: float, value: float) -> None:
        self._trail.add(self.baseline, t, value)
        self.baseline.update(t, value)

    def score(self, t: float, value: float, fraction: float = 1.0) -> Score:
        ready = self.baseline.level is not None and self.baseline.history_seconds() >= self.min_history
        self._trail.add(self.baseline, t, value, fraction)
        result = Score(t, float(value), self.baseline.expected(t) or 0.0, 1.0, 0.0, 1, ready)
        found = self._trail.window(self.window) if ready else None
        if found is not None:
            obs, exp = found
            if exp >= self.min_expected and obs < exp:
                p = nbinom_cdf(obs, exp, self.baseline.inv_r)
                result = Score(t, obs, exp, p, p_to_z(p), self.window, True, t - (self.window - 1) * self.step,
                               self.window * self.step)
        if fraction >= 1.0:
            self.baseline.update(t, value)
        else:
            self._trail.pop()
        return result


class ShareSpikeDetector:
    """A part's share of the whole jumps: negative mentions among all, a topic (login trouble) among all.

    The baseline share is a slowly forgetting ratio of counts (with a weak prior, so a brand's first
    negative mention is not a 100 % share); the window's part is compared with a beta-binomial around
    `share * window total`, whose extra spread stands for mentions that come in correlated bunches
    (one thread, one outage). A volume spike with the usual mix raises nothing here; the mix changing does.
    """

    def __init__(self, step: float, windows: tuple[int, ...] = (1, 3), half_life: float = 3 * 86400.0,
                 min_history: float = DEFAULT_MIN_HISTORY, concentration: float = 50.0):
        self.step = step
        self.windows = tuple(sorted(set(max(1, int(w)) for w in windows)))
        self.min_history = min_history
        self.concentration = concentration
        self._a = 1.0 - 0.5 ** (step / half_life)
        self.part = 0.5  # pseudo-counts: a weak prior share of 0.5 / 10
        self.total = 10.0
        self.seen = 0
        size = self.windows[-1]
        self._parts: deque[float] = deque(maxlen=size)
        self._totals: deque[float] = deque(maxlen=size)
        self._shares: deque[float] = deque(maxlen=size)

    @property
    def share(self) -> float:
        return self.part / self.total if self.total > 0 else 0.0

    @property
    def ready(self) -> bool:
        return self.seen * self.step >= self.min_history

    def learn(self, t: float, part: float, total: float) -> None:
        self._push(part, total)
        self._update(part, total)

    def _push(self, part: float, total: float) -> None:
        self._parts.append(float(part))
        self._totals.append(float(total))
        self._shares.append(self.share)

    def _update(self, part: float, total: float) -> None:
        if self.seen == 0 and total <= 0:
            return  # history starts with the first mention
        self.seen += 1
        # sums that decay per bucket: the share is a ratio of recent counts, busy hours weigh more
        self.part = self.part * (1 - self._a) + part
        self.total = self.total * (1 - self._a) + total

    def score(self, t: float, part: float, total: float, fraction: float = 1.0) -> Score:
        ready = self.ready
        self._push(part, total)
        best = Score(t, float(part), self.share * total, 1.0, 0.0, 1, ready)
        if ready:
            for window in self.windows:
                if window > len(self._parts):
                    break
                obs = sum(list(self._parts)[-window:])
                n = sum(list(self._totals)[-window:])
                share = self._shares[-window]
                exp = share * n
                if n <= 0 or obs <= exp:
                    continue
                p = min(1.0, betabinom_sf(obs, n, share, self.concentration) * len(self.windows))
                if p < best.p:
                    best = Score(t, obs, exp, p, p_to_z(p), window, True, t - (window - 1) * self.step, window * self.step)
        if fraction >= 1.0:
            self._update(part, total)
        else:
            self._parts.pop()
            self._totals.pop()
            self._shares.pop()
        return best


def betabinom_sf(k: float, n: float, share: float, concentration: float) -> float:
    """P(X >= k) for a beta-binomial with mean share * n and the given concentration (alpha + beta)."""
    from scipy.stats import betabinom

    share = min(max(share, 1e-4), 1 - 1e-4)
    n = int(round(n))
    return float(betabinom.sf(int(k) - 1, n, share * concentration, (1 - share) * concentration))

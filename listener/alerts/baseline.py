"""The expected count of a bucket: a level times hour-of-day and day-of-week factors, learned online.

Mention volume follows the clock (people post in their daytime, less at weekends), so "normal for this
hour" is the baseline, not "normal on average". The model is multiplicative and updated after every
bucket with exponential forgetting, so it needs no training run and follows slow drift:

    expected(t) = level * hour_factor[local hour of t] * weekday_factor[local weekday of t]

An observation is clipped to a high quantile of the current model before it updates anything, so a
spike does not teach the baseline that spikes are normal (it would mute the next alert and the re-alert).
The spread is learned the same way, as negative-binomial over-dispersion: variance = mu + inv_r * mu**2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo


#: the hour and weekday factors start as a flat shape worth this many observations of each slot
PRIOR = 2.0
#: the fast level (when on) remembers at least this many buckets, see __post_init__
FAST_MIN_BUCKETS = 12.0


@dataclass
class SeasonalBaseline:
    """Online multiplicative seasonal baseline for counts in fixed-size buckets."""

    step: float  # bucket size in seconds
    tz: str = "UTC"
    # Seconds; how fast the level follows the data. On NAB realTweets a 2 h half-life scores higher (about 65
    # against 53, bench/bench_nab.py), but on the demo's sparser mention data it raises a quiet-day alert:
    # 6 h is the choice for mention data in general.
    level_half_life: float = 6 * 3600.0
    # Seconds, or None (off). A second, faster level that the expected count uses, while the hour and weekday
    # shape keep learning against the slow one (a fast level alone soaks up the daily cycle and flattens the
    # shape). It follows a story that grows over an afternoon, so that afternoon is not called a spike: on
    # NAB realTweets (5-minute buckets) 2 h scores 65 against 55 without it (bench/bench_nab.py).
    fast_half_life: float | None = None
    season_half_life_days: float = 7.0  # how fast the hour/weekday shape follows the data
    weekday: bool = True  # learn a day-of-week factor as well (after a week of history)
    clip_z: float = 4.0  # observations beyond mean + clip_z * sd update the model at that bound only
    level: float | None = None
    fast_level: float | None = None
    hour: list[float] = field(default_factory=lambda: [1.0] * 24)
    day: list[float] = field(default_factory=lambda: [1.0] * 7)
    inv_r: float = 0.1
    seen: int = 0
    _hour_seen: list[int] = field(default_factory=lambda: [0] * 24)
    _day_seen: list[int] = field(default_factory=lambda: [0] * 7)
    _moment_excess: float = 0.0
    _moment_mu2: float = 0.0
    _zone: ZoneInfo | None = None

    def __post_init__(self) -> None:
        self._zone = None if self.tz == "UTC" else ZoneInfo(self.tz)
        buckets_per_day = 86400.0 / self.step
        self._a_level = 1.0 - 0.5 ** (self.step / self.level_half_life)
        # A level averaged over fewer than FAST_MIN_BUCKETS buckets is mostly noise (and with large buckets
        # it chases the daily cycle): the fast level's half-life is never shorter than that many buckets,
        # nor longer than the slow level's (with hourly buckets the two levels are then one).
        fast_buckets = None
        if self.fast_half_life:
            fast_buckets = min(max(self.fast_half_life / self.step, FAST_MIN_BUCKETS),
                               max(self.fast_half_life, self.level_half_life) / self.step)
        self._a_fast = 1.0 - 0.5 ** (1.0 / fast_buckets) if fast_buckets else None
        # The hour factor is seen once a day per hour slot: its rate is per day, spread over the slot's buckets.
        slots_per_hour = max(1.0, 3600.0 / self.step)
        self._a_hour = (1.0 - 0.5 ** (1.0 / self.season_half_life_days)) / slots_per_hour
        self._a_day = (1.0 - 0.5 ** (1.0 / (self.season_half_life_days * 3))) / max(1.0, buckets_per_day)
        self._a_disp = 1.0 - 0.5 ** (self.step / (3 * 86400.0))

    # ------------------------------------------------------------------ reading

    def _slots(self, t: float) -> tuple[int, int]:
        moment = datetime.fromtimestamp(t, self._zone or timezone.utc)
        return moment.hour, moment.weekday()

    def factor(self, t: float) -> float:
        hour, day = self._slots(t)
        return self.hour[hour] * (self.day[day] if self.weekday else 1.0)

    @property
    def reference(self) -> float | None:
        """The level expected counts are built on: the fast one when configured, else the level."""
        return self.fast_level if self._a_fast is not None and self.fast_level is not None else self.level

    def expected(self, t: float) -> float | None:
        """The expected count of the bucket starting at epoch second t (None before any data)."""
        if self.level is None:
            return None
        return max(self.reference * self.factor(t), 0.0)

    def history_seconds(self) -> float:
        return self.seen * self.step

    # ------------------------------------------------------------------ learning

    def clip(self, value: float, mu: float) -> float:
        sd = math.sqrt(mu + self.inv_r * mu * mu)
        return min(value, mu + self.clip_z * sd + 1.0)

    def update(self, t: float, value: float) -> None:
        """Learn from the count of the bucket starting at t (call once per bucket, in time order)."""
        if self.level is None and value <= 0:
            return  # history starts with the first mention: empty buckets before it are not "normal"
        self.seen += 1
        hour, day = self._slots(t)
        factor = self.hour[hour] * (self.day[day] if self.weekday else 1.0)
        if self.level is None:
            self.level = self.fast_level = max(float(value), 0.1)
            return
        mu = max(self.reference * factor, 1e-6)
        bounded = self.clip(float(value), mu)
        # Over-dispersion by the method of moments: E[(x - mu)^2 - mu] = inv_r * E[mu^2].
        self._moment_excess += self._a_disp * ((bounded - mu) ** 2 - mu - self._moment_excess)
        self._moment_mu2 += self._a_disp * (mu * mu - self._moment_mu2)
        if self._moment_mu2 > 0 and self.seen > 24:
            self.inv_r = min(max(self._moment_excess / self._moment_mu2, 0.005), 4.0)
        # A factor near zero (a dead hour) would turn one mention into a huge level: floor it.
        deseasoned = bounded / max(factor, 0.2)
        self.level = max(self.level + self._a_level * (deseasoned - self.level), 1e-3)
        if self._a_fast is not None:
            self.fast_level = max(self.fast_level + self._a_fast * (deseasoned - self.fast_level), 1e-3)
        if self.seen * self.step >= 86400:
            ratio = bounded / max(self.level * (self.day[day] if self.weekday else 1.0), 1e-3)
            # A mean over the first days with a prior of a flat day worth PRIOR buckets (so one zero at 3am
            # does not make 3am "never"), exponential forgetting after: a shape learned in days, not weeks.
            self._hour_seen[hour] += 1
            rate = max(self._a_hour, 1.0 / (self._hour_seen[hour] + PRIOR * max(1.0, 3600.0 / self.step)))
            self.hour[hour] += rate * (min(ratio, 10.0) - self.hour[hour])
            self._renormalise(self.hour)
        if self.weekday and self.seen * self.step >= 7 * 86400:
            ratio = bounded / max(self.level * self.hour[hour], 1e-3)
            self._day_seen[day] += 1
            rate = max(self._a_day, 1.0 / (self._day_seen[day] + PRIOR * 86400.0 / self.step))
            self.day[day] += rate * (min(ratio, 10.0) - self.day[day])
            self._renormalise(self.day)

    @staticmethod
    def _renormalise(factors: list[float]) -> None:
        # Keep the factors' mean at 1 so the level stays "the average bucket".
        mean = sum(factors) / len(factors)
        if mean > 0:
            for i, value in enumerate(factors):
                factors[i] = max(value / mean, 0.02)

"""The count detectors, the seasonal baseline and the alert policy, on synthetic series written here."""

from __future__ import annotations

import math
import random

import pytest

from listener.alerts.baseline import SeasonalBaseline
from listener.alerts.detectors import CountSpikeDetector, DropDetector, SameTimeWindow
from listener.alerts.policy import Policy, PolicyState, decide
from listener.alerts.tails import nbinom_sf, poisson_sf, z_to_p

HOUR = 3600.0
T0 = 1_700_006_400.0  # a Wednesday 00:00 UTC


def poisson(rng: random.Random, mu: float) -> int:
    # Knuth's method; fine for the small means used here.
    limit, k, prod = math.exp(-mu), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def daily_mean(hour: int) -> float:
    return 2.0 + 10.0 * max(0.0, math.sin((hour - 6) / 12 * math.pi))  # quiet nights, busy afternoons


def test_tails_match_textbook_values():
    assert poisson_sf(0, 3.0) == 1.0
    assert poisson_sf(1, 3.0) == pytest.approx(1 - math.exp(-3.0))
    assert poisson_sf(3, 1.0) == pytest.approx(1 - math.exp(-1) * (1 + 1 + 0.5))
    # the negative binomial has the heavier tail, and tends to the Poisson as dispersion vanishes
    assert nbinom_sf(20, 5.0, 0.5) > poisson_sf(20, 5.0)
    assert nbinom_sf(12, 5.0, 1e-6) == pytest.approx(poisson_sf(12, 5.0), rel=1e-3)
    assert z_to_p(3.0) == pytest.approx(0.00135, rel=1e-2)


def test_baseline_learns_the_hour_of_day():
    rng = random.Random(1)
    base = SeasonalBaseline(step=HOUR)
    for i in range(24 * 14):
        base.update(T0 + i * HOUR, poisson(rng, daily_mean(i % 24)))
    afternoon = base.expected(T0 + 14 * 24 * HOUR + 12 * HOUR)
    night = base.expected(T0 + 14 * 24 * HOUR + 2 * HOUR)
    assert afternoon > 3 * night
    assert afternoon == pytest.approx(daily_mean(12), rel=0.35)


def test_fast_level_follows_a_new_normal_while_the_daily_shape_still_learns():
    rng = random.Random(3)
    step = 300.0  # 5-minute buckets: 2 h is 24 of them
    base = SeasonalBaseline(step=step, fast_half_life=2 * HOUR)
    days, per_hour = 8, int(HOUR / step)
    for i in range(24 * per_hour * days):
        base.update(T0 + i * step, poisson(rng, daily_mean(i // per_hour % 24)))
    afternoon, night = T0 + days * 24 * HOUR + 12 * HOUR, T0 + days * 24 * HOUR + 2 * HOUR
    assert base.expected(afternoon) > 3 * base.expected(night)  # the shape is not flattened by the fast level
    start = 24 * per_hour * days
    for i in range(start, start + 3 * per_hour):  # a story grows: twice the volume for three hours
        base.update(T0 + i * step, 2 * poisson(rng, daily_mean(i // per_hour % 24)))
    assert base.reference > 1.1 * base.level  # the expected count has followed further than the level
    # with hourly buckets the floor of 12 buckets is above the level's 6 h: the two levels are one
    hourly = SeasonalBaseline(step=HOUR, fast_half_life=2 * HOUR)
    for i, value in enumerate(seasonal_series(3)):
        hourly.update(T0 + i * HOUR, value)
    assert hourly.reference == pytest.approx(hourly.level)
    assert SeasonalBaseline(step=HOUR).reference is None


def run(values, detector, policy, start=T0, step=HOUR):
    state, fired = PolicyState(), []
    for i, value in enumerate(values):
        score = detector.score(start + i * step, value)
        decision = decide(policy, score, state)
        if decision.fire:
            fired.append((i, decision.reason, score))
    return fired


def seasonal_series(days: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    return [poisson(rng, daily_mean(i % 24)) for i in range(24 * days)]


def test_quiet_days_raise_nothing_and_a_planted_spike_is_raised_once():
    values = seasonal_series(10)
    policy = Policy(sensitivity=3.0, min_volume=10, cooldown=6 * HOUR)
    assert run(values, CountSpikeDetector(step=HOUR), policy) == []
    spiked = list(values)
    at = 24 * 8 + 3  # 03:00, a quiet hour: 40 mentions where ~2 are normal
    spiked[at] += 40
    fired = run(spiked, CountSpikeDetector(step=HOUR), policy)
    assert [i for i, _, _ in fired] == [at]
    score = fired[0][2]
    assert score.observed >= 40 and score.expected < 10 and score.p < 1e-6


def test_a_quiet_hour_is_judged_with_the_spread_of_an_average_hour():
    """Bursts (a thread taking off) are about as big at night as by day: a night-time burst must stand out
    against the spread of an average hour, not only against the night's small mean (quiet_floor)."""
    values = seasonal_series(6)
    at = 24 * 5 + 2  # 02:00: about 2 mentions are usual, about 5 in an average hour
    values[at] = 18
    policy = Policy(sensitivity=3.0, min_volume=5)
    assert run(values, CountSpikeDetector(step=HOUR), policy) == []
    assert [i for i, _, _ in run(values, CountSpikeDetector(step=HOUR, quiet_floor=0.0), policy)] == [at]
    values[at] = 40
    assert [i for i, _, _ in run(values, CountSpikeDetector(step=HOUR), policy)] == [at]


def test_no_alert_before_minimum_history():
    values = [3] * 10 + [80]
    assert run(values, CountSpikeDetector(step=HOUR), Policy(min_volume=2)) == []


def test_no_alert_on_zero_or_one_mention():
    values = [1] + [0] * (24 * 4) + [1, 0, 0, 1]  # one mention four days ago, then silence
    policy = Policy(sensitivity=1.0, min_volume=0, cooldown=0)
    assert run(values, CountSpikeDetector(step=HOUR), policy) == []
    # ...while two mentions after days of silence do pass the floor once min_volume allows it
    assert run([1] + [0] * (24 * 4) + [6], CountSpikeDetector(step=HOUR), policy)


def test_min_volume_holds_back_a_small_spike():
    values = seasonal_series(6)
    values[24 * 5 + 2] = 40  # unusual at 02:00, but only 40 mentions
    assert run(values, CountSpikeDetector(step=HOUR), Policy(min_volume=41)) == []
    assert run(values, CountSpikeDetector(step=HOUR), Policy(min_volume=5))


def test_cooldown_mutes_a_repeat_and_a_clearly_worse_spike_realerts():
    values = seasonal_series(6)
    base = 24 * 5 + 1
    values[base] = 45
    values[base + 2] = 48  # the same incident again, not worse: muted by the cooldown
    fired = run(values, CountSpikeDetector(step=HOUR), Policy(min_volume=10, cooldown=6 * HOUR))
    assert [(i, r) for i, r, _ in fired] == [(base, "spike")]
    values[base + 4] = 200  # much worse within the cooldown: re-alert
    fired = run(values, CountSpikeDetector(step=HOUR), Policy(min_volume=10, cooldown=6 * HOUR))
    assert [(i, r) for i, r, _ in fired] == [(base, "spike"), (base + 4, "worse")]
    # once the cooldown is over and the windows no longer hold the incident, a new spike is a new alert
    values[base + 20] = 45
    fired = run(values, CountSpikeDetector(step=HOUR), Policy(min_volume=10, cooldown=6 * HOUR))
    assert [(i, r) for i, r, _ in fired] == [(base, "spike"), (base + 4, "worse"), (base + 20, "spike")]


def test_a_slow_ramp_is_caught_by_the_longer_window():
    calm = [5, 6, 7, 6, 5, 7, 6, 6]  # a steady source (no seasonality, little noise)
    values = calm * 15
    values += [v + 5 for v in calm]  # +80 % for 8 hours: no single hour stands out
    detector = CountSpikeDetector(step=HOUR, windows=(1, 8))
    fired = run(values, detector, Policy(min_volume=10, cooldown=24 * HOUR))
    assert fired and fired[0][2].window == 8
    assert not run(values, CountSpikeDetector(step=HOUR, windows=(1,)), Policy(min_volume=10, cooldown=24 * HOUR))


def lifted_afternoon(seed: int) -> tuple[list[int], int]:
    """15 quiet days, then an afternoon that climbs to 4x its usual over four hours and stays there."""
    rng = random.Random(seed)
    values = [poisson(rng, 3 * daily_mean(i % 24)) for i in range(24 * 16)]
    day = 24 * 15
    for k, lift in enumerate([1.3, 1.8, 2.5, 3.2, 4, 4, 4, 4]):
        values[day + 10 + k] = poisson(rng, 3 * daily_mean(10 + k) * lift)
    return values, day


def test_an_afternoon_lifted_for_hours_is_raised_against_the_same_hours_of_past_days():
    """The 2 h level follows a slow climb, so the 1 h and 3 h windows see little; last week has not moved."""
    policy = Policy(sensitivity=4.0, min_volume=10, cooldown=24 * HOUR)
    short_only = same_time = 0
    for seed in range(20):
        values, day = lifted_afternoon(seed)
        short_only += bool(run(values, CountSpikeDetector(step=HOUR, windows=(1, 3), fast_half_life=2 * HOUR), policy))
        detector = CountSpikeDetector(step=HOUR, windows=(1, 3), fast_half_life=2 * HOUR, same_time_window=3 * HOUR)
        fired = run(values, detector, policy)
        same_time += bool(fired)
        assert all(i >= day + 10 for i, _, _ in fired)  # nothing on the 15 ordinary days
    assert short_only <= 5 and same_time >= 18


def test_the_same_time_window_raises_nothing_on_ordinary_days():
    values = seasonal_series(30)
    detector = CountSpikeDetector(step=HOUR, windows=(1, 3), fast_half_life=2 * HOUR, same_time_window=3 * HOUR)
    assert run(values, detector, Policy(sensitivity=4.0, min_volume=10, cooldown=24 * HOUR)) == []


def test_same_time_expects_the_median_of_past_days_or_of_the_same_weekday_when_larger():
    window = SameTimeWindow(size=1, per_day=24)
    for i in range(24 * 21):  # three weeks: 10 an hour on weekdays, 30 at weekends (days 5 and 6 of each week)
        window.add(30 if (i // 24) % 7 >= 5 else 10, 0.01)
    # the next bucket is day 21, a weekday: the last 7 days' median is 10
    assert window.window(25)[:2] == (25, pytest.approx(10))
    for _ in range(24 * 5):
        window.add(10, 0.01)
    # now day 26 (a weekend day): 5 of the last 7 days say 10, the same weekday in past weeks says 30
    observed, expected, spread = window.window(40)
    assert observed == 40 and expected == pytest.approx(30) and spread == 0.0
    assert window.window(10) is None  # not above the same hours' usual: nothing to score


def test_same_time_is_not_moved_by_one_earlier_incident_and_waits_for_history():
    window = SameTimeWindow(size=2, per_day=4)
    assert SameTimeWindow.for_step(420.0, 3 * HOUR) is None  # a day is not a whole number of 7-minute buckets
    for i in range(4 * 13):
        window.add(5, 0.01)
        assert window.window(5) is None  # not two weeks yet
    window.add(5, 0.01)
    window.add(500, 0.01)  # an incident at this time of day, two days before the bucket scored below
    for _ in range(4 * 2 - 2):
        window.add(5, 0.01)
    window.add(5, 0.01)
    observed, expected, _ = window.window(50)
    assert observed == 55 and expected == pytest.approx(10)
    # a bucket a quarter filled is expected to hold a quarter of a bucket
    assert window.window(50, fraction=0.25)[1] == pytest.approx(10 * 1.25 / 2)


def test_same_time_leaves_hours_that_are_usually_near_empty_to_the_short_windows():
    window = SameTimeWindow(size=2, per_day=4)
    for i in range(4 * 15):
        window.add(i % 2 * 9, 0.01)  # 0, 9, 0, 9: nine mentions in a window, below SameTimeWindow.MIN_EXPECTED
    assert window.window(200) is None
    window = SameTimeWindow(size=2, per_day=4)
    for i in range(4 * 15):
        window.add(i % 2 * 10, 0.01)
    assert window.window(200)[:2] == (210, pytest.approx(10))  # the last bucket (10) and this one


def test_confirm_ignores_a_lone_bucket_but_raises_a_burst_that_persists():
    values = seasonal_series(6)
    at = 24 * 5 + 3  # 03:00, a quiet hour
    lone = list(values)
    lone[at] += 45
    policy = Policy(min_volume=10, cooldown=6 * HOUR)
    # one window of one bucket: without persistence the lone burst is an alert, with it the burst is not
    assert [i for i, _, _ in run(lone, CountSpikeDetector(step=HOUR, windows=(1,)), policy)] == [at]
    assert run(lone, CountSpikeDetector(step=HOUR, windows=(1,), confirm=2), policy) == []
    # two unusual buckets in a row: raised at the second one, with that bucket's own counts
    twice = list(lone)
    twice[at + 1] += 45
    fired = run(twice, CountSpikeDetector(step=HOUR, windows=(1,), confirm=2), policy)
    assert [i for i, _, _ in fired] == [at + 1]
    assert fired[0][2].observed == twice[at + 1] and fired[0][2].window == 1
    # a lone burst large enough for the longer window still gets through there
    huge = list(values)
    huge[at] += 150
    fired = run(huge, CountSpikeDetector(step=HOUR, windows=(1, 3), confirm=2), policy)
    assert [(i, s.window) for i, _, s in fired] == [(at, 3)]


def test_drop_detector_sees_a_source_go_silent_but_not_a_quiet_one():
    values = seasonal_series(5) + seasonal_series(1, seed=9)[:10] + [0] * 8  # silent from 10:00 on day 6
    detector = DropDetector(step=HOUR, window=6)
    drops = [i for i, v in enumerate(values)
             if (s := detector.score(T0 + i * HOUR, v)).ready and s.p < z_to_p(3.0)]
    assert drops and drops[0] >= 24 * 5 + 10 and all(i >= 24 * 5 + 10 for i in drops)
    sparse = DropDetector(step=HOUR, window=6)  # a source with ~1 mention a day: silence is normal
    rng = random.Random(5)
    quiet = [1 if rng.random() < 0.05 else 0 for _ in range(24 * 6)] + [0] * 12
    assert all(sparse.score(T0 + i * HOUR, v).p >= 0.01 for i, v in enumerate(quiet))

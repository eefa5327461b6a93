"""Charts as server-rendered SVG: the geometry is computed here, the template only draws it.

No JavaScript library and no build step: a stacked bar per time bucket (sentiment), shaded bands for alert
windows, a marker on spikes. Every chart has a title and a description for screen readers, and the same
numbers go into a table beside it (the template's job), so nothing is only visible as a picture.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime

WIDTH, HEIGHT = 800, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
#: stacked from the bottom, with the colours the stylesheet's legend uses
SEGMENTS = (("negative", "#c0392b"), ("neutral", "#95a5a6"), ("positive", "#27ae60"), ("unscored", "#d5d8dc"),
            ("all", "#2e86c1"))


@dataclass
class Segment:
    key: str
    colour: str
    y: float
    height: float
    count: int


@dataclass
class Bar:
    x: float
    width: float
    start: datetime
    total: int
    label: str  # the bucket's time, for the reader
    segments: list[Segment]
    spike: bool = False


@dataclass
class Band:
    x: float
    width: float
    label: str
    href: str | None = None


@dataclass
class Chart:
    title: str
    desc: str
    bars: list[Bar]
    bands: list[Band]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    keys: list[tuple[str, str]]  # the legend: (key, colour) of the segments that occur
    width: int = WIDTH
    height: int = HEIGHT
    plot_bottom: float = HEIGHT - BOTTOM
    spikes: list[Bar] = field(default_factory=list)


def spikes(totals: list[int]) -> list[bool]:
    """A visual hint, not the alert detector: a bucket far above the series' median, by 5 times the larger of
    the robust spread (1.4826 x the median absolute deviation) and the Poisson spread (the median's square
    root), with at least 5 mentions. Counts this far out are rare by chance in any of the two models."""
    if len(totals) < 5:
        return [False] * len(totals)
    median = statistics.median(totals)
    spread = max(1.4826 * statistics.median(abs(t - median) for t in totals), math.sqrt(median), 1.0)
    return [t >= 5 and t > median + 5 * spread for t in totals]


def _nice_top(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def bar_chart(series: list[tuple[datetime, dict[str, int]]], interval_seconds: int, fmt, title: str,
              bands: list[tuple[datetime, datetime, str, str | None]] = ()) -> Chart:
    """`series`: (bucket start, counts by segment key) oldest first; `bands`: (start, end, label, link) shaded
    over the buckets they cover (alert windows)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(counts.values()) for _, counts in series]
    top = _nice_top(max(totals, default=0) or 1)
    step = plot_w / max(len(series), 1)
    gap = min(2.0, step * 0.2)
    flags = spikes(totals)
    bars, seen = [], set()
    for i, ((start, counts), total) in enumerate(zip(series, totals)):
        x = LEFT + i * step
        y = TOP + plot_h
        segments = []
        for key, colour in SEGMENTS:
            count = counts.get(key, 0)
            if not count:
                continue
            seen.add(key)
            height = plot_h * count / top
            y -= height
            segments.append(Segment(key, colour, round(y, 2), round(height, 2), count))
        bars.append(Bar(round(x + gap / 2, 2), round(max(step - gap, 0.5), 2), start, total,
                        fmt.axis(start, interval_seconds), segments, flags[i]))
    out_bands = []
    if series:
        first = series[0][0]
        for start, end, label, href in bands:
            a = (start - first).total_seconds() / interval_seconds
            b = (end - first).total_seconds() / interval_seconds
            a, b = max(a, 0.0), min(b, float(len(series)))
            if b <= a:
                continue  # outside the chart's range
            out_bands.append(Band(round(LEFT + a * step, 2), round(max((b - a) * step, 2.0), 2), label, href))
    y_ticks = [(round(TOP + plot_h * (1 - f), 2), fmt.number(top * f)) for f in (0, 0.5, 1)]
    every = max(1, len(series) // 6)
    x_labels = [(bar.x + bar.width / 2, bar.label) for i, bar in enumerate(bars)
                if i % every == 0 and bar.x + bar.width / 2 + 40 <= WIDTH]  # a label must not be cut at the edge
    peak = max(totals, default=0)
    desc = (f"{len(series)} buckets from {bars[0].label} to {bars[-1].label}; {fmt.number(sum(totals))} mentions, "
            f"at most {fmt.number(peak)} in one bucket; {sum(flags)} spike(s) marked; {len(out_bands)} alert "
            f"window(s) shaded." if bars else "No mentions in this range.")
    return Chart(title=title, desc=desc, bars=bars, bands=out_bands, y_ticks=y_ticks, x_labels=x_labels,
                 keys=[(k, c) for k, c in SEGMENTS if k in seen], spikes=[b for b in bars if b.spike])

"""NAB scoring, written from the benchmark's published description (Lavin & Ahmad 2015, the NAB wiki).

- Each labelled anomaly has a window around it. A detection inside a window scores by its position with
  a scaled sigmoid: at the window's start +1 (times the profile's TP weight), at its end about 0; only the
  first detection in a window counts. A window without a detection costs the FN weight.
- A detection outside every window is a false positive. Before the first window it costs the full FP
  weight; after a window it costs the FP weight times the sigmoid of how far past that window it is (in
  window widths), so a late detection just after a window costs little and one far away costs the full
  weight.
- The first 15 % of each file (at most 750 rows) is a probation period: detections there are ignored.
- A file's raw score is the sum of the above; a corpus score sums the files, and is normalised so that
  the null detector (no detections) scores 0 and the perfect one (each window detected at its first
  row) scores 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

PROBATION_PERCENT = 0.15


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(position: float) -> float:
    """Window position in [-1, 0] inside a window; past a window, window widths after its end."""
    if position > 3.0:
        return -1.0
    return 2.0 * sigmoid(-5.0 * position) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


@dataclass(frozen=True)
class Profile:
    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0
    tn: float = 1.0


PROFILES = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile(1.0, 0.11, 2.0),
}


def load_profiles(raw: dict) -> dict[str, Profile]:
    out = {}
    for name, spec in raw.items():
        m = spec["CostMatrix"]
        out[name] = Profile(m["tpWeight"], m["fpWeight"], m["fnWeight"], m.get("tnWeight", 1.0))
    return out


def probation_length(rows: int) -> int:
    return int(min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000))


@dataclass
class FileScore:
    raw: float
    windows: int
    tp: int = 0
    fp: int = 0
    fn: int = 0
    detections: list[int] = field(default_factory=list)


def window_indices(times: Sequence, windows: Sequence[tuple]) -> list[tuple[int, int]]:
    """Each (start, end) time window as (first row, last row), inclusive; empty windows are dropped."""
    out = []
    for start, end in windows:
        rows = [i for i, t in enumerate(times) if start <= t <= end]
        if rows:
            out.append((rows[0], rows[-1]))
    return out


def score_file(detections: Sequence[bool], windows: Sequence[tuple[int, int]], profile: Profile) -> FileScore:
    """The raw NAB score of one file, given which rows raised a detection and the windows' row ranges."""
    n = len(detections)
    probation = probation_length(n)
    windows = sorted(windows)
    window_scores = [-profile.fn] * len(windows)
    window_hit = [False] * len(windows)
    result = FileScore(raw=0.0, windows=len(windows))
    fp_total = 0.0
    w = 0  # index of the first window not yet ended
    for i, detected in enumerate(detections):
        while w < len(windows) and i > windows[w][1]:
            w += 1
        if not detected or i < probation:
            continue
        result.detections.append(i)
        if w < len(windows) and windows[w][0] <= i <= windows[w][1]:
            if not window_hit[w]:
                left, right = windows[w]
                width = right - left + 1
                position = -(right - i + 1) / width
                window_scores[w] = scaled_sigmoid(position) * profile.tp / MAX_TP
                window_hit[w] = True
                result.tp += 1
            continue
        result.fp += 1
        if w > 0:
            left, right = windows[w - 1]
            width = right - left + 1
            past = abs(right - i) / max(width - 1, 1)
            fp_total += scaled_sigmoid(past) * profile.fp
        else:
            fp_total += -profile.fp
    result.fn = window_hit.count(False)
    result.raw = sum(window_scores) + fp_total
    return result


def normalise(raw_total: float, windows_total: int, profile: Profile) -> float:
    """100 * (raw - null) / (perfect - null): null = every window missed, perfect = each hit at its start."""
    null = -profile.fn * windows_total
    perfect = profile.tp * windows_total
    if perfect == null:
        return 0.0
    return 100.0 * (raw_total - null) / (perfect - null)

"""NAB scoring, written from the benchmark's published description (Lavin & Ahmad 2015, the NAB wiki).

- Each labelled anomaly has a window around it. A detection inside a window scores by its position with
  a scaled sigmoid: at the window's first row +1 (times the profile's TP weight), at its last about 0.13;
  only the first detection in a window counts (later ones in the same window neither add nor cost).
  A window without a detection costs the FN weight.
- A detection outside every window is a false positive. Before the first window it costs the full FP
  weight; after a window it costs the FP weight times the scaled sigmoid of how far past that window's
  last row it is, in (window rows - 1), so a late detection just after a window costs little and one
  three window widths away or more costs the full weight.
- The first 15 % of each file (at most 750 rows) is a probation period: detections there are ignored,
  and a window with no row after probation is not scored at all (neither missed nor found).
- A corpus score sums the files' raw scores and is normalised so that the null detector (no detections:
  every scored window missed) is 0 and the perfect one (each labelled window detected at its first row)
  is 100.
- Published results pick, per profile, the one anomaly-score threshold that gives the best corpus score
  (`sweep`): every row whose score is >= the threshold is a detection. `sweep` tries every distinct score,
  as NAB's own sweeper does, so no threshold between them can score better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

PROBATION_PERCENT = 0.15


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(position: float) -> float:
    """Window position in [-1, 0) inside a window; past a window, window widths after its end (> 3: -1)."""
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
    windows: int  # windows scored (those with a row after probation)
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


@dataclass(frozen=True)
class Row:
    """What a detection at one row would be worth: `window` is the index of the window it lies in (None:
    outside every window), `worth` its weighted score under the profile (positive for a hit, negative for a
    false positive)."""

    window: int | None
    worth: float


def row_worths(n: int, windows: Sequence[tuple[int, int]], profile: Profile) -> tuple[list[Row | None], list[int]]:
    """Every row's worth if it were a detection (None in probation), and the windows that are scored."""
    probation = probation_length(n)
    windows = sorted(windows)
    rows: list[Row | None] = []
    w = 0  # the first window not yet ended
    for i in range(n):
        while w < len(windows) and i > windows[w][1]:
            w += 1
        if i < probation:
            rows.append(None)
            continue
        if w < len(windows) and windows[w][0] <= i:
            left, right = windows[w]
            position = -(right - i + 1) / (right - left + 1)
            rows.append(Row(w, scaled_sigmoid(position) * profile.tp / MAX_TP))
        elif w > 0:
            left, right = windows[w - 1]
            past = abs(right - i) / max(right - left, 1)  # (width - 1) rows, width = right - left + 1
            rows.append(Row(None, scaled_sigmoid(past) * profile.fp))
        else:
            rows.append(Row(None, -profile.fp))
    scored = sorted({r.window for r in rows if r is not None and r.window is not None})
    return rows, scored


def score_file(detections: Sequence[bool], windows: Sequence[tuple[int, int]], profile: Profile) -> FileScore:
    """The raw NAB score of one file, given which rows raised a detection and the windows' row ranges."""
    rows, scored = row_worths(len(detections), windows, profile)
    best: dict[int, float] = {}
    result = FileScore(raw=0.0, windows=len(scored))
    fp_total = 0.0
    for i, (detected, row) in enumerate(zip(detections, rows)):
        if not detected or row is None:
            continue
        result.detections.append(i)
        if row.window is not None:
            if row.window not in best:  # the first detection in a window is the one that counts
                best[row.window] = row.worth
                result.tp += 1
            continue
        result.fp += 1
        fp_total += row.worth
    result.fn = len(scored) - len(best)
    result.raw = sum(best.values()) - profile.fn * result.fn + fp_total
    return result


def normalise(raw_total: float, windows_total: int, profile: Profile, scored_total: int | None = None) -> float:
    """100 * (raw - null) / (perfect - null). null = every scored window missed (`scored_total`, default all of
    them), perfect = each labelled window (`windows_total`) hit at its first row."""
    null = -profile.fn * (windows_total if scored_total is None else scored_total)
    perfect = profile.tp * windows_total
    if perfect == null:
        return 0.0
    return 100.0 * (raw_total - null) / (perfect - null)


def sweep(files: Sequence[tuple[Sequence[float], Sequence[tuple[int, int]]]], profile: Profile,
          ) -> tuple[float, float]:
    """NAB's threshold optimisation over a corpus: (best normalised score, its threshold). `files` holds each
    file's anomaly scores and window rows. One threshold for the whole corpus; every distinct score is tried
    (a detection is score >= threshold), from the highest down, updating the corpus score row by row."""
    pooled: list[tuple[float, int, Row]] = []
    scored_total = windows_total = 0
    for f, (scores, windows) in enumerate(files):
        rows, scored = row_worths(len(scores), windows, profile)
        windows_total += len(windows)
        scored_total += len(scored)
        pooled.extend((s, f, row) for s, row in zip(scores, rows) if row is not None)
    pooled.sort(key=lambda item: -item[0])
    raw = -profile.fn * scored_total  # threshold above every score: nothing detected
    best_raw, best_threshold = raw, math.inf
    hit: dict[tuple[int, int], float] = {}
    for k, (score, f, row) in enumerate(pooled):
        if row.window is None:
            raw += row.worth
        else:
            key = (f, row.window)
            old = hit.get(key, -profile.fn)
            if row.worth > old:  # the earliest detected row of a window is its best
                hit[key] = row.worth
                raw += row.worth - old
        last_of_group = k + 1 == len(pooled) or pooled[k + 1][0] != score
        if last_of_group and raw > best_raw:
            best_raw, best_threshold = raw, score
    return normalise(best_raw, windows_total, profile, scored_total), best_threshold

"""Run the volume spike detector online over a NAB-shaped folder and print its NAB scores.

    python bench/bench_nab.py /work/shared/data/nab [--only realTweets] [--out DIR]

The folder holds subfolders of `timestamp,value` CSV files, `windows.json` (file -> [[start, end], ...]) and
optionally `profiles.json`. Each series is fed to listener.alerts' CountSpikeDetector one row at a time
(each row scored before the next is read) and the alert policy (sensitivity, minimum volume, cooldown,
re-alert when worse) decides the alerts. Two scores are printed per profile:

- `alerts`: the detector's own online decisions, as listener would raise them (the honest number); a
  "clearly worse" re-alert updates the open alert in place and is not a new detection;
- `swept`: NAB's own procedure, which sweeps one threshold over `anomaly_score` for the whole corpus and keeps
  the best per profile (the way published NAB results are computed). `anomaly_score` is the alert's strength
  where a new alert is raised and 0 elsewhere, so the sweep can only ask for stronger alerts.

`--out DIR` writes `DIR/<subfolder>/<file>.csv` with `timestamp,value,anomaly_score,alert` per series.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nab_scoring import PROFILES, load_profiles, normalise, score_file, sweep, window_indices  # noqa: E402

from listener.alerts.detectors import CountSpikeDetector  # noqa: E402
from listener.alerts.policy import Decision, Policy, PolicyState, decide  # noqa: E402

#: the detector's settings for this benchmark: windows of 5 min, 15 min and 1 h on a 5-minute series; a lone
#: 5-minute bucket counts only when the one before it was unusual too (confirm=2: most false positives on
#: realTweets were single 5-minute bursts); expected counts follow a 2 h level (the daily shape still learns
#: against the slow 6 h one, and is floored at 12 buckets); the last 3 h are also compared with the same hours
#: of the last 7 days and of the same weekday in the last 4 weeks (same_time_window: a story that lifts volume
#: for an afternoon, which the 2 h level follows); sensitivity 4 and a day's cooldown. The detector's own
#: defaults do the rest (a quiet hour judged with an average hour's spread: quiet_floor=1). realTweets,
#: standard profile: 76.8 (72.3 without the same-time window, 68.5 with quiet_floor=0, 65.9 when a "worse"
#: update counted as a new alert, 55.4 without the fast level); all 12 series 57.7; docs/alerts.md has the rest.
SETTINGS = dict(windows=(1, 3, 12), confirm=2, sensitivity=4.0, min_volume=10, cooldown=24 * 3600.0,
                same_time_window=3 * 3600.0, baseline=dict(fast_half_life=2 * 3600.0))
Z_SCALE = 12.0  # anomaly_score = min(1, z / Z_SCALE)


def parse_time(text: str) -> datetime:
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"unreadable timestamp {text!r} (expected YYYY-MM-DD HH:MM:SS)")


def read_series(path: Path) -> tuple[list[datetime], list[float]]:
    times, values = [], []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            times.append(parse_time(row["timestamp"]))
            values.append(float(row["value"]))
    return times, values


def run_detector(times: list[datetime], values: list[float], settings: dict) -> tuple[list[float], list[int], int]:
    """Online: each row is scored (and decided) before the next row is seen."""
    step = median((b - a).total_seconds() for a, b in zip(times, times[1:])) if len(times) > 1 else 300.0
    detector = CountSpikeDetector(step=step, windows=settings["windows"], confirm=settings.get("confirm", 1),
                                  same_time_window=settings.get("same_time_window"), **settings.get("baseline", {}))
    policy = Policy(sensitivity=settings["sensitivity"], min_volume=settings["min_volume"],
                    cooldown=settings["cooldown"])
    state = PolicyState()
    scores, alerts, updates = [], [], 0
    for moment, value in zip(times, values):
        score = detector.score(moment.timestamp(), value)
        decision: Decision = decide(policy, score, state)
        # A "clearly worse" decision updates the open alert in place (listener.alerts.state.as_update): the
        # support lead gets the same alert again, marked worse, not a new one; it is not a new detection.
        new = decision.fire and not decision.realert
        updates += decision.fire and decision.realert
        # The anomaly score NAB's sweep thresholds: the alert's strength where listener raises a new alert, 0
        # elsewhere, so a swept threshold asks for stronger alerts under the same cooldown (the raw z of every
        # row, without the policy, would make each row of one long incident a detection of its own).
        scores.append(min(1.0, score.z / Z_SCALE) if new else 0.0)
        alerts.append(1 if new else 0)
    return scores, alerts, updates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a NAB-shaped folder, e.g. /work/shared/data/nab")
    parser.add_argument("--only", action="append", default=[], help="only these subfolders (repeatable)")
    parser.add_argument("--out", type=Path, help="write per-series CSVs (timestamp,value,anomaly_score,alert)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the threshold sweep")
    args = parser.parse_args(argv)

    windows_file = args.folder / "windows.json"
    if not windows_file.exists():
        parser.error(f"{windows_file}: not found; the folder needs windows.json beside its subfolders")
    windows = json.loads(windows_file.read_text())
    profiles_file = args.folder / "profiles.json"
    profiles = load_profiles(json.loads(profiles_file.read_text())) if profiles_file.exists() else PROFILES

    started = time.perf_counter()
    results = []
    for path in sorted(args.folder.glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        if args.only and path.parent.name not in args.only:
            continue
        times, values = read_series(path)
        spans = [(parse_time(a), parse_time(b)) for a, b in windows.get(key, [])]
        scores, alerts, updates = run_detector(times, values, SETTINGS)
        results.append({"key": key, "windows": window_indices(times, spans), "scores": scores, "alerts": alerts,
                        "updates": updates})
        if args.out:
            target = args.out / key
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["timestamp", "value", "anomaly_score", "alert"])
                for moment, value, score, alert in zip(times, values, scores, alerts):
                    writer.writerow([moment.strftime("%Y-%m-%d %H:%M:%S"), f"{value:g}", f"{score:.4f}", alert])
    if not results:
        parser.error(f"{args.folder}: no */*.csv series found")
    elapsed = time.perf_counter() - started
    rows = sum(len(r["scores"]) for r in results)
    print(f"{len(results)} series, {rows} rows, detector {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s); "
          f"{sum(r['updates'] for r in results)} in-place updates of open alerts (not detections)")
    windows_total = sum(len(r["windows"]) for r in results)
    for name, profile in profiles.items():
        per_file = [score_file([a == 1 for a in r["alerts"]], r["windows"], profile) for r in results]
        score = normalise(sum(f.raw for f in per_file), windows_total, profile, sum(f.windows for f in per_file))
        line = (f"{name:20s} alerts {score:6.1f}  (TP {sum(f.tp for f in per_file)}/{windows_total}, "
                f"FP {sum(f.fp for f in per_file)})")
        if not args.no_sweep:
            swept, threshold = sweep([(r["scores"], r["windows"]) for r in results], profile)
            line += f"   swept {swept:6.1f} (threshold {threshold:.3f})"
        print(line)
    if len(results) > 1:
        print("per series (standard profile, alerts):")
        for r in results:
            f = score_file([a == 1 for a in r["alerts"]], r["windows"], profiles.get("standard", PROFILES["standard"]))
            print(f"  {r['key']:55s} {normalise(f.raw, len(r['windows']), PROFILES['standard'], f.windows) if r['windows'] else 0:6.1f}"
                  f"  TP {f.tp}/{f.windows} FP {f.fp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

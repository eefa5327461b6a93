"""NAB scoring (bench/nab_scoring.py) on tiny hand-made files."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from nab_scoring import MAX_TP, PROFILES, normalise, probation_length, scaled_sigmoid, score_file, sweep  # noqa: E402

STD = PROFILES["standard"]
N = 100  # rows; probation = 15


def detections(*rows: int) -> list[bool]:
    return [i in rows for i in range(N)]


def test_sigmoid_shape():
    # 2 * sigmoid(x) - 1 == tanh(x / 2): the values below are tanh of hand-picked arguments
    assert scaled_sigmoid(-1.0) == pytest.approx(MAX_TP) and MAX_TP == pytest.approx(math.tanh(2.5))
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.0) == pytest.approx(-math.tanh(7.5))
    assert scaled_sigmoid(3.01) == -1.0  # more than three window widths past: the full FP cost
    assert probation_length(100) == 15 and probation_length(100_000) == 750


# One window of rows 40..59 (20 rows) in a 100-row file (probation: rows 0..14).
WINDOW = [(40, 59)]


def test_a_detection_at_the_windows_first_row_is_worth_the_tp_weight():
    assert score_file(detections(40), WINDOW, STD).raw == pytest.approx(1.0)


def test_a_detection_at_the_windows_last_row_is_worth_little():
    # position -(59 - 59 + 1) / 20 = -0.05 -> tanh(0.125) / tanh(2.5) = 0.12604
    assert score_file(detections(59), WINDOW, STD).raw == pytest.approx(0.126040, abs=1e-5)
    # row 50: position -(59 - 50 + 1) / 20 = -0.5 -> tanh(1.25) / tanh(2.5) = 0.85979
    assert score_file(detections(50), WINDOW, STD).raw == pytest.approx(0.859792, abs=1e-5)


def test_only_the_first_detection_in_a_window_counts():
    first_only = score_file(detections(45), WINDOW, STD)
    many = score_file(detections(45, 46, 50, 59), WINDOW, STD)
    assert many.raw == first_only.raw and many.tp == 1 and many.fp == 0


def test_a_false_positive_just_after_a_window_costs_little_and_far_after_the_full_weight():
    # row 61: 2 rows past the last row, in (20 - 1)-row widths: 2 / 19 -> -tanh(0.26316) * 0.11 = -0.028297
    assert score_file(detections(40, 61), WINDOW, STD).raw == pytest.approx(1.0 - 0.028297, abs=1e-5)
    # row 99: 40 / 19 = 2.105 widths -> -tanh(5.263) * 0.11 = -0.109994
    assert score_file(detections(40, 99), WINDOW, STD).raw == pytest.approx(1.0 - 0.109994, abs=1e-5)
    # with the low-FP profile the same detection costs twice as much
    low_fp = PROFILES["reward_low_FP_rate"]
    assert score_file(detections(40, 61), WINDOW, low_fp).raw == pytest.approx(1.0 - 2 * 0.028297, abs=1e-5)


def test_misses_false_positives_before_the_first_window_and_probation():
    assert score_file(detections(), WINDOW, STD).raw == pytest.approx(-1.0)
    assert score_file(detections(), WINDOW, PROFILES["reward_low_FN_rate"]).raw == pytest.approx(-2.0)
    before = score_file(detections(20), WINDOW, STD)
    assert before.raw == pytest.approx(-1.0 - 0.11) and before.fp == 1 and before.fn == 1
    assert score_file(detections(5), WINDOW, STD).raw == pytest.approx(-1.0)  # in probation: ignored
    # a window wholly inside probation is not scored: neither missed nor found
    early = score_file(detections(), [(3, 10)], STD)
    assert early.raw == 0.0 and early.windows == 0


def test_normalisation_null_is_zero_and_perfect_is_a_hundred():
    windows = [(20, 29), (40, 59), (70, 79)]
    for profile in PROFILES.values():
        null = score_file(detections(), windows, profile)
        perfect = score_file(detections(20, 40, 70), windows, profile)
        assert normalise(null.raw, 3, profile) == pytest.approx(0.0)
        assert normalise(perfect.raw, 3, profile) == pytest.approx(100.0)
    # standard: one window found at its first row, two missed: (-1 - (-3)) / (3 - (-3)) = 33.3
    assert normalise(score_file(detections(40), windows, STD).raw, 3, STD) == pytest.approx(100 / 3)


def brute_force(files, profile):
    """The sweep by its definition: every distinct score as threshold, each file scored with score_file."""
    windows_total = sum(len(w) for _, w in files)
    best = normalise(-profile.fn * windows_total, windows_total, profile)
    for threshold in sorted({s for scores, _ in files for s in scores}):
        raw = sum(score_file([s >= threshold for s in scores], w, profile).raw for scores, w in files)
        best = max(best, normalise(raw, windows_total, profile))
    return best


def test_the_threshold_sweep_finds_the_best_single_threshold_for_the_corpus():
    # file A: a strong score at the window's start, a weaker false positive; file B: its window only weakly
    a = [0.0] * N
    a[40], a[80] = 0.9, 0.6
    b = [0.0] * N
    b[50], b[20] = 0.5, 0.55
    files = [(a, [(40, 59)]), (b, [(45, 64)])]
    score, threshold = sweep(files, STD)
    # at 0.9 only A's window: (1 - 1) - (-2) over 4 = 50; down to 0.5 B's window (row 50 of 45..64, 0.65)
    # comes in but with two false positives (0.6 after A's window, 0.55 before B's window)
    b_hit = math.tanh(2.5 * (64 - 50 + 1) / 20) / math.tanh(2.5)
    with_b = 1 + b_hit - 0.11 * math.tanh(2.5 * 21 / 19) - 0.11
    assert threshold == 0.5 and score == pytest.approx(100 * (with_b + 2) / 4)
    assert score == pytest.approx(brute_force(files, STD))


def test_the_sweep_agrees_with_scoring_every_threshold_on_random_files():
    rng = random.Random(7)
    for _ in range(20):
        files = []
        for _ in range(3):
            scores = [round(rng.random() ** 4, 2) for _ in range(N)]
            start = rng.randrange(15, 80)
            files.append((scores, [(start, start + rng.randrange(3, 20))]))
        for profile in PROFILES.values():
            assert sweep(files, profile)[0] == pytest.approx(brute_force(files, profile))


def test_bench_prints_three_scores_on_a_folder(tmp_path):
    import json
    import subprocess

    series = tmp_path / "realTiny"
    series.mkdir()
    rows = ["timestamp,value"]
    for i in range(24 * 12):
        day, hour = divmod(i, 24)
        value = 5 + (3 if 9 <= hour <= 18 else 0) + (i % 3) + (60 if i == 24 * 9 + 4 else 0)
        rows.append(f"2015-03-{1 + day:02d} {hour:02d}:00:00,{value}")
    (series / "one.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "windows.json").write_text(json.dumps(
        {"realTiny/one.csv": [["2015-03-09 20:00:00.000000", "2015-03-10 12:00:00.000000"]]}))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "bench" / "bench_nab.py"),
                             str(tmp_path), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert profile in result.stdout
    assert "TP 1/1" in result.stdout
    written = (out / "realTiny" / "one.csv").read_text().splitlines()
    assert written[0] == "timestamp,value,anomaly_score,alert" and len(written) == 24 * 12 + 1
    assert sum(int(line.rsplit(",", 1)[1]) for line in written[1:]) >= 1

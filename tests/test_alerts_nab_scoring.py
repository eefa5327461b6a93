"""NAB scoring (bench/nab_scoring.py) on tiny hand-made files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from nab_scoring import MAX_TP, PROFILES, normalise, probation_length, scaled_sigmoid, score_file  # noqa: E402

STD = PROFILES["standard"]
N = 100  # rows; probation = 15


def detections(*rows: int) -> list[bool]:
    return [i in rows for i in range(N)]


def test_sigmoid_shape():
    assert scaled_sigmoid(-1.0) == pytest.approx(MAX_TP)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0
    assert probation_length(100) == 15 and probation_length(100_000) == 750


def test_detection_at_window_start_is_worth_the_tp_weight_and_later_less():
    windows = [(40, 59)]
    assert score_file(detections(40), windows, STD).raw == pytest.approx(1.0)
    middle = score_file(detections(50), windows, STD).raw
    late = score_file(detections(59), windows, STD).raw
    assert 1.0 > middle > late > 0


def test_only_the_first_detection_in_a_window_counts():
    windows = [(40, 59)]
    assert score_file(detections(45, 46, 50), windows, STD).raw == score_file(detections(45), windows, STD).raw


def test_miss_false_positives_and_probation():
    windows = [(40, 59)]
    assert score_file(detections(), windows, STD).raw == pytest.approx(-1.0)
    before = score_file(detections(20), windows, STD)
    assert before.raw == pytest.approx(-1.0 - STD.fp) and before.fp == 1
    assert score_file(detections(5), windows, STD).raw == pytest.approx(-1.0)  # in probation: ignored
    just_after = score_file(detections(40, 61), windows, STD).raw - 1.0
    far_after = score_file(detections(40, 99), windows, STD).raw - 1.0
    assert -STD.fp < far_after < just_after < 0


def test_normalisation_null_zero_perfect_hundred():
    assert normalise(-3.0, 3, STD) == pytest.approx(0.0)
    assert normalise(3.0, 3, STD) == pytest.approx(100.0)
    low_fn = PROFILES["reward_low_FN_rate"]
    assert normalise(score_file(detections(), [(40, 59)], low_fn).raw, 1, low_fn) == pytest.approx(0.0)


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

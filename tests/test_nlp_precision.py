"""`auto` precision: bf16 only where the CPU does it natively, int8 only where the heads' check allows it."""

from __future__ import annotations

import json

import pytest

from listener.nlp.encoder import precision_choice
from listener.nlp.heads import int8_within_a_point

EPYC = frozenset({"sse4_2", "avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
SAPPHIRE = frozenset({"avx512f", "amx_tile", "amx_bf16", "amx_int8"})
SKYLAKE = frozenset({"avx2", "avx512f", "avx512_vnni"})


def test_auto_picks_bf16_where_native_and_says_why():
    assert precision_choice("auto", EPYC, int8_ok=False) == ("bf16", "auto: the CPU does bf16 natively (avx512_bf16)")
    assert precision_choice("auto", SAPPHIRE, int8_ok=False)[0] == "bf16"


def test_auto_never_picks_emulated_bf16():
    choice, why = precision_choice("auto", SKYLAKE, int8_ok=False)
    assert choice == "fp32" and "emulated" in why
    assert precision_choice("auto", SKYLAKE, int8_ok=True)[0] == "int8"


def test_explicit_precision_and_bad_value():
    assert precision_choice("INT8", EPYC)[0] == "int8"
    with pytest.raises(ValueError, match="LISTENER_PRECISION"):
        precision_choice("fp16", EPYC)


def _card(tmp_path, fp32, int8):
    (tmp_path / "heads.json").write_text(json.dumps({
        "precision_check": {"fp32": {"sets": fp32}, "int8": {"sets": int8}}}))
    return tmp_path


def test_int8_allowed_only_within_a_point_on_every_set(tmp_path):
    fp32 = {"a": {"accuracy": 0.90, "macro_recall": 0.80}, "b": {"accuracy": 0.70, "macro_recall": 0.70}}
    close = {"a": {"accuracy": 0.895, "macro_recall": 0.795}, "b": {"accuracy": 0.70, "macro_recall": 0.71}}
    one_set_off = dict(close, b={"accuracy": 0.68, "macro_recall": 0.70})
    assert int8_within_a_point(_card(tmp_path, fp32, close))
    assert not int8_within_a_point(_card(tmp_path, fp32, one_set_off))
    assert not int8_within_a_point(_card(tmp_path, fp32, {"a": close["a"]}))  # a set not checked
    assert not int8_within_a_point(tmp_path / "missing")


@pytest.mark.model
def test_int8_scores_with_the_bundled_branch_close_to_fp32():
    # the int8 encoder's packed weights are not the fp32 layers the branch's differences are stored against;
    # the branch is rebuilt from the converted fp32 file, so int8 still scores with it (it once crashed)
    import numpy as np

    from listener.nlp import load_scorer

    texts = ["Support never answered and the app crashes on every transfer.",
             "برنامه عالیه، انتقال پول خیلی سریع انجام شد",
             "Our office is closed on Friday."]
    fp32 = np.array([p.probabilities for p in load_scorer(precision="fp32").predict(texts)])
    int8_scorer = load_scorer(precision="int8")
    assert int8_scorer.branch is not None
    int8 = np.array([p.probabilities for p in int8_scorer.predict(texts)])
    assert np.allclose(int8.sum(1), 1.0, atol=1e-3)
    assert (int8.argmax(1) == fp32.argmax(1)).all() and np.abs(int8 - fp32).max() < 0.25

"""`auto` precision: bf16 only where the CPU does it natively, int8 only where the heads' check allows it."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_int8_must_keep_topics_within_a_point_too(tmp_path):
    # topics are decided on the base embedding, which int8 changes most: sentiment alone must not let it in
    fp32 = {"a": {"accuracy": 0.90, "macro_recall": 0.80, "topic_micro_f1": 0.75}}
    same_sentiment_worse_topics = {"a": {"accuracy": 0.90, "macro_recall": 0.80, "topic_micro_f1": 0.70}}
    assert not int8_within_a_point(_card(tmp_path, fp32, same_sentiment_worse_topics))
    assert int8_within_a_point(_card(tmp_path, fp32, {"a": dict(fp32["a"], topic_micro_f1=0.745)}))


def test_a_check_of_the_head_alone_does_not_speak_for_a_branch(tmp_path):
    from listener.nlp.branch import BRANCH_CARD

    fp32 = {"a": {"accuracy": 0.90, "macro_recall": 0.80}}
    folder = _card(tmp_path, fp32, fp32)
    assert int8_within_a_point(folder)  # no branch: the head is what scores
    (folder / BRANCH_CARD).write_text("{}")
    assert not int8_within_a_point(folder)  # the branch scores, and the check never ran it
    card = json.loads((folder / "heads.json").read_text())
    card["precision_check"]["scoring"] = "branch"
    (folder / "heads.json").write_text(json.dumps(card))
    assert int8_within_a_point(folder)


def test_check_sample_is_fixed_capped_per_set_and_keeps_every_label():
    from listener.nlp.data import Example
    from listener.nlp.precision_check import check_sample

    dev = [Example(f"{s} text {i}", ("negative", "neutral", "positive")[i % 3], "en", set=s)
           for s in ("big", "small") for i in range(300 if s == "big" else 12)]
    first, again = check_sample(dev, per_set=30), check_sample(list(dev), per_set=30)
    assert [e.text for e in first] == [e.text for e in again]  # a fixed seed: the same lines every run
    assert [e.text for e in first] != [e.text for e in dev if e.set == "big"][:30]  # a sample, not the head
    by_set = {s: [e for e in first if e.set == s] for s in ("big", "small")}
    assert len(by_set["big"]) == 30 and len(by_set["small"]) == 12
    assert {e.label for e in by_set["big"]} == {"negative", "neutral", "positive"}


def test_the_card_shows_the_check_of_what_scores():
    from listener.nlp.card import render_numbers

    block = {"n": 10, "accuracy": 0.9, "macro_recall": 0.8, "topic_micro_f1": 0.7}
    check = {"scoring": "branch", "lines": 10, "per_set": 400, "checked_at": "2026-12-03T17:00:00+00:00",
             "skipped": {"bf16": "not checked: emulated on this CPU"},
             "fp32": {"sets": {"a": block}, "all": block}, "int8": {"sets": {"a": dict(block, accuracy=0.85)}, "all": block}}
    text = render_numbers({"precision_check": check})
    assert "the fine-tuned sentiment branch, as they score" in text
    assert "| set | fp32 | int8 |" in text and "| a | 0.900 / 0.800 / 0.700 | 0.850 / 0.800 / 0.700 |" in text
    assert "bf16: not checked: emulated on this CPU." in text and "scoring |" not in text


@pytest.mark.model
def test_check_precision_scores_the_branch_at_each_precision_and_keeps_it(tmp_path):
    """`listener model check-precision` on a copy of the bundled heads: the numbers are those of the scoring
    path (fp32 equals `model eval` with the same heads), and `auto`'s rule reads them back."""
    import shutil

    from typer.testing import CliRunner

    from listener.cli import app
    from listener.nlp.evaluate import evaluate_file
    from listener.nlp.heads import BUNDLED_HEADS
    from listener.nlp import load_scorer

    heads = tmp_path / "heads"
    shutil.copytree(BUNDLED_HEADS, heads)
    lines = [("The transfer failed twice and support never answered.", "negative"),
             ("Our office is closed on Friday for the holiday.", "neutral"),
             ("Love the new card design, delivery was quick!", "positive"),
             ("اپلیکیشن خیلی کند شده و هر بار پرداخت خطا میده", "negative"),
             ("شعبه مرکزی از ساعت ۹ صبح باز است", "neutral"),
             ("التطبيق ممتاز والتحويل سريع جدا", "positive")] * 2
    data = tmp_path / "dev.jsonl"
    rows = [{"text": t, "label": y, "set": "latin" if t.isascii() else "other", "split": "dev"} for t, y in lines]
    rows += [dict(r, text=r["text"] + " (train)", split="train") for r in rows[:6]]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(app, ["model", "check-precision", "--heads", str(heads), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    stored = json.loads((heads / "heads.json").read_text())["precision_check"]
    assert said["scoring"] == stored["scoring"] == "branch" and stored["lines"] == len(lines)
    assert {"fp32", "int8"} <= set(stored) and stored["fp32"]["sets"]["latin"]["n"] == 6
    dev = tmp_path / "dev_only.jsonl"
    dev.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:len(lines)]), encoding="utf-8")
    direct = evaluate_file(dev, load_scorer(precision="fp32", heads=heads))
    for name in ("latin", "other"):
        assert stored["fp32"]["sets"][name]["accuracy"] == pytest.approx(direct["sets"][name]["accuracy"])
    assert said["int8_within_a_point"] == int8_within_a_point(heads)
    assert said["int8_reason"].startswith("int8 stays" if said["int8_within_a_point"] else "int8 loses")


def test_the_int8_verdict_says_which_set_and_number_kept_it_out(tmp_path):
    from listener.nlp.heads import int8_check

    assert int8_check(tmp_path) == (False, "no heads.json to read a precision check from")
    fp32 = {"astd": {"accuracy": 0.70, "macro_recall": 0.65, "topic_micro_f1": None}}
    ok, why = int8_check(_card(tmp_path, fp32, {"astd": {"accuracy": 0.70, "macro_recall": 0.60}}))
    assert not ok and why == "int8 loses more than a point on astd (macro recall 0.650 -> 0.600)"
    (tmp_path / "heads.json").write_text(json.dumps({"precision_check": {}}))
    assert "never checked" in int8_check(tmp_path)[1]


def test_model_train_checks_precision_last_on_what_it_wrote(tmp_path, monkeypatch):
    """The check runs after the branch is trained (it must see what scores) and lands in the heads folder
    that training wrote; the training steps themselves are replaced (they take the real encoder and an hour)."""
    import shutil

    from typer.testing import CliRunner

    import listener.nlp.finetune as finetune_module
    import listener.nlp.precision_check as check_module
    import listener.nlp.train as train_module
    from listener.cli import app
    from listener.nlp.heads import BUNDLED_HEADS

    heads = tmp_path / "h"
    shutil.copytree(BUNDLED_HEADS, heads)
    steps = []
    monkeypatch.setattr(train_module, "run_training", lambda **kw: steps.append("heads") or
                        {"heads": str(heads), "train": 1, "bad_lines": []})
    monkeypatch.setattr(finetune_module, "run_finetune", lambda *a, **kw: steps.append("branch") or {})
    import listener.nlp.lexical_train as lexical_module

    def fake_lexical(files, folder, **kw):
        steps.append("lexical")
        (Path(folder) / "lexical.npz").write_bytes(b"")
        return {"lexical": str(Path(folder) / "lexical.npz"), "shares": {}, "fit_lines": 0, "tuning_lines": 0}

    monkeypatch.setattr(lexical_module, "run_lexical", fake_lexical)

    def fake_check(folder, dev, **kw):
        steps.append(("check", str(folder), len(dev) > 0))
        return {"scoring": "branch", "lines": len(dev), "fp32": {"sets": {}}, "int8": {"sets": {}}}

    monkeypatch.setattr(check_module, "run_precision_check", fake_check)
    result = CliRunner().invoke(app, ["model", "train", "-o", str(heads), "--json"])
    assert result.exit_code == 0, result.output
    assert steps == ["heads", "branch", "lexical", ("check", str(heads), True)]
    assert json.loads((heads / "heads.json").read_text())["precision_check"]["scoring"] == "branch"
    steps.clear()
    result = CliRunner().invoke(app, ["model", "train", "-o", str(heads), "--no-precision-check", "--json"])
    assert result.exit_code == 0 and steps == ["heads", "branch", "lexical"]
    steps.clear()  # n-gram shares chosen for other heads must not stay beside new ones
    result = CliRunner().invoke(app, ["model", "train", "-o", str(heads), "--no-precision-check", "--no-lexical",
                                      "--json"])
    assert result.exit_code == 0 and steps == ["heads", "branch"] and not (heads / "lexical.npz").exists()


def test_auto_reads_the_int8_check_of_the_heads_that_will_score(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import listener.nlp.encoder as encoder_module
    from listener.cli import app

    fp32 = {"a": {"accuracy": 0.90, "macro_recall": 0.80}}
    (tmp_path / "checked").mkdir()
    folder = _card(tmp_path / "checked", fp32, fp32)  # int8 within a point, and no branch to have missed
    assert precision_choice("auto", SKYLAKE, heads=folder)[0] == "int8"
    assert precision_choice("auto", SKYLAKE, heads=tmp_path / "unchecked")[0] == "fp32"
    monkeypatch.setattr(encoder_module, "cpu_flags", lambda: SKYLAKE)  # a CPU without native bf16
    result = CliRunner().invoke(app, ["model", "info", "--heads", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)
    assert said["precision"] == "int8" and "within one point" in said["precision_reason"]

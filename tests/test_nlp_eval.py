"""`listener model eval` and rescoring, on a scripted scorer (fast), and the CLI on the real model."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from listener.model import Mention, Sentiment
from listener.nlp.evaluate import evaluate_file
from listener.nlp.scorer import Prediction

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


class ScriptedScorer:
    """Predicts from words in the text: 'bad' negative, 'meh' neutral (but leaning positive), else positive."""

    languages = frozenset({"en", "fa", "ar"})
    topic_labels = ["payments", "pricing"]

    class encoder:
        name = "scripted"

    def predict(self, texts, langs=None):
        out = []
        for t in texts:
            p = ([0.8, 0.1, 0.1] if "bad" in t else [0.1, 0.6, 0.3] if "meh" in t
                 else [0.35, 0.2, 0.45] if "torn" in t else [0.1, 0.1, 0.8])
            out.append(Prediction(np.array(p), ["payments"] if "pay" in t else [], {}))
        return out

    def score(self, mentions):
        for m in mentions:
            if m.lang in self.languages:
                m.sentiment = self.predict([m.text])[0].sentiment
                m.topics = self.predict([m.text])[0].topics
            else:
                m.sentiment = None


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows))
    return path


def test_three_class_per_language_with_bad_lines(tmp_path):
    path = write(tmp_path / "e.jsonl", [
        {"text": "bad pay", "label": "negative", "lang": "en", "topics": ["payments"]},
        {"text": "good", "label": "positive", "lang": "en", "topics": []},
        {"text": "meh", "label": "neutral", "lang": "en", "extra": 1},
        {"text": "bad", "label": "positive", "lang": "fa"},
        "{not json",
        {"text": "x", "label": "great"},
        {"label": "negative"},
        {"text": "schlecht bad", "label": "negative", "lang": "de"},
    ])
    r = evaluate_file(path, ScriptedScorer())
    assert [b["line"] for b in r["bad_lines"]] == [5, 6, 7]
    assert r["bad_line_summary"] == {"not JSON": 1, "bad 'label'": 1, "bad 'text'": 1}
    assert not r["two_class"] and r["unscored"] == {"de": 1}
    en, fa, de = r["languages"]["en"], r["languages"]["fa"], r["languages"]["de"]
    assert en["n"] == 3 and en["accuracy"] == 1.0 and en["macro_f1"] == 1.0 and en["macro_recall"] == 1.0
    assert en["topics"]["micro_f1"] == 1.0
    assert fa["accuracy"] == 0.0
    # fa has only a positive line, predicted negative: neutral (absent from both sides) is left out of the
    # macro averages, so macro-recall is the mean over negative (0, predicted but never true) and positive (0)
    assert fa["macro_recall"] == 0.0 and "neutral" not in [c for c, m in fa["per_class"].items()
                                                             if m["support"] or m["precision"]]
    assert fa["two_class"] and fa["confusion"]["rows_true_columns_predicted"] == [[0, 0], [1, 0]]  # no neutral
    # the unscored German line stays in the denominators, as a miss in its own column
    assert de["n"] == 1 and de["unscored"] == 1 and de["accuracy"] == 0.0
    assert de["confusion"]["columns"][-1] == "unscored"
    assert r["lines"] == 5 and r["scored"] == 4 and r["all"]["n"] == 5 and r["all"]["accuracy"] == 0.6


def test_macro_averages_skip_classes_absent_from_both_sides(tmp_path):
    path = write(tmp_path / "m.jsonl", [{"text": "bad", "label": "negative", "lang": "en"},
                                        {"text": "meh", "label": "neutral", "lang": "en"},
                                        {"text": "meh too", "label": "neutral", "lang": "en"}])
    r = evaluate_file(path, ScriptedScorer())["all"]
    assert r["per_class"]["positive"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["macro_recall"] == 1.0 and r["macro_f1"] == 1.0  # positive: no true and no predicted line


def test_sets_mixed_and_positive_negative(tmp_path):
    path = write(tmp_path / "s.jsonl", [
        {"text": "bad", "label": "negative", "lang": "en", "set": "a"},
        {"text": "meh", "label": "positive", "lang": "en", "set": "a"},  # neutral 3-way, positive pos/neg
        {"text": "meh", "label": "neutral", "lang": "en", "set": "b"},
        {"text": "good but bad", "label": "mixed", "lang": "en", "set": "b"}])
    r = evaluate_file(path, ScriptedScorer())
    # set a has no neutral line: binary data, decided between negative and positive ('meh' leans positive)
    assert set(r["sets"]) == {"a", "b"} and r["sets"]["a"]["two_class"] and r["sets"]["a"]["accuracy"] == 1.0
    assert not r["all"]["two_class"] and r["all"]["accuracy"] == 0.6667
    assert r["all"]["positive_negative"]["accuracy"] == 1.0 and r["all"]["positive_negative"]["n"] == 2
    assert r["sets"]["b"]["n"] == 1 and r["sets"]["b"]["mixed"] == {"n": 1, "predicted": {"negative": 1}}


def test_topics_per_topic_false_fire_and_unknown_gold(tmp_path):
    path = write(tmp_path / "t.jsonl", [
        {"text": "pay now", "topics": ["payments"], "lang": "en"},  # topic-only lines: no sentiment label
        {"text": "pay again", "topics": [], "lang": "en"},
        {"text": "hello", "topics": [], "lang": "en"},
        {"text": "hello", "topics": ["pricing", "card_delivery"], "lang": "en"}])
    r = evaluate_file(path, ScriptedScorer())
    t = r["all"]["topics"]
    assert r["all"]["n"] == 0 and t["n"] == 4
    assert t["per_topic"]["payments"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert t["per_topic"]["pricing"]["support"] == 1 and t["per_topic"]["pricing"]["recall"] == 0.0
    assert t["false_fire_rate"] == 0.5 and t["no_topic_lines"] == 2
    assert t["unknown_gold_topics"] == ["card_delivery"]


def test_two_class_file_never_predicts_neutral(tmp_path):
    path = write(tmp_path / "b.jsonl", [{"text": "meh but fine", "label": "positive", "lang": "en"},
                                        {"text": "bad", "label": "negative", "lang": "en"}])
    r = evaluate_file(path, ScriptedScorer())
    assert r["two_class"] and r["labels"] == ["negative", "positive"]
    assert r["languages"]["en"]["accuracy"] == 1.0  # 'meh' leans positive once neutral is out
    assert r["languages"]["en"]["confusion"]["rows_true_columns_predicted"] == [[1, 0], [0, 1]]


def test_a_mixed_line_is_scored_as_the_product_labels_it(tmp_path):
    """'torn' is most likely positive (0.45) but mixed with a close negative (0.35): the product labels it
    negative (Sentiment.from_probabilities), and eval must measure that label, not the plain argmax."""
    assert Sentiment.from_probabilities([0.35, 0.2, 0.45]).label == "negative"
    three = write(tmp_path / "t.jsonl", [{"text": "torn", "label": "negative", "lang": "en"},
                                         {"text": "meh", "label": "neutral", "lang": "en"},
                                         {"text": "good", "label": "positive", "lang": "en"}])
    assert evaluate_file(three, ScriptedScorer())["all"]["accuracy"] == 1.0
    two = write(tmp_path / "b.jsonl", [{"text": "torn", "label": "negative", "lang": "en"},
                                       {"text": "good", "label": "positive", "lang": "en"}])
    assert evaluate_file(two, ScriptedScorer())["all"]["accuracy"] == 1.0


def test_missing_lang_is_detected(tmp_path):
    path = write(tmp_path / "d.jsonl", [{"text": "پرداخت bad انجام نشد و پولم برنگشت", "label": "negative"}])
    r = evaluate_file(path, ScriptedScorer())
    assert list(r["languages"]) == ["fa"]


def test_rescore_updates_stored_mentions(sqlite_store):
    from listener.nlp.rescore import rescore

    mentions = [Mention(source="t", native_id=str(i), text=t, lang=l, published_at=T0,
                        sentiment=Sentiment(label="positive", score=0.9))
                for i, (t, l) in enumerate([("bad pay", "en"), ("good", "en"), ("schlecht", "de")] * 150)]
    sqlite_store.upsert(mentions)
    report = rescore(sqlite_store, ScriptedScorer(), batch_size=100)
    assert report.seen == 450 and report.scored == 300 and report.unscored == 150
    assert report.labels == {"negative": 150, "positive": 150, "unscored": 150}
    assert report.changed == 300  # the negatives, and the German ones now unscored
    stored = sqlite_store.get(mentions[0].id)
    assert stored.sentiment.label == "negative" and stored.topics == ["payments"]
    assert sqlite_store.get(mentions[2].id).sentiment is None


@pytest.mark.model
def test_cli_eval_json(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_PRECISION", "fp32")  # share the encoder the other model tests loaded
    from typer.testing import CliRunner

    from listener.cli import app

    path = write(tmp_path / "e.jsonl", [
        {"text": "Worst app ever, my transfer vanished and nobody answers", "label": "negative", "lang": "en"},
        {"text": "عالیه، خیلی راضیم از سرعت انتقال", "label": "positive", "lang": "fa"},
        {"text": "oops", "label": "meh"}])
    result = CliRunner().invoke(app, ["model", "eval", str(path), "--json"])
    assert result.exit_code == 3, result.output  # metrics computed, but a line was skipped
    report = json.loads(result.stdout)
    assert report["two_class"] and report["bad_lines"][0]["line"] == 3
    assert report["all"]["accuracy"] == 1.0 and set(report["languages"]) == {"en", "fa"}


@pytest.mark.model
def test_cli_eval_table(tmp_path, monkeypatch):
    monkeypatch.setenv("LISTENER_PRECISION", "fp32")
    from typer.testing import CliRunner

    from listener.cli import app

    path = write(tmp_path / "e.jsonl", [{"text": "love it", "label": "positive", "lang": "en"},
                                        {"text": "it's ok I guess", "label": "neutral", "lang": "en"}])
    result = CliRunner().invoke(app, ["model", "eval", str(path)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "macro-recall" in result.output and "confusion matrix: en" in result.output


@pytest.mark.model
def test_cli_rescore(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from listener.cli import app
    from listener.store import open_store

    monkeypatch.setenv("LISTENER_DATA", str(tmp_path))
    monkeypatch.setenv("LISTENER_PRECISION", "fp32")
    monkeypatch.delenv("LISTENER_STORE", raising=False)
    monkeypatch.delenv("LISTENER_PROJECT", raising=False)
    with open_store(f"sqlite:///{tmp_path / 'listener.db'}") as store:
        store.upsert([Mention(source="t", native_id="1", text="the app keeps crashing, worst update ever",
                              lang="en", published_at=T0),
                      Mention(source="t", native_id="2", text="Die App ist furchtbar", lang="de", published_at=T0)])
    result = CliRunner().invoke(app, ["rescore", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["seen"] == 2 and report["scored"] == 1 and report["unscored"] == 1
    with open_store(f"sqlite:///{tmp_path / 'listener.db'}") as store:
        stored = store.get(Mention(source="t", native_id="1", text="x", published_at=T0).id)
        assert stored.sentiment.label == "negative" and "app_performance" in stored.topics


def test_rescore_keeps_topics_the_scorer_does_not_know(sqlite_store):
    from listener.nlp.rescore import rescore

    mention = Mention(source="t", native_id="p", text="bad pay", lang="en", published_at=T0,
                      topics=["card_delivery", "pricing"])
    sqlite_store.upsert([mention])
    report = rescore(sqlite_store, ScriptedScorer())
    stored = sqlite_store.get(mention.id)
    # pricing is the scorer's to judge (and it says no); card_delivery is a project topic it cannot judge
    assert stored.topics == ["payments", "card_delivery"] and report.kept_topics == {"card_delivery": 1}

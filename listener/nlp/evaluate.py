"""Evaluate a scorer on labelled examples: accuracy, macro-F1 and a confusion matrix per language.

Used by `listener model eval FILE.jsonl` and by training (on the held-apart eval split). A file without a
single `neutral` label is scored two-class: the prediction is the larger of negative and positive, so
binary review data is not penalised for neutral predictions it cannot contain. Topic micro-F1 is reported
when lines carry `topics`, over the topics the scorer knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from listener.model import SENTIMENT_LABELS
from listener.nlp.data import Example, read_labelled

ALL = "all"


def _language(example: Example) -> str | None:
    from listener.nlp.scorer import language_code

    if example.lang:
        return language_code(example.lang)
    from listener.text import detect_language

    return language_code(detect_language(example.text))


def _metrics(y: np.ndarray, pred: np.ndarray, classes: Sequence[int]) -> dict:
    confusion = [[int(np.sum((y == a) & (pred == b))) for b in classes] for a in classes]
    f1s = {}
    for c in classes:
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        f1s[SENTIMENT_LABELS[c]] = round(float(2 * tp / max(2 * tp + fp + fn, 1)), 4)
    return {
        "n": int(len(y)),
        "accuracy": round(float(np.mean(y == pred)), 4) if len(y) else None,
        "macro_f1": round(float(np.mean(list(f1s.values()))), 4) if len(y) else None,
        "f1": f1s,
        "confusion": {"labels": [SENTIMENT_LABELS[c] for c in classes], "rows_true_columns_predicted": confusion},
    }


def _topic_f1(truth: list[set[str]], predicted: list[set[str]], known: set[str]) -> dict:
    tp = fp = fn = 0
    for t, p in zip(truth, predicted):
        t, p = t & known, p & known
        tp += len(t & p)
        fp += len(p - t)
        fn += len(t - p)
    return {"n": len(truth), "micro_f1": round(2 * tp / max(2 * tp + fp + fn, 1), 4),
            "precision": round(tp / max(tp + fp, 1), 4), "recall": round(tp / max(tp + fn, 1), 4)}


def evaluate_examples(examples: Sequence[Example], scorer, languages: Iterable[str] | None = ()) -> dict:
    """Metrics per language and overall. `languages`: which languages to score; () = the scorer's supported
    set (others are counted as unscored), None = every language (training's own evaluation)."""
    two_class = not any(e.label == "neutral" for e in examples)
    classes = [0, 2] if two_class else [0, 1, 2]
    allowed = scorer.languages if languages == () else (set(languages) if languages is not None else None)
    langs = [_language(e) for e in examples]
    chosen = [i for i, l in enumerate(langs) if allowed is None or l in allowed]
    unscored: dict[str, int] = {}
    for i, l in enumerate(langs):
        if allowed is not None and l not in allowed:
            unscored[l or "unknown"] = unscored.get(l or "unknown", 0) + 1
    preds = scorer.predict([examples[i].text for i in chosen])
    probs = np.array([p.probabilities for p in preds]).reshape(len(preds), 3)
    pred = np.array(classes)[np.argmax(probs[:, classes], axis=1)] if len(preds) else np.zeros(0, dtype=int)
    y = np.array([SENTIMENT_LABELS.index(examples[i].label) for i in chosen], dtype=int)
    chosen_langs = np.array([langs[i] or "unknown" for i in chosen])
    known = set(scorer.topic_labels)

    def block(mask: np.ndarray) -> dict:
        out = _metrics(y[mask], pred[mask], classes)
        with_topics = [k for k, i in enumerate(chosen) if mask[k] and examples[i].topics is not None]
        if with_topics:
            out["topics"] = _topic_f1([set(examples[chosen[k]].topics or ()) for k in with_topics],
                                      [set(preds[k].topics) for k in with_topics], known)
        return out

    report = {
        "two_class": two_class,
        "labels": [SENTIMENT_LABELS[c] for c in classes],
        "scored": len(chosen),
        "unscored": unscored,
        "languages": {l: block(chosen_langs == l) for l in sorted(set(chosen_langs))},
    }
    report[ALL] = block(np.ones(len(chosen), dtype=bool))
    return report


def evaluate_file(path: str | Path, scorer) -> dict:
    data = read_labelled([path])
    report = evaluate_examples(data.examples, scorer) if data.examples else {"scored": 0, "languages": {}}
    report["file"] = str(path)
    report["bad_lines"] = [{"line": n, "error": e} for _, n, e in data.bad_lines]
    report["model"] = getattr(scorer.encoder, "name", "")
    return report

"""Evaluate a scorer on labelled examples: sentiment and topic metrics per language, per set and overall.

Used by `listener model eval FILE.jsonl` and by training (on the dev splits). What is reported, and why:
- sentiment: accuracy, macro-recall (TweetEval's official measure), macro-F1, per-class precision / recall /
  F1 / support and a confusion matrix. A class with no true and no predicted line is left out of the macro
  averages (it would add a free 0 or 1). A file, set or language without a single `neutral` label is binary
  data and scored two-class. Predictions are the label the product gives a mention
  (`Sentiment.from_probabilities`: a mixed mention is negative unless positive clearly leads); a two-class
  decision keeps that label when it is negative or positive and takes the likelier of the two when it is
  neutral. A three-class block also gets `positive_negative`: the same lines without the neutral ones,
  decided between negative and positive only.
- lines the scorer leaves unscored (a language it does not cover) stay in the denominators as misses, in an
  extra `unscored` column of the confusion matrix, and are counted per language: a model that skips hard
  lines cannot look better for it.
- `mixed` lines (praise and complaint) are not in the 3-way metrics; what they were predicted as is reported.
- topics (lines with a `topics` field, also without a sentiment label): micro and macro precision / recall /
  F1, per-topic numbers with support, the false-fire rate on lines about none of the scorer's topics (gold
  `[]`, or only topics it does not know), and the gold topics the scorer does not know (they are left out of
  the scores and named in a warning).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from listener.model import SENTIMENT_LABELS, Sentiment
from listener.nlp.data import MIXED, Example, read_labelled

ALL = "all"
UNSCORED = -1


def _language(example: Example) -> str | None:
    from listener.nlp.scorer import language_code

    if example.lang:
        return language_code(example.lang)
    from listener.text import detect_language

    return language_code(detect_language(example.text))


def _ratio(a: float, b: float) -> float:
    return round(float(a / b), 4) if b else 0.0


def sentiment_metrics(y: np.ndarray, pred: np.ndarray, classes: Sequence[int]) -> dict:
    """y: true class indices; pred: predicted indices, UNSCORED (-1) for lines left unscored."""
    per_class, recalls, f1s = {}, [], []
    for c in classes:
        tp = int(np.sum((pred == c) & (y == c)))
        support, predicted = int(np.sum(y == c)), int(np.sum(pred == c))
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * tp, support + predicted)
        per_class[SENTIMENT_LABELS[c]] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or predicted:  # a class absent from both sides says nothing about the model
            recalls.append(recall)
            f1s.append(f1)
    columns = list(classes) + ([UNSCORED] if np.any(pred == UNSCORED) else [])
    confusion = [[int(np.sum((y == a) & (pred == b))) for b in columns] for a in classes]
    n = int(len(y))
    return {
        "n": n,
        "unscored": int(np.sum(pred == UNSCORED)),
        "accuracy": _ratio(np.sum(y == pred), n) if n else None,
        "macro_recall": round(float(np.mean(recalls)), 4) if recalls else None,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "f1": {label: m["f1"] for label, m in per_class.items()},
        "per_class": per_class,
        "confusion": {"labels": [SENTIMENT_LABELS[c] for c in classes],
                      "columns": [SENTIMENT_LABELS[c] if c != UNSCORED else "unscored" for c in columns],
                      "rows_true_columns_predicted": confusion},
    }


def topic_metrics(truth: Sequence[set[str]], predicted: Sequence[set[str]], known: set[str]) -> dict:
    """Multi-label topic metrics over the topics the scorer knows; see the module docstring."""
    unknown = sorted({t for gold in truth for t in gold} - known)
    labels = sorted({t for gold in truth for t in gold} & known | {t for p in predicted for t in p} & known)
    per_topic, f1s = {}, []
    tp_all = fp_all = fn_all = 0
    for label in labels:
        tp = sum(label in t and label in p for t, p in zip(truth, predicted))
        fp = sum(label not in t and label in p for t, p in zip(truth, predicted))
        fn = sum(label in t and label not in p for t, p in zip(truth, predicted))
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
        per_topic[label] = {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "f1": f1,
                            "support": tp + fn}
        f1s.append(f1)
    # a line whose gold topics are all unknown to the scorer is, for this scorer, a line about none of its topics
    empty = [p & known for t, p in zip(truth, predicted) if not t & known]
    return {
        "n": len(truth),
        "micro_f1": _ratio(2 * tp_all, 2 * tp_all + fp_all + fn_all),
        "precision": _ratio(tp_all, tp_all + fp_all),
        "recall": _ratio(tp_all, tp_all + fn_all),
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "per_topic": per_topic,
        "no_topic_lines": len(empty),
        "false_fire_rate": _ratio(sum(bool(p) for p in empty), len(empty)) if empty else None,
        "unknown_gold_topics": unknown,
    }


def _predict(scorer, texts: list[str], embeddings: np.ndarray | None, cache: bool, langs: list[str]):
    # a fine-tuned branch needs the forward pass anyway (cached embeddings cannot give its sentiment)
    if embeddings is None and cache and getattr(scorer, "classifier", True) is None \
            and getattr(scorer, "branch", None) is None:
        from listener.nlp.embcache import cached_embed
        from listener.nlp.scorer import MAX_CHARS

        embeddings = cached_embed(scorer.encoder, [t[:MAX_CHARS] for t in texts])
    if embeddings is None:
        return scorer.predict(texts, langs=langs)
    return scorer.predict(texts, embeddings=embeddings, langs=langs)


def evaluate_examples(examples: Sequence[Example], scorer, languages: Iterable[str] | None = (),
                      embeddings: np.ndarray | None = None, cache: bool = False) -> dict:
    """Metrics per language, per set and overall. `languages`: which languages to score; () = the scorer's
    supported set (the others count as unscored), None = every language. `embeddings`: the examples'
    embeddings when the caller has them; `cache`: read and keep them in the on-disk embedding cache
    (a second evaluation of the same file with the same encoder and precision does not re-embed)."""
    examples = list(examples)
    sentiment_lines = [e for e in examples if e.label in SENTIMENT_LABELS]
    two_class = bool(sentiment_lines) and not any(e.label == "neutral" for e in sentiment_lines)
    classes = [0, 2] if two_class else [0, 1, 2]
    allowed = scorer.languages if languages == () else (set(languages) if languages is not None else None)
    langs = [_language(e) or "unknown" for e in examples]
    chosen = [i for i, lang in enumerate(langs) if allowed is None or lang in allowed]
    preds = _predict(scorer, [examples[i].text for i in chosen],
                     None if embeddings is None else embeddings[chosen], cache, [langs[i] for i in chosen]) \
        if chosen else []
    probs = np.full((len(examples), 3), np.nan)
    topics: list[set[str] | None] = [None] * len(examples)
    for i, p in zip(chosen, preds):
        probs[i] = p.probabilities
        topics[i] = set(p.topics)
    scored = np.zeros(len(examples), dtype=bool)
    scored[chosen] = True
    # The label a mention gets in the product (Sentiment.from_probabilities: a mixed mention is negative unless
    # positive clearly leads), so these numbers measure what users see, not a plain most-likely class.
    pred = np.full(len(examples), UNSCORED)
    for i in np.flatnonzero(scored):
        pred[i] = SENTIMENT_LABELS.index(Sentiment.from_probabilities(probs[i]).label)
    # Between negative and positive only: the product's label where it is one of them, else the likelier one.
    binary = np.full(len(examples), UNSCORED)
    if chosen:
        likelier = np.where(probs[:, 2] >= probs[:, 0], 2, 0)
        binary[scored] = np.where(np.isin(pred[scored], (0, 2)), pred[scored], likelier[scored])
    y = np.array([e.sentiment_index if e.sentiment_index is not None else -9 for e in examples])
    known = set(scorer.topic_labels)
    lang_arr = np.array(langs)
    set_arr = np.array([e.set or "?" for e in examples])

    def block(mask: np.ndarray) -> dict:
        has_label = mask & (y >= 0)
        # a block (set, language) without a neutral line is binary data: decided between negative and positive
        binary_block = two_class or not np.any(has_label & (y == 1))
        out = sentiment_metrics(y[has_label], (binary if binary_block else pred)[has_label],
                                [0, 2] if binary_block else [0, 1, 2])
        out["two_class"] = bool(binary_block)
        if not binary_block:
            polar = has_label & (y != 1)
            out["positive_negative"] = {k: v for k, v in sentiment_metrics(y[polar], binary[polar], [0, 2]).items()
                                        if k in ("n", "accuracy", "macro_recall", "macro_f1")}
        mixed = [k for k in np.flatnonzero(mask) if examples[k].label == MIXED]
        if mixed:
            counts = Counter("unscored" if pred[k] == UNSCORED else SENTIMENT_LABELS[pred[k]] for k in mixed)
            out["mixed"] = {"n": len(mixed), "predicted": dict(sorted(counts.items()))}
        with_topics = [k for k in np.flatnonzero(mask) if examples[k].topics is not None]
        if with_topics:
            out["topics"] = topic_metrics([set(examples[k].topics or ()) for k in with_topics],
                                          [topics[k] or set() for k in with_topics], known)
        return out

    unscored = Counter(langs[i] for i in range(len(examples)) if not scored[i])
    report = {
        "two_class": two_class,
        "labels": [SENTIMENT_LABELS[c] for c in classes],
        "lines": len(examples),
        "scored": int(scored.sum()),
        "unscored": dict(sorted(unscored.items())),
        "languages": {lang: block(lang_arr == lang) for lang in sorted(set(langs))},
    }
    if len(set(set_arr)) > 1:
        report["sets"] = {name: dict(block(set_arr == name), lang=Counter(lang_arr[set_arr == name]).most_common(1)[0][0])
                          for name in sorted(set(set_arr))}
    report[ALL] = block(np.ones(len(examples), dtype=bool))
    return report


def headline_numbers(metrics: dict) -> dict:
    """The numbers heads.json and the model card keep, per set, per language and overall: accuracy,
    macro-recall and macro-F1, positive/negative accuracy and neutral recall where a set has them, topic
    micro-F1 where it has topics."""
    def short(m: dict) -> dict:
        keep = {k: m.get(k) for k in ("n", "accuracy", "macro_recall", "macro_f1")}
        if "positive_negative" in m:
            keep["positive_negative_accuracy"] = m["positive_negative"]["accuracy"]
        if "per_class" in m and "neutral" in m["per_class"] and m["per_class"]["neutral"]["support"]:
            keep["neutral_recall"] = m["per_class"]["neutral"]["recall"]
        if "topics" in m:
            keep["topic_micro_f1"] = m["topics"]["micro_f1"]
        return keep

    return {"sets": {k: short(v) for k, v in metrics.get("sets", {}).items()},
            "languages": {k: short(v) for k, v in metrics["languages"].items()}, "all": short(metrics["all"])}


def _kind(error: str) -> str:
    """'label' must be one of ... -> "bad 'label'"; not JSON (...) -> "not JSON": bad lines grouped by cause."""
    import re

    field = re.match(r"'(\w+)'", error)
    return f"bad '{field.group(1)}'" if field else error.split(" (")[0]


def evaluate_file(path: str | Path, scorer, cache: bool = False) -> dict:
    data = read_labelled([path])
    report = evaluate_examples(data.examples, scorer, cache=cache) if data.examples else {"lines": 0, "scored": 0,
                                                                                "unscored": {}, "languages": {}}
    report["file"] = str(path)
    report["bad_lines"] = [{"line": n, "error": e} for _, n, e in data.bad_lines]
    report["bad_line_summary"] = dict(Counter(_kind(e) for _, _, e in data.bad_lines))
    report["model"] = getattr(scorer.encoder, "name", "")
    return report

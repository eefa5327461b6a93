"""Fit the sentiment and topic heads on labelled examples (`listener model train`).

Method (MODEL_CARD.md says the same, with numbers):
- embeddings: the encoder's "query: " + text, mean-pooled, L2-normalised; features standardised, and the
  scaler folded into the weights so prediction is one matrix product;
- sentiment: multinomial logistic regression with balanced class weights, C picked by 5-fold CV (macro-F1),
  then one temperature fitted on the out-of-fold logits (minimum log-loss), so the probability of the chosen
  label is calibrated;
- topics: one logistic regression per taxonomy topic (balanced), C picked by 5-fold CV (micro-F1), and each
  topic's threshold chosen on its out-of-fold probabilities (maximum F1);
- zero-shot: the centred cosine threshold that maximises micro-F1 when the taxonomy's topics are decided from
  their descriptions alone, i.e. as if they were topics a user had just added.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from listener.model import SENTIMENT_LABELS
from listener.nlp.data import Example, TopicDef, bundled_files, load_taxonomy, read_labelled
from listener.nlp.heads import Heads, SentimentHead, TopicHead, ZeroShotCalibration, softmax, zero_shot_scores

log = logging.getLogger(__name__)

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
SEED = 13


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    return (x - mean) / std, mean, std


def _fold(coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, std: np.ndarray):
    """Weights on standardised features -> weights on raw embeddings."""
    w = coef / std
    return w.astype(np.float32), (intercept - w @ mean).astype(np.float32)


def _macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    f1s = []
    for c in range(k):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s))


def _micro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = np.sum(truth & pred)
    return float(2 * tp / max(2 * tp + np.sum(pred & ~truth) + np.sum(truth & ~pred), 1))


def _folds(y_strat: np.ndarray, n_splits: int = 5):
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED).split(y_strat, y_strat))


def fit_sentiment(x: np.ndarray, y: np.ndarray, strata: np.ndarray) -> tuple[SentimentHead, dict]:
    """y: class indices into SENTIMENT_LABELS; strata: what the CV folds keep balanced (language+label)."""
    from sklearn.linear_model import LogisticRegression

    xs, mean, std = _standardise(x)
    folds = _folds(strata)
    best = None
    for c in C_GRID:
        oof = np.zeros((len(y), 3))
        for tr, te in folds:
            clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            clf.fit(xs[tr], y[tr])
            oof[te] = clf.decision_function(xs[te])
        score = _macro_f1(y, oof.argmax(1), 3)
        if best is None or score > best[0]:
            best = (score, c, oof)
    score, c, oof = best
    temps = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    nll = [-np.mean(np.log(softmax(oof / t)[np.arange(len(y)), y] + 1e-12)) for t in temps]
    temperature = float(temps[int(np.argmin(nll))])
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(xs, y)
    w, b = _fold(clf.coef_, clf.intercept_, mean, std)
    probs = softmax(oof / temperature)
    return SentimentHead(w, b, temperature), {
        "C": c, "cv_macro_f1": round(score, 4), "temperature": round(temperature, 3),
        "cv_accuracy": round(float(np.mean(oof.argmax(1) == y)), 4),
        "cv_ece": round(expected_calibration_error(probs, y), 4),
    }


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - accuracy| over 10 confidence bins, weighted by bin size."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return float(ece)


def fit_topics(x: np.ndarray, truth: np.ndarray, labels: list[str], strata: np.ndarray) -> tuple[TopicHead, dict]:
    """truth: (n, k) booleans, one column per topic label."""
    from sklearn.linear_model import LogisticRegression

    xs, mean, std = _standardise(x)
    folds = _folds(strata)
    k = truth.shape[1]
    best = None
    for c in C_GRID:
        oof = np.zeros(truth.shape)
        for j in range(k):
            for tr, te in folds:
                clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
                clf.fit(xs[tr], truth[tr, j])
                oof[te, j] = clf.predict_proba(xs[te])[:, 1]
        score = _micro_f1(truth, oof >= 0.5)
        if best is None or score > best[0]:
            best = (score, c, oof)
    _, c, oof = best
    grid = np.linspace(0.05, 0.95, 91)
    thresholds = np.array([grid[int(np.argmax([_micro_f1(truth[:, j], oof[:, j] >= t) for t in grid]))]
                           for j in range(k)], dtype=np.float32)
    weights, biases = [], []
    for j in range(k):
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(xs, truth[:, j])
        w, b = _fold(clf.coef_, clf.intercept_, mean, std)
        weights.append(w[0])
        biases.append(b[0])
    head = TopicHead(list(labels), np.stack(weights), np.array(biases, dtype=np.float32), thresholds)
    return head, {"C": c, "cv_micro_f1": round(_micro_f1(truth, oof >= thresholds), 4),
                  "thresholds": {l: round(float(t), 3) for l, t in zip(labels, thresholds)}}


BACKGROUND_SIZE = 800


def calibrate_zero_shot(encoder, x: np.ndarray, truth: np.ndarray, taxonomy: Sequence[TopicDef]) -> tuple[
        ZeroShotCalibration, dict]:
    """The threshold on centred cosine that gives the best micro-F1 on the taxonomy from descriptions only."""
    protos = encoder.embed([t.description for t in taxonomy])
    scores = zero_shot_scores(x, protos)
    grid = np.linspace(-0.02, 0.10, 121)
    f1s = [_micro_f1(truth, scores >= t) for t in grid]
    threshold = float(grid[int(np.argmax(f1s))])
    spread = float(np.std(scores)) or 0.025
    return ZeroShotCalibration(threshold=round(threshold, 4), scale=round(2.0 / spread, 2)), {
        "threshold": round(threshold, 4), "micro_f1_on_taxonomy": round(max(f1s), 4)}


def train_heads(encoder, examples: Sequence[Example], taxonomy: Sequence[TopicDef] | None = None) -> Heads:
    """Fit every head on `examples` (all of them: pass the train split)."""
    taxonomy = list(taxonomy or load_taxonomy())
    labels = [t.label for t in taxonomy]
    x = encoder.embed([e.text for e in examples])
    y = np.array([SENTIMENT_LABELS.index(e.label) for e in examples])
    langs = np.array([e.lang or "?" for e in examples])
    strata = np.array([f"{l}:{e.label}" for l, e in zip(langs, examples)])
    sentiment, s_info = fit_sentiment(x, y, strata)
    with_topics = [i for i, e in enumerate(examples) if e.topics is not None]
    truth = np.array([[label in (examples[i].topics or ()) for label in labels] for i in with_topics], dtype=bool)
    topics, t_info = fit_topics(x[with_topics], truth, labels, strata[with_topics])
    zero_shot, z_info = calibrate_zero_shot(encoder, x[with_topics], truth, taxonomy)
    counts: dict[str, dict[str, int]] = {}
    for e in examples:
        counts.setdefault(e.lang or "?", {}).setdefault(e.label, 0)
        counts[e.lang or "?"][e.label] += 1
    card = {
        "encoder": encoder.name,
        "trained_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "train_counts": counts,
        "train_total": len(examples),
        "sentiment": s_info,
        "topics": t_info,
        "zero_shot_calibration": z_info,
    }
    # A fixed sample of the training texts' embeddings: the background each zero-shot topic's own
    # threshold is taken from (see ZeroShotCalibration).
    sample = np.random.default_rng(7).choice(len(x), size=min(BACKGROUND_SIZE, len(x)), replace=False)
    return Heads(sentiment, topics, zero_shot, card, background=x[np.sort(sample)])


def train_split(files: Sequence[str | Path] | None = None) -> tuple[list[Example], list[Example], list]:
    """(train examples, eval examples, bad lines) of the labelled files (default: the bundled ones).
    Lines without a split count as train."""
    data = read_labelled(files or bundled_files())
    train = [e for e in data.examples if (e.split or "train") == "train"]
    held = [e for e in data.examples if e.split == "eval"]
    return train, held, data.bad_lines


def train_heads_for_encoder(encoder, folder: str | Path, files: Sequence[str | Path] | None = None) -> Heads:
    train, _, _ = train_split(files)
    heads = train_heads(encoder, train)
    heads.save(folder)
    return heads


def _precision_check(model: str | None, heads: Heads, held: Sequence[Example]) -> dict:
    """The same heads on the eval split with the encoder run in bf16 and in dynamic int8: the faster paths
    are only used where they lose less than a point (see encoder.resolve_precision)."""
    import gc

    from listener.nlp.encoder import load_encoder
    from listener.nlp.evaluate import evaluate_examples
    from listener.nlp.scorer import TransformerScorer

    out = {}
    for precision in ("bf16", "int8"):
        encoder = load_encoder(model, precision=precision)
        metrics = evaluate_examples(held, TransformerScorer(encoder, heads), languages=None)
        out[precision] = {lang: {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                                 "topic_micro_f1": m.get("topics", {}).get("micro_f1")}
                          for lang, m in [*metrics["languages"].items(), ("all", metrics["all"])]}
        del encoder
        gc.collect()
    return out


def run_training(model: str | None = None, files: Sequence[str | Path] | None = None,
                 output: str | Path | None = None, precision: str | None = "fp32",
                 evaluate: bool = True, write_card: bool | None = None, check_precisions: bool = True) -> dict:
    """What `listener model train` does: fit on the train split, save, evaluate on the eval split.

    Heads for the bundled encoder go to listener/nlp/heads/ (committed), and MODEL_CARD.md's numbers are
    rewritten; heads for another encoder go to the per-user cache. Embeddings are computed in fp32 so the
    committed heads do not depend on the CPU they were trained on.
    """
    from listener.nlp import scorer as scoring
    from listener.nlp.encoder import load_encoder

    encoder = load_encoder(model, precision=precision)
    folder = Path(output) if output else scoring.heads_dir_for(encoder.name)
    train, held, bad = train_split(files)
    if not train:
        raise ValueError("no training examples (lines with split 'train' or no split)")
    heads = train_heads(encoder, train)
    report: dict = {"heads": str(folder), "train": len(train), "eval": len(held),
                    "bad_lines": [{"file": f, "line": n, "error": e} for f, n, e in bad]}
    if evaluate and held:
        from listener.nlp.evaluate import evaluate_examples

        scorer = scoring.TransformerScorer(encoder, heads)
        metrics = evaluate_examples(held, scorer, languages=None)
        heads.card["eval"] = metrics
        heads.card["eval_counts"] = {lang: m["n"] for lang, m in metrics["languages"].items()}
        report["eval"] = metrics
        if encoder.name == "multilingual-e5-small" and check_precisions:
            heads.card["precision_check"] = _precision_check(model, heads, held)
    heads.save(folder)
    scoring.forget_heads()
    report["card"] = heads.card
    if write_card is None:
        write_card = output is None and encoder.name == "multilingual-e5-small"
    if write_card:
        from listener.nlp.card import update_model_card

        update_model_card(heads.card)
    return report


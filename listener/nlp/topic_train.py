"""Fitting the taxonomy's topic heads so that they abstain, and choosing the background for project topics.

Why the gate and the false-fire budget: a tester's digital-bank queries about none of the topics (card PINs,
address changes, greetings) got a topic 76 % of the time. Each of seven one-vs-rest heads says yes now and
then on such a text, and together they almost always do. So, besides the heads:
- the training data holds lines about none of the topics (`topics: []`: greetings, thanks, praise, other
  questions, other domains, look-alikes that say "card" or "password" without being about that topic);
- one more head, the gate, learns "about any topic" against "about none" from those lines;
- thresholds and the gate are chosen on out-of-fold probabilities (5 folds): each topic's threshold for its
  best F1, then the gate's for the best micro-F1 among those whose out-of-fold false-fire rate on the
  no-topic lines stays within MAX_FALSE_FIRE.
Lines labelled only with topics outside the taxonomy (e.g. `card_delivery`) count as "about none of the
taxonomy's topics" here, and are kept out of the background (they would be wrong negatives for a project
topic like them).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from listener.nlp.heads import TopicHead

#: Regularisation grid for the topic heads (C picked by out-of-fold micro-F1).
TOPIC_C_GRID = (0.01, 0.03, 0.1)
#: At most this share of out-of-fold lines about none of the topics may get one (the target is 20 % on text
#: the heads never saw, where it is always higher than out of fold).
MAX_FALSE_FIRE = 0.12
#: Texts kept as the background of project topics (negatives of their classifiers; zero-shot thresholds).
BACKGROUND_SIZE = 3000


def _micro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = np.sum(truth & pred)
    return float(2 * tp / max(2 * tp + np.sum(pred & ~truth) + np.sum(truth & ~pred), 1))


def _lr(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000)


def _out_of_fold(xs: np.ndarray, y: np.ndarray, folds, c: float) -> np.ndarray:
    oof = np.zeros(len(y))
    for tr, te in folds:
        oof[te] = _lr(c).fit(xs[tr], y[tr]).predict_proba(xs[te])[:, 1]
    return oof


def choose_gate(truth: np.ndarray, above: np.ndarray, gate_probs: np.ndarray,
                max_false_fire: float = MAX_FALSE_FIRE) -> tuple[float, float, float]:
    """(gate threshold, out-of-fold micro-F1, false-fire rate): the best micro-F1 whose false-fire rate on
    the lines without a topic is within budget; the lowest false-fire rate when none is."""
    none = ~truth.any(axis=1)
    options = []
    for t in np.linspace(0.0, 0.95, 96):
        pred = above & (gate_probs >= t)[:, None]
        false_fire = float(pred[none].any(axis=1).mean()) if none.any() else 0.0
        options.append((false_fire <= max_false_fire, _micro_f1(truth, pred), -false_fire, float(t)))
    ok, f1, neg_ff, t = max(options, key=lambda o: (o[0], o[1] if o[0] else o[2], o[2]))
    return t, f1, -neg_ff


def fit_topics(x: np.ndarray, truth: np.ndarray, labels: list[str], strata: np.ndarray,
               folds=None) -> tuple[TopicHead, dict]:
    """truth: (n, k) booleans, one column per taxonomy topic; a row of False is a line about none of them."""
    from listener.nlp.train import _fold, _folds, _standardise

    xs, mean, std = _standardise(x)
    folds = folds or _folds(strata)
    k = truth.shape[1]
    # a topic needs a few lines with it and without it to be learned; the others never fire (and are named)
    active = [j for j in range(k) if min(truth[:, j].sum(), (~truth[:, j]).sum()) >= 5]
    best = None
    for c in TOPIC_C_GRID:
        oof = np.zeros(truth.shape)
        for j in active:
            oof[:, j] = _out_of_fold(xs, truth[:, j], folds, c)
        score = _micro_f1(truth, oof >= 0.5)
        if best is None or score > best[0]:
            best = (score, c, oof)
    _, c, oof = best
    grid = np.linspace(0.05, 0.95, 91)
    thresholds = np.array([grid[int(np.argmax([_micro_f1(truth[:, j], oof[:, j] >= t) for t in grid]))]
                           if j in active else 1.0 for j in range(k)], dtype=np.float32)
    above = oof >= thresholds
    info = {"C": c, "cv_micro_f1_without_gate": round(_micro_f1(truth, above), 4)}
    weights = np.zeros((k, x.shape[1]), dtype=np.float32)
    biases = np.full(k, -30.0, dtype=np.float32)  # an untrained topic: probability ~0, never above 1.0
    for j in active:
        clf = _lr(c).fit(xs, truth[:, j])
        weights[j], biases[j] = (v[0] for v in _fold(clf.coef_, clf.intercept_, mean, std))
    head = TopicHead(list(labels), weights, biases, thresholds)
    about_any = truth.any(axis=1)
    if min(about_any.sum(), (~about_any).sum()) >= 5:
        gate_oof = _out_of_fold(xs, about_any, folds, c)
        head.gate_threshold, f1, false_fire = choose_gate(truth, above, gate_oof)
        clf = _lr(c).fit(xs, about_any)
        w, b = _fold(clf.coef_, clf.intercept_, mean, std)
        head.gate_weight, head.gate_bias = w[0], float(b[0])
        info.update({"gate_threshold": round(head.gate_threshold, 3), "cv_micro_f1": round(f1, 4),
                     "cv_false_fire": round(false_fire, 4)})
    else:
        info["cv_micro_f1"] = info["cv_micro_f1_without_gate"]
    info.update({"thresholds": {l: round(float(t), 3) for l, t in zip(labels, thresholds)},
                 "untrained": [labels[j] for j in range(k) if j not in active],
                 "no_topic_lines": int((~about_any).sum())})
    return head, info


def background_rows(topics: Sequence[tuple[str, ...]], known: set[str], size: int = BACKGROUND_SIZE,
                    seed: int = 7) -> np.ndarray:
    """Indices of the lines kept as background: those whose topics are all taxonomy topics (or none), a fixed
    sample of at most `size`, in order."""
    safe = np.array([i for i, t in enumerate(topics) if set(t) <= known])
    if len(safe) > size:
        safe = np.sort(np.random.default_rng(seed).choice(safe, size=size, replace=False))
    return safe

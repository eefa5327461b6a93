"""Project topics with examples: a small classifier per topic, its examples against a background of other texts.

Why not cosine to the description: e5 puts any two short posts about one bank close together, so a
description full of "card" pulled in every text that merely says "card" (a tester measured precision 0.21 for
`card_delivery`). A logistic regression that sees the topic's examples (and its description) as positives and
the taxonomy's own training lines (other topics, and lines about no topic, "card" payments and stolen cards
among them) as negatives learns what sets the topic apart instead of what it shares with the brand's chatter.

The threshold is calibrated, not guessed: the negatives are scored out of fold (each fifth by a classifier
fitted without it) and the topic fires only above the `quantile` of those scores, so it fires on about
1 - quantile of texts like the background. `listener model train` picks the quantile by replaying the taxonomy
as if each topic were a new project topic with a few examples (see `calibrate_fewshot` in topic_train.py).

Fitting takes a second or two when a scorer is built for a project; nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Regularisation of the per-topic classifier (on standardised embeddings). A handful of positives against
#: thousands of negatives: strong regularisation keeps the boundary from hugging the few examples.
FEWSHOT_C = 0.05
FOLDS = 5


@dataclass
class FewShotTopic:
    """A project topic's classifier on raw embeddings: fires when x @ weight + bias >= threshold."""

    label: str
    weight: np.ndarray  # (dim,)
    bias: float
    threshold: float  # on the logit

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight + self.bias


def _fit(xs: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    # balanced: 3 positives must weigh as much as 2,000 negatives, or the classifier never says yes
    return LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit(xs, y)


def fit_fewshot(label: str, positives: np.ndarray, negatives: np.ndarray, quantile: float,
                c: float = FEWSHOT_C, seed: int = 13) -> FewShotTopic:
    """positives: embeddings of the topic's examples and description; negatives: the background."""
    topic, background_scores = fit_with_background_scores(label, positives, negatives, c, seed)
    topic.threshold = float(np.quantile(background_scores, quantile))
    return topic


def fit_with_background_scores(label: str, positives: np.ndarray, negatives: np.ndarray, c: float = FEWSHOT_C,
                               seed: int = 13) -> tuple[FewShotTopic, np.ndarray]:
    """The classifier (threshold not set) and the out-of-fold logits of the negatives."""
    x = np.vstack([positives, negatives])
    y = np.r_[np.ones(len(positives), dtype=int), np.zeros(len(negatives), dtype=int)]
    mean, std = negatives.mean(axis=0), negatives.std(axis=0) + 1e-6
    xs = (x - mean) / std
    order = np.random.default_rng(seed).permutation(len(negatives))
    oof = np.empty(len(negatives))
    for k in range(FOLDS):
        held = order[k::FOLDS]
        keep = np.ones(len(x), dtype=bool)
        keep[len(positives) + held] = False
        clf = _fit(xs[keep], y[keep], c)
        oof[held] = clf.decision_function(xs[len(positives) + held])
    clf = _fit(xs, y, c)
    w = (clf.coef_[0] / std).astype(np.float32)
    return FewShotTopic(label, w, float(clf.intercept_[0] - w @ mean), 0.0), oof

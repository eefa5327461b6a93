"""The small heads on top of the encoder: sentiment (3 classes, calibrated) and topics (multi-label).

Heads are plain arrays: weights, biases, a temperature and per-topic thresholds, saved as `.npz` (loaded with
`allow_pickle=False`, so a heads file can never run code) plus a JSON card. Prediction is numpy-only;
scikit-learn is used only to fit them (`listener.nlp.train`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from listener.model import SENTIMENT_LABELS

#: The committed heads for the bundled encoder.
BUNDLED_HEADS = Path(__file__).parent / "heads"


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


@dataclass
class SentimentHead:
    """Multinomial logistic regression with temperature scaling: p = softmax((h W^T + b) / T), where h is the
    embedding, or, with a hidden layer, h = relu(x W1^T + b1) (one small layer: a linear boundary cannot fit
    tweets, reviews and a project's own posts at once)."""

    weight: np.ndarray  # (3, dim) or (3, hidden)
    bias: np.ndarray  # (3,)
    temperature: float = 1.0
    labels: tuple[str, ...] = SENTIMENT_LABELS
    hidden_weight: np.ndarray | None = None  # (hidden, dim)
    hidden_bias: np.ndarray | None = None  # (hidden,)

    @property
    def dim(self) -> int:
        return int((self.hidden_weight if self.hidden_weight is not None else self.weight).shape[1])

    def logits(self, x: np.ndarray) -> np.ndarray:
        if self.hidden_weight is not None:
            x = np.maximum(x @ self.hidden_weight.T + self.hidden_bias, 0.0)
        return x @ self.weight.T + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 3) calibrated probabilities over negative, neutral, positive."""
        return softmax(self.logits(x) / self.temperature)


@dataclass
class TopicHead:
    """One sigmoid output per topic (on the embedding, or on one shared hidden layer), each with its own
    decision threshold, and a gate.

    The gate is one more logistic regression, "about any of the topics" against "about none of them" (learned
    from the lines labelled `topics: []`): a topic fires only when its own probability reaches its threshold
    and the gate's reaches `gate_threshold`. Seven heads that each say yes 5 % of the time on a greeting say
    yes together far more often; one head that has seen greetings, thanks and other questions says no once.
    """

    labels: list[str]
    weight: np.ndarray  # (k, dim), or (k, hidden) with a hidden layer
    bias: np.ndarray  # (k,)
    thresholds: np.ndarray  # (k,)
    gate_weight: np.ndarray | None = None  # (dim,) or (hidden,)
    gate_bias: float = 0.0
    gate_threshold: float = 0.0  # 0: no gate (heads trained before it existed)
    hidden_weight: np.ndarray | None = None  # (hidden, dim): one shared ReLU layer, as in the sentiment head
    hidden_bias: np.ndarray | None = None  # (hidden,)

    def _features(self, x: np.ndarray) -> np.ndarray:
        if self.hidden_weight is None:
            return x
        return np.maximum(x @ self.hidden_weight.T + self.hidden_bias, 0.0)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self._features(x) @ self.weight.T + self.bias)

    def gate(self, x: np.ndarray) -> np.ndarray:
        """(n,) booleans: the text is about one of the topics at all."""
        if self.gate_weight is None:
            return np.ones(len(x), dtype=bool)
        return sigmoid(self._features(x) @ self.gate_weight + self.gate_bias) >= self.gate_threshold

    def decide(self, x: np.ndarray, probs: np.ndarray | None = None) -> np.ndarray:
        """(n, k) booleans: which topics fire."""
        probs = self.predict_proba(x) if probs is None else probs
        return (probs >= self.thresholds) & self.gate(x)[:, None]

    def predict(self, x: np.ndarray) -> list[list[str]]:
        return [[self.labels[j] for j in np.flatnonzero(row)] for row in self.decide(x)]


@dataclass
class ZeroShotCalibration:
    """How a topic known only by its description (and examples) is decided.

    score = cos(text, prototype) - mean over all topics' cos(text, prototype'); the centring removes
    the large similarity every text has to every description in e5's space. A topic is assigned when
    the score is at least `threshold` (fitted on the built-in taxonomy used as if it were zero-shot).
    """

    threshold: float = 0.02
    scale: float = 40.0  # score -> probability: sigmoid(scale * (score - threshold)) for display
    # A new topic is rarer than the taxonomy's (which each cover ~10-20 % of posts), so the F1-best
    # threshold above lets it fire on ordinary chatter. Each zero-shot topic therefore also gets a
    # threshold of its own: the `background_quantile` of its scores on `background`, a sample of training
    # texts' embeddings (general brand chatter, not about the new topic).
    background_quantile: float = 0.97
    # A topic with examples is decided by a classifier instead (listener.nlp.fewshot), whose threshold is this
    # quantile of its out-of-fold scores on the background: it fires on about 1 % of texts like those.
    fewshot_quantile: float = 0.99

    def to_json(self) -> dict:
        return {"threshold": self.threshold, "scale": self.scale, "background_quantile": self.background_quantile,
                "fewshot_quantile": self.fewshot_quantile}


@dataclass
class Heads:
    sentiment: SentimentHead
    topics: TopicHead
    zero_shot: ZeroShotCalibration = field(default_factory=ZeroShotCalibration)
    card: dict = field(default_factory=dict)  # encoder name, data counts, metrics
    background: np.ndarray | None = None  # embeddings of sampled training texts (see ZeroShotCalibration)
    # The fine-tuned sentiment branch (listener.nlp.branch.Branch), when the folder has one: it then gives
    # sentiment instead of `sentiment`, which stays as the head on frozen embeddings. Loaded by the scorer
    # (it needs the encoder's config), saved by training.
    branch: object | None = None
    # The n-gram models mixed into sentiment (listener.nlp.lexical.LexicalModel), when the folder has one;
    # written by training after the branch (listener.nlp.lexical_train), loaded with the heads.
    lexical: object | None = None

    @property
    def encoder(self) -> str:
        return str(self.card.get("encoder", ""))

    @property
    def dim(self) -> int:
        return self.sentiment.dim

    def save(self, folder: str | Path, sentiment: bool = True) -> Path:
        """Write the heads; `sentiment=False` leaves sentiment.npz as it is (`listener model train --only topics`)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        hidden = {} if self.sentiment.hidden_weight is None else {
            "hidden_weight": self.sentiment.hidden_weight.astype(np.float32),
            "hidden_bias": self.sentiment.hidden_bias.astype(np.float32)}
        if sentiment:
            np.savez(folder / "sentiment.npz", weight=self.sentiment.weight.astype(np.float32),
                     bias=self.sentiment.bias.astype(np.float32),
                     temperature=np.float32(self.sentiment.temperature),
                     labels=np.array(self.sentiment.labels), **hidden)
        gate = {} if self.topics.gate_weight is None else {
            "gate_weight": self.topics.gate_weight.astype(np.float32), "gate_bias": np.float32(self.topics.gate_bias),
            "gate_threshold": np.float32(self.topics.gate_threshold)}
        if self.topics.hidden_weight is not None:
            gate.update(hidden_weight=self.topics.hidden_weight.astype(np.float32),
                        hidden_bias=self.topics.hidden_bias.astype(np.float32))
        np.savez(folder / "topics.npz", weight=self.topics.weight.astype(np.float32),
                 bias=self.topics.bias.astype(np.float32), thresholds=self.topics.thresholds.astype(np.float32),
                 labels=np.array(self.topics.labels), **gate)
        if self.background is not None:
            np.savez(folder / "background.npz", x=self.background.astype(np.float16))
        card = dict(self.card)
        card["zero_shot"] = self.zero_shot.to_json()
        (folder / "heads.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Heads":
        folder = Path(folder)
        with np.load(folder / "sentiment.npz", allow_pickle=False) as s:
            sentiment = SentimentHead(s["weight"], s["bias"], float(s["temperature"]),
                                      tuple(str(x) for x in s["labels"]),
                                      s["hidden_weight"] if "hidden_weight" in s else None,
                                      s["hidden_bias"] if "hidden_bias" in s else None)
        with np.load(folder / "topics.npz", allow_pickle=False) as t:
            topics = TopicHead([str(x) for x in t["labels"]], t["weight"], t["bias"], t["thresholds"])
            if "gate_weight" in t:
                topics.gate_weight, topics.gate_bias = t["gate_weight"], float(t["gate_bias"])
                topics.gate_threshold = float(t["gate_threshold"])
            if "hidden_weight" in t:
                topics.hidden_weight, topics.hidden_bias = t["hidden_weight"], t["hidden_bias"]
        card = json.loads((folder / "heads.json").read_text())
        zs = card.get("zero_shot") or {}
        background = None
        if (folder / "background.npz").exists():
            with np.load(folder / "background.npz", allow_pickle=False) as b:
                background = b["x"].astype(np.float32)
        from listener.nlp.lexical import LexicalModel

        return cls(sentiment, topics, ZeroShotCalibration(**zs), card, background,
                   lexical=LexicalModel.load(folder))

    @staticmethod
    def exists(folder: str | Path) -> bool:
        folder = Path(folder)
        return all((folder / name).exists() for name in ("sentiment.npz", "topics.npz", "heads.json"))


#: What int8 must keep within a point of fp32 on every checked set (listener/nlp/precision_check.py).
INT8_CHECKED = ("accuracy", "macro_recall", "topic_micro_f1")


def int8_within_a_point(folder: str | Path = BUNDLED_HEADS) -> bool:
    """True when the folder's precision check found int8 within one point of fp32 on every dev set (see
    int8_check)."""
    return int8_check(folder)[0]


def int8_check(folder: str | Path = BUNDLED_HEADS) -> tuple[bool, str]:
    """(allowed, why): int8 may stand in for fp32 when the folder's precision check found it within one point
    of fp32 on every dev set, in sentiment accuracy and macro-recall and in topic micro-F1, measured on what
    scores: a check of the head alone says nothing about a folder whose fine-tuned branch scores sentiment."""
    from listener.nlp.branch import branch_declared

    try:
        card = json.loads((Path(folder) / "heads.json").read_text())
    except (OSError, ValueError):
        return False, "no heads.json to read a precision check from"
    check = card.get("precision_check") or {}
    fp32 = (check.get("fp32") or {}).get("sets") or {}  # the same sample of dev lines as int8's
    int8 = (check.get("int8") or {}).get("sets") or {}
    if not fp32 or not int8:
        return False, "int8 was never checked against fp32 for these heads (`listener model check-precision`)"
    if branch_declared(folder) and check.get("scoring") != "branch":
        return False, ("the precision check ran the head alone, not the fine-tuned branch that scores "
                       "(`listener model check-precision`)")
    if set(fp32) != set(int8):
        return False, "the precision check did not measure int8 on every set fp32 was measured on"
    for name, ref in sorted(fp32.items()):
        for key in INT8_CHECKED:
            if ref.get(key) is not None and (int8[name].get(key) or 0) < ref[key] - 0.01:
                return False, (f"int8 loses more than a point on {name} ({key.replace('_', ' ')} "
                               f"{ref[key]:.3f} -> {int8[name].get(key) or 0:.3f})")
    return True, "int8 stays within one point of fp32 on every dev set"


def zero_shot_scores(x: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Centred cosine of each text (rows of x) to each topic prototype (rows of prototypes)."""
    sims = x @ prototypes.T
    return sims - sims.mean(axis=1, keepdims=True)

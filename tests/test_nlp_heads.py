"""The heads as plain arrays: save/load without pickle, calibrated probabilities, committed heads."""

from __future__ import annotations

import numpy as np

from listener.nlp.data import load_taxonomy
from listener.nlp.heads import BUNDLED_HEADS, Heads, SentimentHead, TopicHead, ZeroShotCalibration, zero_shot_scores


def _heads(dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return Heads(SentimentHead(rng.normal(size=(3, dim)).astype(np.float32), np.zeros(3, np.float32), 1.5),
                 TopicHead(["a", "b"], rng.normal(size=(2, dim)).astype(np.float32), np.zeros(2, np.float32),
                           np.array([0.4, 0.6], np.float32)),
                 ZeroShotCalibration(0.03, 30.0), {"encoder": "test"})


def test_round_trip(tmp_path):
    heads = _heads()
    heads.save(tmp_path)
    loaded = Heads.load(tmp_path)
    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    assert np.allclose(loaded.sentiment.predict_proba(x), heads.sentiment.predict_proba(x))
    assert loaded.topics.predict(x) == heads.topics.predict(x)
    assert loaded.zero_shot.threshold == 0.03 and loaded.encoder == "test"
    for name in ("sentiment.npz", "topics.npz"):
        np.load(tmp_path / name, allow_pickle=False).close()  # plain arrays: loadable without pickle


def test_probabilities_sum_to_one_and_temperature_softens():
    heads = _heads()
    x = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    p = heads.sentiment.predict_proba(x)
    assert np.allclose(p.sum(1), 1.0)
    sharp = SentimentHead(heads.sentiment.weight, heads.sentiment.bias, 0.5).predict_proba(x)
    assert (sharp.max(1) >= p.max(1)).all()


def test_committed_heads_cover_the_taxonomy():
    heads = Heads.load(BUNDLED_HEADS)
    assert heads.topics.labels == [t.label for t in load_taxonomy()]
    assert heads.dim == 384 and heads.encoder == "multilingual-e5-small"
    assert 0.05 <= float(heads.topics.thresholds.min()) and float(heads.topics.thresholds.max()) <= 0.95
    assert heads.card["train_total"] >= 1000 and set(heads.card["train_counts"]) >= {"en", "fa", "ar"}


def test_zero_shot_scores_are_centred():
    x = np.eye(3, dtype=np.float32)
    protos = np.eye(3, dtype=np.float32)
    s = zero_shot_scores(x, protos)
    assert np.allclose(s.sum(1), 0, atol=1e-6) and (np.argmax(s, 1) == np.arange(3)).all()


def test_a_hidden_layer_round_trips_and_is_used(tmp_path):
    rng = np.random.default_rng(3)
    head = SentimentHead(rng.normal(size=(3, 5)).astype(np.float32), np.zeros(3, np.float32), 1.0,
                         hidden_weight=rng.normal(size=(5, 8)).astype(np.float32),
                         hidden_bias=rng.normal(size=5).astype(np.float32))
    heads = _heads()
    heads.sentiment = head
    heads.save(tmp_path)
    loaded = Heads.load(tmp_path)
    x = rng.normal(size=(4, 8)).astype(np.float32)
    assert loaded.dim == 8 and np.allclose(loaded.sentiment.predict_proba(x), head.predict_proba(x))
    relu = np.maximum(x @ head.hidden_weight.T + head.hidden_bias, 0)
    assert np.allclose(head.logits(x), relu @ head.weight.T + head.bias)

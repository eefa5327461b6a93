"""Training corpora: dev splits kept or carved by seed, no leakage into train, mixed lines, the embedding cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from listener.nlp.corpus import build_corpus, labelled_files
from listener.nlp.embcache import EmbeddingCache, cached_embed


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def rows(set_name, n, split="train", labels=("negative", "neutral", "positive"), lang="en", prefix=""):
    return [{"text": f"{prefix}{set_name} text {i}", "label": labels[i % len(labels)], "lang": lang,
             "set": set_name, "split": split} for i in range(n)]


def test_own_dev_kept_single_split_carved_by_seed(tmp_path):
    write(tmp_path / "a.jsonl", rows("a", 50) + rows("a", 10, split="dev"))
    write(tmp_path / "b.jsonl", rows("b", 100))
    write(tmp_path / "c.jsonl", rows("c", 40, split="dev", labels=("negative", "positive")))
    c = build_corpus([tmp_path], max_dev=2000, dev_fraction=0.2)
    dev = {name: [e for e in c.dev if e.set == name] for name in "abc"}
    assert len(dev["a"]) == 10 and all(e.split == "dev" for e in dev["a"])
    assert c.sets["a"]["dev_from"] == "own dev split" and c.sets["b"]["dev_from"].startswith("carved: 20")
    assert len(dev["b"]) == 20 and len(dev["c"]) == 8  # carved, stratified: label shares kept
    assert sorted(e.label for e in dev["c"]).count("negative") == 4
    again = build_corpus([tmp_path / "c.jsonl", tmp_path / "b.jsonl", tmp_path / "a.jsonl"])
    assert sorted(e.text for e in again.dev) == sorted(e.text for e in c.dev)  # fixed seed, any file order
    assert not {e.text for e in c.train} & {e.text for e in c.dev}


def test_dev_text_of_one_set_never_trained_via_another(tmp_path):
    shared = [{"text": "the same tweet  TEXT", "label": "negative", "lang": "ar", "set": "x", "split": "dev"}]
    write(tmp_path / "x.jsonl", shared + rows("x", 20, lang="ar"))
    write(tmp_path / "y.jsonl", [{"text": "The same tweet text", "label": "positive", "lang": "ar", "set": "y"},
                                 {"text": "dup", "label": "negative", "set": "y"},
                                 {"text": "dup", "label": "negative", "set": "y"},
                                 {"text": "clash", "label": "negative", "set": "y"},
                                 {"text": "clash", "label": "positive", "set": "y"},
                                 {"text": "both good and bad", "label": "mixed", "set": "y"}] + rows("y", 30))
    c = build_corpus([tmp_path], dev_fraction=0.0)
    texts = [e.text for e in c.train]
    assert "The same tweet text" not in texts and texts.count("dup") == 1 and "clash" not in texts
    assert all(e.label != "mixed" for e in c.train)
    assert c.sets["y"]["dropped"] == {"in a dev split": 1, "duplicate": 1, "conflicting labels": 2, "mixed": 1}


def test_train_sampled_per_set_with_label_shares(tmp_path):
    write(tmp_path / "big.jsonl", rows("big", 1000, labels=("negative", "positive", "positive", "positive")))
    c = build_corpus([tmp_path], max_per_set=100, dev_fraction=0.1)
    assert len(c.train) == 100 and sum(e.label == "negative" for e in c.train) == 25


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        labelled_files([tmp_path / "nope.jsonl"])
    with pytest.raises(FileNotFoundError, match="no \\*.jsonl files"):
        labelled_files([tmp_path])


class CountingEncoder:
    """Deterministic fake embeddings; counts the texts it was asked to embed."""

    class info:
        name, source, precision, prefix, max_tokens = "counting", "", "fp32", "", 16

    dim = 4

    def __init__(self, fail_after=None):
        self.embedded = 0
        self.fail_after = fail_after

    def embed(self, texts):
        if self.fail_after is not None and self.embedded >= self.fail_after:
            raise KeyboardInterrupt
        self.embedded += len(texts)
        return np.array([[len(t), t.count("a"), 1.0, i % 2] for i, t in enumerate(texts)], dtype=np.float32)


def test_embedding_cache_resumes_and_never_reembeds(tmp_path):
    texts = [f"text number {i}" + "a" * i for i in range(25)]
    first = CountingEncoder(fail_after=10)
    cache = EmbeddingCache("counting|test", tmp_path)
    with pytest.raises(KeyboardInterrupt):  # interrupted after two chunks of 5
        cached_embed(first, texts, cache=cache, chunk=5)
    assert len(cache) == 10
    second = CountingEncoder()
    seen = []
    x = cached_embed(second, texts + texts[:3], cache=cache, chunk=5, progress=lambda d, t, r: seen.append(d))
    assert second.embedded == 15 and seen[0] == 13 and seen[-1] == 28  # resumed: only the rest embedded
    assert x.shape == (28, 4) and x[3, 1] == 3 and np.array_equal(x[25], x[0])
    third = CountingEncoder()
    cached_embed(third, texts, cache=cache)
    assert third.embedded == 0
    cache.close()


def test_example_weights_balance_classes_within_sets_and_sets_by_size():
    from listener.nlp.train import example_weights

    sets = ["a"] * 90 + ["b"] * 10
    y = np.array([1] * 80 + [0] * 10 + [0] * 5 + [2] * 5)
    w = example_weights(sets, y, set_power=0.0)
    a_neutral, a_negative, b = w[:80].sum(), w[80:90].sum(), w[90:].sum()
    assert np.isclose(a_neutral, a_negative) and np.isclose(a_neutral + a_negative, b)  # sets equal, classes too
    assert np.isclose(w.mean(), 1.0)
    half = example_weights(sets, y, set_power=1.0)
    assert np.isclose(half[:90].sum() / half[90:].sum(), 9.0)  # every line the same: sets by size
    boosted = example_weights(sets, y, set_power=0.0, set_weights={"b": 3.0})
    assert np.isclose(boosted[90:].sum() / boosted[:90].sum(), 3.0)

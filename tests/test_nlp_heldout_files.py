"""The held-out files the model is judged on stay held out: they parse, training never reads them, and none
of their texts is among the training lines (a copied line would make the numbers on them meaningless)."""

from __future__ import annotations

from collections import Counter

import pytest

from listener.nlp.corpus import text_key
from listener.nlp.data import DATA_DIR, bundled_files, read_labelled

HELD_OUT = sorted((DATA_DIR / "topic_eval").glob("*.jsonl")) + sorted((DATA_DIR / "sentiment_probe").glob("*.jsonl"))


def test_there_are_held_out_files():
    names = {p.name for p in HELD_OUT}
    assert {"bank_queries.jsonl", "card_delivery.jsonl", "mixed_and_news.jsonl"} <= names


@pytest.mark.parametrize("path", HELD_OUT, ids=lambda p: p.name)
def test_held_out_file_parses_and_is_not_trained_on(path):
    read = read_labelled([path])
    assert read.bad_lines == []
    assert read.examples
    assert path not in bundled_files()  # `listener model train` reads only what bundled_files gives
    trained = {text_key(e.text) for e in read_labelled(bundled_files()).examples}
    copied = [e.text for e in read.examples if text_key(e.text) in trained]
    assert copied == []


def test_sentiment_probe_has_what_its_readme_says():
    examples = read_labelled([DATA_DIR / "sentiment_probe" / "mixed_and_news.jsonl"]).examples
    counts = Counter((e.lang, e.set, e.label) for e in examples)
    for lang in ("en", "fa", "ar"):
        assert counts[(lang, "news_events", "neutral")] == 8
        assert counts[(lang, "news_events", "negative")] == 4
        assert counts[(lang, "mixed_reviews", "negative")] == 8
        assert counts[(lang, "mixed_reviews", "positive")] == 4
    assert len(examples) == 72
    assert len({text_key(e.text) for e in examples}) == 72  # no line twice

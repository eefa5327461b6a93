"""How a text is prepared for the encoder (listener/nlp/textprep.py), and that the encoder and its caches use it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from listener.nlp.embcache import encoder_key
from listener.nlp.textprep import PREP_VERSION, model_text


@pytest.mark.parametrize("text, expected", [
    ("#مرسي_رئيسي ولا يهمك", "مرسي رئيسي ولا يهمك"),  # an Arabic hashtag is its words
    ("Loving the #BlackFriday deals", "Loving the Black Friday deals"),  # joined Latin words are split
    ("#ThisIsFine", "This Is Fine"),
    ("new #iPhone15 and #eBay", "new iPhone15 and eBay"),  # a name starting lower-Upper stays whole
    ("#NHS waiting times", "NHS waiting times"),  # capitals alone: one word
    ("#___ only", "#___ only"),  # nothing to read: left as it was
    ("soooo good!!!", "soo good!!!"),  # a stretched letter is kept doubled; punctuation is not a letter
    ("جمييييل ههههه", "جمييل هه"),
    ("paid 1000000 rials", "paid 1000000 rials"),  # digits are a number, never emphasis
    ("coffee  and\n\ntea", "coffee and tea"),
])
def test_model_text(text, expected):
    assert model_text(text) == expected


def test_model_text_is_idempotent():
    for text in ["#BlackFriday soooo #مرسي_رئيسي", "plain text", "جمييييل"]:
        once = model_text(text)
        assert model_text(once) == once


def test_the_embedding_cache_key_names_the_preparation():
    # a change of the rules must not read embeddings cached under the old ones
    info = SimpleNamespace(name="m", source="s", precision="fp32", prefix="query: ", max_tokens=512)
    key = encoder_key(SimpleNamespace(info=info))
    assert key.endswith("|" + PREP_VERSION)


@pytest.mark.model
def test_the_encoder_reads_the_prepared_text():
    from listener.nlp.scorer import get_encoder

    encoder = get_encoder(None, "fp32")
    # training and scoring both go through Encoder.token_ids, so both see the hashtag as its words
    assert encoder.token_ids(["#مرسي_رئيسي"]) == encoder.token_ids(["مرسي رئيسي"])
    assert encoder.token_ids(["#BlackFriday sooooo good"]) == encoder.token_ids(["Black Friday soo good"])
    assert encoder.token_ids(["#BlackFriday"]) != encoder.token_ids(["BlackFriday"])

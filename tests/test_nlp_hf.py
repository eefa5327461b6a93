"""Any Hugging Face model by path or name: a tiny local encoder and classifier, and the offline message."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny random BERT encoder and a 2-label classifier, saved as ordinary model folders."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, BertModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("hf")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "app", "the", "is"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]")
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    enc_dir, clf_dir = root / "encoder", root / "classifier"
    BertModel(config).save_pretrained(enc_dir)
    fast.save_pretrained(enc_dir)
    config.id2label, config.label2id = {0: "NEGATIVE", 1: "POSITIVE"}, {"NEGATIVE": 0, "POSITIVE": 1}
    BertForSequenceClassification(config).save_pretrained(clf_dir)
    fast.save_pretrained(clf_dir)
    return enc_dir, clf_dir


def test_local_encoder_folder(tiny_models):
    from listener.nlp.encoder import load_encoder

    encoder = load_encoder(str(tiny_models[0]))
    emb = encoder.embed(["the app is good", "bad app", "good"])
    assert emb.shape == (3, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert encoder.info.prefix == ""


def test_local_classifier_folder(tiny_models):
    from listener.nlp.encoder import SequenceClassifier, is_classifier_config, load_hf_config

    assert is_classifier_config(load_hf_config(str(tiny_models[1])))
    clf = SequenceClassifier(str(tiny_models[1]))
    assert clf.mapping == {0: "negative", 1: "positive"}
    probs = clf.predict_proba(["good app", "bad"])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1, atol=1e-5) and (probs[:, 1] == 0).all()


def test_label_mapping():
    from listener.nlp.encoder import ModelUnavailable, sentiment_label_mapping

    assert sentiment_label_mapping({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == {0: "negative", 1: "neutral", 2: "positive"}
    assert sentiment_label_mapping({0: "1 star", 1: "3 stars", 2: "5 stars"}) == {0: "negative", 1: "neutral", 2: "positive"}
    assert sentiment_label_mapping({0: "bad", 1: "ok"}, {"bad": "negative", "ok": "positive"}) == {0: "negative", 1: "positive"}
    with pytest.raises(ModelUnavailable, match="cannot map"):
        sentiment_label_mapping({0: "joy", 1: "anger"})


def test_model_not_available_offline_says_so(monkeypatch):
    from listener.nlp import ModelUnavailable, load_scorer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="not in the local cache and there is no network"):
        load_scorer("acme-org/no-such-model")


def test_missing_local_folder_is_not_a_hub_name(tmp_path):
    from listener.nlp.encoder import ModelUnavailable, load_encoder

    (tmp_path / "broken").mkdir()
    with pytest.raises(ModelUnavailable, match="could not be loaded"):
        load_encoder(str(tmp_path / "broken"))


def test_another_encoder_needs_its_heads_trained_and_scoring_never_trains(tiny_models, tmp_path, monkeypatch):
    from datetime import datetime, timezone

    from listener.model import Mention
    from listener.nlp import load_scorer
    from listener.nlp.scorer import HeadsMissing, clear_cache, heads_dir_for
    from listener.nlp.train import run_training

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path))
    monkeypatch.delenv("LISTENER_HEADS", raising=False)
    name = str(tiny_models[0])
    try:
        with pytest.raises(HeadsMissing, match=r"listener model train --model .* -o "):
            load_scorer(name)
        assert not (heads_dir_for(name) / "heads.json").exists()  # loading did not train behind our back
        report = run_training(model=name)
        assert report["heads"] == str(heads_dir_for(name)) and heads_dir_for(name).is_relative_to(tmp_path)
        assert report["train"] > 1000 and set(report["eval"]["languages"]) == {"en", "fa", "ar"}
        assert any((tmp_path / "embeddings").glob("*.sqlite"))  # embeddings cached for the next run
        scorer = load_scorer(name)
        assert scorer.heads.encoder == name and scorer.heads.dim == 16
        mention = Mention(source="t", native_id="1", text="the app is bad", lang="en",
                          published_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
        scorer.score([mention])
        assert mention.sentiment is not None  # a random tiny encoder: only the plumbing is checked
    finally:
        clear_cache(name)


@pytest.mark.model
def test_a_classifier_is_used_for_sentiment(tiny_models):
    from listener.nlp import load_scorer

    scorer = load_scorer(str(tiny_models[1]), precision="fp32")
    assert scorer.classifier is not None and scorer.encoder.name == "multilingual-e5-small"
    preds = scorer.predict(["good app", "bad app"])
    assert all(p.probabilities[1] == 0 for p in preds)  # a 2-label model never says neutral


def test_cli_train_to_a_folder_then_eval_with_heads(tiny_models, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from listener.cli import app
    from listener.nlp.scorer import clear_cache

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LISTENER_HEADS", raising=False)
    words = {"negative": "bad", "neutral": "the", "positive": "good"}
    rows = [{"text": f"{words[label]} app {'is ' * (i % 7)} #{i}", "label": label, "lang": "en", "set": "mine",
             "topics": [["payments"], ["pricing"], []][i % 3]}
            for i, label in enumerate(["negative", "neutral", "positive"] * 40)]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    name, out = str(tiny_models[0]), tmp_path / "heads"
    runner = CliRunner()
    try:
        bad = runner.invoke(app, ["model", "train", "--model", name, "--data", str(data), "-o", str(out),
                                  "--weight", "nope=2"])
        assert bad.exit_code == 2 and "nope" in bad.output and "sets: mine" in " ".join(bad.output.split())
        result = runner.invoke(app, ["model", "train", "--model", name, "--data", str(data), "-o", str(out),
                                     "--no-precision-check", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["sets"]["mine"]["dev_from"].startswith("carved: 24 lines")
        assert report["eval"]["lines"] == 24 and (out / "heads.json").exists()
        missing = runner.invoke(app, ["model", "eval", str(data), "--model", name, "--heads", str(tmp_path / "none")])
        assert missing.exit_code == 2 and "listener model train" in " ".join(missing.output.split())
        result = runner.invoke(app, ["model", "eval", str(data), "--model", name, "--heads", str(out), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["all"]["n"] == 120
    finally:
        clear_cache(name)

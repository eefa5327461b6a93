"""The n-gram models mixed into sentiment (listener/nlp/lexical.py, lexical_train.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from listener.nlp.data import Example
from listener.nlp.encoder import EncoderInfo
from listener.nlp.lexical import LEXICAL_FILE, LexicalModel
from listener.nlp.lexical_train import WEIGHT_CHOICES, choose_shares, fit_lexical

WORDS = {
    "en": {"negative": ["awful", "broken", "refund", "worst"], "neutral": ["report", "update", "announced", "today"],
           "positive": ["love", "great", "smooth", "thanks"]},
    "fa": {"negative": ["افتضاح", "خراب", "بدترین", "کند"], "neutral": ["گزارش", "اعلام", "امروز", "نسخه"],
           "positive": ["عالی", "ممنون", "سریع", "خوشحالم"]},
}
FILLER = {"en": "the app my bank again now".split(), "fa": "برنامه بانک من دوباره الان".split()}


def _lines(lang: str, n: int, seed: int, set_name: str | None = None) -> list[Example]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = ("negative", "neutral", "positive")[i % 3]
        words = list(rng.choice(WORDS[lang][label], 2, replace=False)) + list(rng.choice(FILLER[lang], 3))
        rng.shuffle(words)
        out.append(Example(" ".join(words), label, lang=lang, set=set_name or lang))
    return out


@pytest.fixture(scope="module")
def fitted() -> LexicalModel:
    return fit_lexical(_lines("en", 240, 1) + _lines("fa", 240, 2))


def test_one_model_per_language_that_learns_the_words(fitted):
    assert set(fitted.models) == {"en", "fa"}
    for lang, seed in (("en", 3), ("fa", 4)):
        test = _lines(lang, 60, seed)
        pred = fitted.models[lang].predict_proba([e.text for e in test]).argmax(axis=1)
        assert np.mean(pred == [e.sentiment_index for e in test]) > 0.9
    assert fitted.card["languages"]["fa"]["lines"] == 240 and fitted.card["options"]["max_char"] == 100_000


def test_language_tags_are_folded_to_the_codes_the_scorer_uses():
    tagged = [Example(e.text, e.label, lang={"en": "en-US", "fa": "fas"}[e.lang], set=e.set)
              for e in _lines("en", 90, 1) + _lines("fa", 90, 2)]
    model = fit_lexical(tagged)
    assert set(model.models) == {"en", "fa"}
    assert set(choose_shares(model, np.full((len(tagged), 3), 1 / 3), tagged)) == {"en", "fa"}


def test_a_language_with_one_class_or_no_repeated_ngram_gets_no_model():
    only_positive = [Example(f"great day number {i}", "positive", lang="ar") for i in range(30)]
    assert set(fit_lexical(_lines("en", 60, 1) + only_positive).models) == {"en"}
    assert fit_lexical([Example("a", "negative", lang="en"), Example("b", "positive", lang="en")]).models == {}


def test_saved_and_loaded_it_scores_exactly_the_same(fitted, tmp_path):
    fitted.models["en"].share, fitted.models["fa"].share = 0.3, 0.1
    fitted.save(tmp_path)
    loaded = LexicalModel.load(tmp_path)
    assert loaded.shares == {"en": 0.3, "fa": 0.1} and loaded.card == fitted.card
    texts = [e.text for e in _lines("fa", 20, 9)] + ["خوشحالم 😀 عالی!"]
    assert np.allclose(loaded.models["fa"].predict_proba(texts), fitted.models["fa"].predict_proba(texts), atol=1e-6)
    assert loaded.models["fa"].char_vocab == fitted.models["fa"].char_vocab  # non-ASCII n-grams survive the blob
    with np.load(tmp_path / LEXICAL_FILE, allow_pickle=False) as z:  # arrays only: loading never runs code
        assert z["fa.weight"].dtype == np.float16
    assert LexicalModel.load(tmp_path / "nowhere") is None


def test_mix_changes_only_lines_of_a_language_with_a_share(fitted):
    fitted.models["en"].share, fitted.models["fa"].share = 0.4, 0.0
    texts = ["love it, great and smooth", "عالی ممنون", "c'est super"]
    base = np.full((3, 3), 1 / 3)
    mixed = fitted.mix(base, texts, ["en", "fa", "fr"])
    own = fitted.models["en"].predict_proba(texts[:1])[0]
    assert np.allclose(mixed[0], 0.6 * base[0] + 0.4 * own) and mixed[0].argmax() == 2
    assert np.array_equal(mixed[1:], base[1:])  # Persian's share is 0, French has no model
    assert np.array_equal(base, np.full((3, 3), 1 / 3))  # the caller's array is left alone


def test_shares_are_chosen_by_log_loss_on_held_out_lines(fitted):
    tune = _lines("en", 60, 5) + _lines("fa", 60, 6)
    y = np.array([e.sentiment_index for e in tune])
    unsure = np.full((len(tune), 3), 1 / 3)
    table = choose_shares(fitted, unsure, tune)
    assert fitted.models["en"].share == max(WEIGHT_CHOICES) and table["en"]["lines"] == 60
    sure = np.full((len(tune), 3), 0.01)
    sure[np.arange(len(tune)), y] = 0.98
    noise = fit_lexical([Example(e.text, ("negative", "neutral", "positive")[i % 2 * 2], lang=e.lang)
                         for i, e in enumerate(_lines("en", 240, 7))])  # labels that say nothing
    choose_shares(noise, sure, tune)
    assert noise.models["en"].share == 0.0  # a model that does not help gets no share
    assert set(fitted.card["shares"]) == {"en", "fa"}


class _Encoder:
    """Every text has the same embedding: the head alone cannot tell anything apart."""

    name, dim = "flat-test", 8
    info = EncoderInfo(name="flat-test", prefix="", max_tokens=512, dim=8)

    def embed(self, texts, batch_size=32):
        return np.ones((len(texts), self.dim), dtype=np.float32) / np.sqrt(self.dim)


def _flat_heads(lexical=None):
    from listener.nlp.heads import Heads, SentimentHead, TopicHead

    return Heads(SentimentHead(np.zeros((3, 8)), np.zeros(3)),
                 TopicHead(["payments"], np.zeros((1, 8)), np.zeros(1), np.full(1, 0.99)), lexical=lexical)


def _scorer(lexical):
    from listener.nlp.scorer import TransformerScorer

    return TransformerScorer(_Encoder(), _flat_heads(lexical))


def test_the_scorer_mixes_by_the_given_or_detected_language(fitted):
    from listener.model import Mention

    fitted.models["en"].share, fitted.models["fa"].share = 0.5, 0.5
    scorer = _scorer(fitted)
    texts = ["I love it, great and smooth, thanks", "افتضاح و خراب، بدترین برنامه"]
    given = [p.probabilities for p in scorer.predict(texts, langs=["en", "fa"])]
    detected = [p.probabilities for p in scorer.predict(texts)]
    assert np.allclose(given, detected)
    assert [p.argmax() for p in given] == [2, 0]
    assert np.allclose(given[0], 0.5 / 3 + 0.5 * fitted.models["en"].predict_proba(texts[:1])[0])
    wrong = scorer.predict(texts[:1], langs=["fa"])[0].probabilities  # the Persian model on English words
    assert not np.allclose(wrong, given[0])
    plain = _scorer(None).predict(texts)
    assert all(np.allclose(p.probabilities, 1 / 3) for p in plain)
    now = datetime.now(timezone.utc)
    mentions = [Mention(source="t", native_id=str(i), text=t, published_at=now)
                for i, t in enumerate(texts + ["Le service est vraiment nul, je suis déçu"])]
    scorer.score(mentions)
    assert [m.sentiment.label if m.sentiment else None for m in mentions] == ["positive", "negative", None]


def test_model_train_only_lexical_fits_against_the_heads_there(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import listener.nlp.encoder as encoder_module
    import listener.nlp.scorer as scoring
    from listener.cli import app
    from listener.nlp.heads import Heads
    from test_nlp_topics import _write

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(encoder_module, "load_encoder", lambda model=None, precision=None: _Encoder())
    monkeypatch.setattr(scoring, "_ENCODERS", {})
    monkeypatch.setattr(scoring, "_HEADS", {})
    rows = [{"text": e.text, "label": e.label, "lang": e.lang, "set": e.set, "split": "eval" if i % 5 == 0 else "train"}
            for i, e in enumerate(_lines("en", 300, 1) + _lines("fa", 300, 2))]
    data = _write(tmp_path / "own.jsonl", rows)
    out = tmp_path / "heads"
    runner = CliRunner()
    missing = runner.invoke(app, ["model", "train", "--data", str(data), "-o", str(out), "--only", "lexical"])
    assert missing.exit_code == 2 and "train them first" in " ".join(missing.output.split())
    _flat_heads().save(out)
    sentiment = (out / "sentiment.npz").read_bytes()
    result = runner.invoke(app, ["model", "train", "--data", str(data), "-o", str(out), "--only", "lexical",
                                 "--no-precision-check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["lexical"]
    assert (out / "sentiment.npz").read_bytes() == sentiment  # the heads are kept as they are
    # the head sees one flat embedding (1/3 each), so the n-grams get the largest share and decide
    assert {lang: v["share"] for lang, v in report["shares"].items()} == {"en": 0.5, "fa": 0.5}
    assert report["eval"]["all"]["accuracy"] > 0.9 and report["tuning_lines"] == 14
    assert Heads.load(out).lexical.card["eval"]["all"]["accuracy"] == report["eval"]["all"]["accuracy"]
    bad = runner.invoke(app, ["model", "train", "-o", str(out), "--only", "sentiment"])
    assert bad.exit_code == 2 and "'topics' or 'lexical'" in bad.output


def test_the_model_card_shows_sentiment_as_scored_with_the_shares():
    from listener.nlp.card import render_numbers

    block = {"n": 400, "accuracy": 0.7123, "macro_recall": 0.7345, "neutral_recall": 0.6034}
    evaluated = {"sets": {"tweeteval": block}, "languages": {"en": block}, "all": block}
    text = render_numbers({"lexical": {"shares": {"en": {"share": 0.4}, "fa": {"share": 0.2}},
                                       "trained_at": "2026-12-04T17:00:00+00:00", "eval": evaluated}})
    assert "shares en 0.4, fa 0.2" in text
    assert "| tweeteval | 400 | 0.712 | 0.735 |" in text and "| 0.603 |" in text
    assert "n-gram" not in render_numbers({})

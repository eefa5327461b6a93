"""A word and character n-gram model per language, mixed into the sentiment probabilities.

Why a second model beside the transformer: the fine-tuned branch and the head read text through the same
small encoder, whose 4-bit base has seen little dialectal Arabic or Persian chat and few product reviews; a
bag of n-grams (TF-IDF, logistic regression) reads the exact spellings those sets repeat ("عالي", "مزخرف",
"ممنون", "خیلی بد") and errs on other lines than the encoder. Measured on the dev file of MODEL_CARD.md
(the bundle of 2026-12-03 plus these models, shares chosen per language on held-out train lines): mean
macro-recall over 13 sets 0.820 -> 0.826, snappfood 0.844 -> 0.856, semeval2017_4a 0.731 -> 0.743,
tweeteval's neutral recall 0.581 -> 0.609, the project's own eval split 0.898 -> 0.905. Alone it is far weaker
(mean macro-recall 0.73): it is a second opinion, never the judge.

One model per language (English, Persian, Arabic: whatever languages the train part has), because Persian
and Arabic share a script but not their words, and a shared hashed space measured worse (0.7179 alone, and a
smaller gain mixed). Each model's share of the probabilities is chosen on train lines held out of its fit
and of fine-tuning, never dev (listener/nlp/lexical_train.py, which also fits it); a language whose n-grams
do not help gets 0.

Stored in `lexical.npz` in the heads folder (arrays only, `allow_pickle=False`): per language the two
vocabularies as one UTF-8 blob, the IDF weights and the classifier, in float16 (the model is converted to
that precision as soon as it is fitted, so what is measured is what is shipped). scikit-learn turns text into
TF-IDF vectors (its vectorizers are rebuilt from the stored vocabulary and IDF); the classifier is numpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from listener.nlp.heads import softmax
from listener.nlp.textprep import model_text

LEXICAL_FILE = "lexical.npz"
CHAR_NGRAMS = (2, 5)  # within word boundaries: spellings, stems and suffixes, emoji
WORD_NGRAMS = (1, 2)
TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]"  # one-letter words and punctuation count ("!", "؟", "?")


def features(text: str) -> str:
    return model_text(text).lower()  # the encoder's text preparation (hashtags as words, stretched letters)


def vectorizers(char_vocab: Sequence[str] | None = None, word_vocab: Sequence[str] | None = None,
                 max_char: int | None = None, max_word: int | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    def vocab(items):
        return None if items is None else {t: i for i, t in enumerate(items)}

    common = dict(sublinear_tf=True, min_df=2, lowercase=False, dtype=np.float32)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, max_features=max_char,
                            vocabulary=vocab(char_vocab), **common)
    words = TfidfVectorizer(analyzer="word", ngram_range=WORD_NGRAMS, token_pattern=TOKEN_PATTERN,
                            max_features=max_word, vocabulary=vocab(word_vocab), **common)
    return chars, words


@dataclass
class NgramModel:
    """One language: p = softmax(tfidf(text) W^T + b) over negative, neutral, positive."""

    char_vocab: list[str]
    word_vocab: list[str]
    idf: np.ndarray  # (n_char + n_word,)
    weight: np.ndarray  # (3, n_char + n_word)
    bias: np.ndarray  # (3,)
    share: float = 0.0  # of the scored probabilities (chosen by lexical_train.choose_shares)
    _vec: tuple | None = field(default=None, repr=False, compare=False)

    def _transform(self, texts: Sequence[str]):
        from scipy.sparse import hstack

        if self._vec is None:
            chars, words = vectorizers(self.char_vocab, self.word_vocab)
            n = len(self.char_vocab)
            chars.idf_, words.idf_ = self.idf[:n], self.idf[n:]
            self._vec = (chars, words)
        prepared = [features(t) for t in texts]
        return hstack([v.transform(prepared) for v in self._vec]).tocsr()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, 3))
        return softmax(np.asarray(self._transform(texts) @ self.weight.T, dtype=np.float64) + self.bias)


@dataclass
class LexicalModel:
    models: dict[str, NgramModel]
    card: dict = field(default_factory=dict)

    def mix(self, probs: np.ndarray, texts: Sequence[str], langs: Sequence[str | None]) -> np.ndarray:
        """`probs` (the transformer's) with each text's language model mixed in at its share; texts in a
        language without a model (or with share 0) keep theirs."""
        out = np.array(probs, dtype=np.float64, copy=True)
        for lang, model in self.models.items():
            if model.share <= 0:
                continue
            rows = [i for i, code in enumerate(langs) if code == lang]
            if rows:
                out[rows] = (1 - model.share) * out[rows] + model.share * model.predict_proba([texts[i] for i in rows])
        return out

    @property
    def shares(self) -> dict[str, float]:
        return {lang: m.share for lang, m in sorted(self.models.items())}

    def save(self, folder: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {}
        for lang, m in self.models.items():
            blob = "\n".join(m.char_vocab + m.word_vocab).encode("utf-8")
            arrays.update({f"{lang}.vocab": np.frombuffer(blob, dtype=np.uint8),
                           f"{lang}.n_char": np.int64(len(m.char_vocab)), f"{lang}.idf": m.idf.astype(np.float16),
                           f"{lang}.weight": m.weight.astype(np.float16), f"{lang}.bias": m.bias.astype(np.float32),
                           f"{lang}.share": np.float64(m.share)})
        arrays["card"] = np.frombuffer(json.dumps(self.card, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        path = Path(folder) / LEXICAL_FILE
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "LexicalModel | None":
        """The model in `folder`, or None when it has none."""
        path = Path(folder) / LEXICAL_FILE
        if not path.exists():
            return None
        models = {}
        with np.load(path, allow_pickle=False) as z:
            card = json.loads(bytes(z["card"]).decode("utf-8")) if "card" in z else {}
            for lang in sorted({k.split(".")[0] for k in z.files if k != "card"}):
                terms = bytes(z[f"{lang}.vocab"]).decode("utf-8").split("\n")
                n = int(z[f"{lang}.n_char"])
                models[lang] = NgramModel(terms[:n], terms[n:], z[f"{lang}.idf"].astype(np.float32),
                                          z[f"{lang}.weight"].astype(np.float32), z[f"{lang}.bias"].astype(np.float64),
                                          float(z[f"{lang}.share"]))
        return cls(models, card)

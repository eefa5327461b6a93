"""Fitting the n-gram models of listener/nlp/lexical.py and choosing their shares (`listener model train`).

Kept apart from the model so that scoring never imports training (the model loads with the heads)."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from listener.nlp.lexical import CHAR_NGRAMS, WORD_NGRAMS, LexicalModel, NgramModel, features, vectorizers

WEIGHT_CHOICES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def fit_lexical(examples: Sequence, set_power: float = 0.0, set_weights: dict[str, float] | None = None,
                c: float = 1.0, max_char: int = 100_000, max_word: int = 50_000) -> LexicalModel:
    """One model per language in `examples` (lines with a sentiment label and a language), classes balanced
    within each set and each set's weight ~ size^set_power. Shares are 0 until choose_shares sets them.

    Why every set weighs the same here (set_power 0) when the branch weighs them ~ size^0.5: the n-gram model
    only learns the words its sets use, so weighted by size it speaks sst2's and SemEval's vocabulary and
    drags the project's own short posts off (measured on the dev file, the bundle of 2026-12-03: with 0.5 the
    shares chosen were en 0.4 / fa 0.2 / ar 0.2 and the own eval split fell 0.898 -> 0.889; with 0 they are
    0.2 / 0.2 / 0.1 and it rose to 0.905, the public sets gaining about as much). The vocabulary caps keep
    the file small (~1 MB a language compressed); fitting takes a few minutes on the bundle's corpus."""
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression

    from listener.nlp.scorer import language_code
    from listener.nlp.train import example_weights

    by_lang: dict[str, list] = {}
    for e in examples:
        lang = language_code(e.lang)  # en-US -> en, fas -> fa: the codes the scorer looks models up by
        if e.sentiment_index is not None and lang:
            by_lang.setdefault(lang, []).append(e)
    models, card = {}, {"options": {"c": c, "max_char": max_char, "max_word": max_word, "set_power": set_power,
                                    "char_ngrams": list(CHAR_NGRAMS), "word_ngrams": list(WORD_NGRAMS)},
                        "languages": {}}
    for lang, rows in sorted(by_lang.items()):
        y = np.array([e.sentiment_index for e in rows])
        if len(set(y.tolist())) < 2:
            continue  # nothing to tell apart
        chars, words = vectorizers(max_char=max_char, max_word=max_word)
        prepared = [features(e.text) for e in rows]
        try:
            x = hstack([chars.fit_transform(prepared), words.fit_transform(prepared)]).tocsr()
        except ValueError:  # no n-gram seen twice (a handful of lines): no model for this language
            continue
        w = example_weights([e.set or "?" for e in rows], y, set_power=set_power, set_weights=set_weights)
        clf = LogisticRegression(C=c, max_iter=3000)
        clf.fit(x, y, sample_weight=w * len(w) / w.sum())
        # three classes always, in label order, even when a language's lines lack one
        weight = np.zeros((3, x.shape[1]), dtype=np.float32)
        bias = np.full(3, -30.0)
        if len(clf.classes_) == 2:  # sklearn fits one vector for two classes: +coef for the second
            weight[clf.classes_[1]], bias[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
            bias[clf.classes_[0]] = 0.0
        else:
            weight[clf.classes_], bias[clf.classes_] = clf.coef_, clf.intercept_
        idf = np.concatenate([chars.idf_, words.idf_])
        models[lang] = NgramModel(list(chars.get_feature_names_out()), list(words.get_feature_names_out()),
                                  idf.astype(np.float16).astype(np.float32),
                                  weight.astype(np.float16).astype(np.float32), bias)
        card["languages"][lang] = {"lines": len(rows), "features": int(x.shape[1])}
    return LexicalModel(models, card)


def choose_shares(model: LexicalModel, probs: np.ndarray, examples: Sequence) -> dict:
    """Set each language model's share to the one of WEIGHT_CHOICES with the lowest log-loss of the mixture on
    `examples` (held-out train lines, never dev) whose transformer probabilities are `probs`; returns the
    log-losses per language, kept in the card."""
    from listener.nlp.scorer import language_code

    y = np.array([e.sentiment_index if e.sentiment_index is not None else -1 for e in examples])
    table = {}
    for lang, m in model.models.items():
        rows = np.array([i for i, e in enumerate(examples) if language_code(e.lang) == lang and y[i] >= 0],
                        dtype=int)
        if not len(rows):
            m.share = 0.0
            continue
        own = m.predict_proba([examples[i].text for i in rows])
        losses = {}
        for share in WEIGHT_CHOICES:
            p = (1 - share) * probs[rows] + share * own
            losses[share] = round(float(-np.mean(np.log(p[np.arange(len(rows)), y[rows]] + 1e-12))), 4)
        m.share = min(WEIGHT_CHOICES, key=lambda s: (losses[s], s))  # a tie goes to less of the n-grams
        table[lang] = {"lines": int(len(rows)), "share": m.share, "log_loss": {str(k): v for k, v in losses.items()}}
    model.card["shares"] = table
    return table


def run_lexical(files: Sequence[str | Path] | None, folder: str | Path, model: str | None = None,
                max_per_set: int | None = None, max_dev: int = 2000, set_weights: dict[str, float] | None = None,
                evaluate: bool = True, progress=None) -> dict:
    """What `listener model train` does last for sentiment (and `--only lexical` alone): fit the n-gram models
    on the train part minus the held-out lines (the same ones the branch's mix is chosen on), choose each
    language's share against the heads and branch already in `folder` as they score, save `lexical.npz` there
    and evaluate the whole scoring path on the dev parts. `progress(stage, done, total, rate)`."""
    from listener.nlp import scorer as scoring
    from listener.nlp.corpus import build_corpus
    from listener.nlp.data import LABELLED_DIR
    from listener.nlp.evaluate import _language, evaluate_examples, headline_numbers
    from listener.nlp.finetune import _split_tuning
    from listener.nlp.heads import Heads

    started = time.perf_counter()
    folder = Path(folder)
    corpus = build_corpus(files or [LABELLED_DIR], max_per_set=max_per_set, max_dev=max_dev)
    train = [e for e in corpus.train if e.sentiment_index is not None]
    fit, tune = _split_tuning(train)
    if progress:
        progress("fitting n-gram models", 0, 1, 0.0)
    lexical = fit_lexical(fit, set_weights=set_weights)
    heads = Heads.load(folder)
    encoder = scoring.get_encoder(model)
    heads.branch = scoring.load_branch_for(folder, encoder)
    heads.lexical = None  # the shares are chosen against the transformer alone
    scorer = scoring.TransformerScorer(encoder, heads)
    probs = _probabilities(scorer, [e.text for e in tune], progress, "scoring held-out train lines")
    shares = choose_shares(lexical, probs, tune)
    lexical.card.update(trained_at=_now(), fit_lines=len(fit), tuning_lines=len(tune),
                        data=[str(p) for p in (files or [LABELLED_DIR])], max_per_set=max_per_set)
    report: dict = {"lexical": str(folder / "lexical.npz"), "shares": shares, "fit_lines": len(fit),
                    "tuning_lines": len(tune)}
    # sentiment only: the n-gram models leave topics as they were (and _BranchOnly predicts none)
    dev = [dataclasses.replace(e, topics=None) for e in corpus.dev if e.label is not None]
    if evaluate and dev:
        from listener.nlp.finetune import _BranchOnly

        heads.lexical = lexical
        dev_probs = _probabilities(scorer, [e.text for e in dev], progress, "scoring dev parts",
                                   langs=[_language(e) for e in dev])
        metrics = evaluate_examples(dev, _BranchOnly(dev_probs), languages=None)
        lexical.card["eval"] = headline_numbers(metrics)
        report["eval"] = metrics
    lexical.card["train_seconds"] = round(time.perf_counter() - started)
    lexical.save(folder)
    scoring.forget_heads()
    return report


def _probabilities(scorer, texts: list[str], progress, stage: str, langs=None, batch: int = 256) -> np.ndarray:
    out = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        part = texts[i:i + batch]
        out.extend(p.probabilities for p in scorer.predict(part, langs=None if langs is None else langs[i:i + batch]))
        if progress:
            done = min(i + batch, len(texts))
            progress(stage, done, len(texts), done / max(time.perf_counter() - started, 1e-9))
    return np.array(out).reshape(len(texts), 3)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

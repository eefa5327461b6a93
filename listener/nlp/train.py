"""Fit the sentiment and topic heads on labelled examples (`listener model train`).

Method (MODEL_CARD.md says the same, with numbers):
- embeddings: the encoder's "query: " + text, mean-pooled, L2-normalised; features standardised, and the
  scaler folded into the weights so prediction is one matrix product;
- sentiment: multinomial logistic regression with balanced class weights, C picked by 5-fold CV (macro-F1),
  then one temperature fitted on the out-of-fold logits (minimum log-loss), so the probability of the chosen
  label is calibrated;
- topics: one logistic regression per taxonomy topic (balanced) and a gate that learns "about no topic" from
  the lines labelled `topics: []`, thresholds chosen out of fold within a false-fire budget (topic_train.py);
- zero-shot: the centred cosine threshold that maximises micro-F1 when the taxonomy's topics are decided from
  their descriptions alone, i.e. as if they were topics a user had just added.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from listener.nlp.corpus import TrainingDataError
from listener.nlp.data import Example, TopicDef, load_taxonomy
from listener.nlp.heads import Heads, SentimentHead, ZeroShotCalibration, softmax, zero_shot_scores
from listener.nlp.topic_train import background_rows, fit_topics

log = logging.getLogger(__name__)

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# Tens of thousands of lines want stronger regularisation than 0.001 at times, and each fit is slow on a small
# CPU: a shorter grid shifted down (measured: 0.001 chosen on 8.6k lines from the grid above, its smallest).
C_GRID_LARGE = (0.0003, 0.001, 0.003, 0.01)
SEED = 13


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    return (x - mean) / std, mean, std


def _fold(coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, std: np.ndarray):
    """Weights on standardised features -> weights on raw embeddings."""
    w = coef / std
    return w.astype(np.float32), (intercept - w @ mean).astype(np.float32)


def _macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    f1s = []
    for c in range(k):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s))


def _micro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = np.sum(truth & pred)
    return float(2 * tp / max(2 * tp + np.sum(pred & ~truth) + np.sum(truth & ~pred), 1))


def _folds(y_strat: np.ndarray, n_splits: int = 5):
    """Stratified folds; strata too rare to appear in every fold are pooled (a small user file may have a
    set with three neutral lines)."""
    from collections import Counter

    from sklearn.model_selection import StratifiedKFold

    counts = Counter(y_strat.tolist())
    pooled = np.array([s if counts[s] >= n_splits else "(rare)" for s in y_strat.tolist()])
    if 0 < np.sum(pooled == "(rare)") < n_splits:
        pooled[pooled == "(rare)"] = Counter(pooled.tolist()).most_common(1)[0][0]
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED).split(pooled, pooled))


def fit_sentiment(x: np.ndarray, y: np.ndarray, strata: np.ndarray,
                  weights: np.ndarray | None = None) -> tuple[SentimentHead, dict]:
    """y: class indices into SENTIMENT_LABELS; strata: what the tuning split keeps balanced (set+label);
    weights: per-example weights (None: classes balanced).

    C and the temperature are chosen on out-of-fold logits: 5 folds for a small train set, one stratified
    15 % tuning slice for a large one (where 5 x 7 fits would take long and the slice alone has thousands of
    lines). The dev splits are never used for choosing anything.
    """
    from sklearn.linear_model import LogisticRegression

    if weights is None:
        counts = np.bincount(y, minlength=3).astype(float)
        weights = (len(y) / (3 * np.maximum(counts, 1)))[y]
    xs, mean, std = _standardise(x)
    folds = _folds(strata) if len(y) < 8000 else _tuning_slice(strata)
    covered = np.zeros(len(y), dtype=bool)
    for _, te in folds:
        covered[te] = True
    best = None
    for c in (C_GRID if len(y) < 8000 else C_GRID_LARGE):
        oof = np.zeros((len(y), 3))
        for tr, te in folds:
            clf = LogisticRegression(C=c, max_iter=2000)
            clf.fit(xs[tr], y[tr], sample_weight=weights[tr])
            oof[te] = clf.decision_function(xs[te])
        score = _macro_f1(y[covered], oof[covered].argmax(1), 3)
        if best is None or score > best[0]:
            best = (score, c, oof)
    score, c, oof = best
    oof, yc = oof[covered], y[covered]
    temps = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    nll = [-np.mean(np.log(softmax(oof / t)[np.arange(len(yc)), yc] + 1e-12)) for t in temps]
    temperature = float(temps[int(np.argmin(nll))])
    clf = LogisticRegression(C=c, max_iter=3000).fit(xs, y, sample_weight=weights)
    w, b = _fold(clf.coef_, clf.intercept_, mean, std)
    probs = softmax(oof / temperature)
    return SentimentHead(w, b, temperature), {
        "C": c, "cv_macro_f1": round(score, 4), "temperature": round(temperature, 3),
        "cv_accuracy": round(float(np.mean(oof.argmax(1) == yc)), 4),
        "cv_ece": round(expected_calibration_error(probs, yc), 4),
        "tuned_on": "5-fold CV" if len(folds) > 1 else f"a {int(covered.sum())}-line stratified slice",
    }


def fit_sentiment_mlp(x: np.ndarray, y: np.ndarray, strata: np.ndarray, weights: np.ndarray,
                      hidden: int = 256, alpha: float = 1.0) -> tuple[SentimentHead, dict]:
    """One hidden ReLU layer (scikit-learn's MLPClassifier, weighted, early stopping), fitted on 85 % of the
    train part; the temperature and the reported numbers come from the other 15 % (stratified by set and
    label). The standardisation is folded into the first layer, so prediction is two matrix products."""
    from sklearn.neural_network import MLPClassifier

    xs, mean, std = _standardise(x)
    (tr, te), = _tuning_slice(strata)
    # early stopping holds out 10 % of what it is given: only worth it (and possible) with enough lines
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha, early_stopping=len(tr) >= 1000,
                        random_state=SEED, max_iter=200)
    clf.fit(xs[tr], y[tr], sample_weight=weights[tr])
    w1 = (clf.coefs_[0].T / std).astype(np.float32)
    b1 = (clf.intercepts_[0] - w1 @ mean).astype(np.float32)
    head = SentimentHead(clf.coefs_[1].T.astype(np.float32), clf.intercepts_[1].astype(np.float32), 1.0,
                         hidden_weight=w1, hidden_bias=b1)
    logits, yt = head.logits(x[te]), y[te]
    temps = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    nll = [-np.mean(np.log(softmax(logits / t)[np.arange(len(yt)), yt] + 1e-12)) for t in temps]
    head.temperature = float(temps[int(np.argmin(nll))])
    probs = softmax(logits / head.temperature)
    return head, {"hidden": hidden, "alpha": alpha, "iterations": int(clf.n_iter_),
                  "cv_macro_f1": round(_macro_f1(yt, probs.argmax(1), 3), 4),
                  "cv_accuracy": round(float(np.mean(probs.argmax(1) == yt)), 4),
                  "temperature": round(head.temperature, 3), "cv_ece": round(expected_calibration_error(probs, yt), 4),
                  "tuned_on": f"a {len(te)}-line stratified slice"}


def _tuning_slice(strata: np.ndarray, fraction: float = 0.15):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(strata))
    tr, te = train_test_split(idx, test_size=fraction, random_state=SEED, stratify=strata)
    return [(tr, te)]


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - accuracy| over 10 confidence bins, weighted by bin size."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return float(ece)


def calibrate_zero_shot(encoder, x: np.ndarray, truth: np.ndarray, taxonomy: Sequence[TopicDef]) -> tuple[
        ZeroShotCalibration, dict]:
    """The threshold on centred cosine that gives the best micro-F1 on the taxonomy from descriptions only."""
    protos = encoder.embed([t.description for t in taxonomy])
    scores = zero_shot_scores(x, protos)
    grid = np.linspace(-0.02, 0.10, 121)
    f1s = [_micro_f1(truth, scores >= t) for t in grid]
    threshold = float(grid[int(np.argmax(f1s))])
    spread = float(np.std(scores)) or 0.025
    return ZeroShotCalibration(threshold=round(threshold, 4), scale=round(2.0 / spread, 2)), {
        "threshold": round(threshold, 4), "micro_f1_on_taxonomy": round(max(f1s), 4)}


#: How much a set's size counts: each set's total weight grows as size ** SET_POWER (1 = every line the
#: same; 0.5 = a set 100x larger counts 10x more; 0 = every set the same), so 4k tweets do not drown a
#: project's 450 own examples. 0 measured best on the project's own eval split with the public sets added.
SET_POWER = 0.0


def example_weights(sets: Sequence[str], y: np.ndarray, set_power: float = SET_POWER,
                    set_weights: dict[str, float] | None = None, balance: str = "set") -> np.ndarray:
    """Per-example weights, mean 1: each set's total weight ~ its size ** set_power, times `set_weights[set]`
    where given (e.g. to make a project's own examples count more); classes balanced within each set
    (`balance="set"`: a set of 70 % neutral tweets does not teach "when unsure, neutral", and macro-recall is
    what is measured) or over all lines (`balance="all"`)."""
    sets = np.asarray(sets)
    names, inverse, sizes = np.unique(sets, return_inverse=True, return_counts=True)
    if balance == "set":
        w = np.zeros(len(y), dtype=float)
        for k in range(len(names)):
            rows = inverse == k
            counts = np.bincount(y[rows], minlength=3).astype(float)
            present = int(np.sum(counts > 0))
            w[rows] = (rows.sum() / (present * np.maximum(counts, 1)))[y[rows]]
    else:
        counts = np.bincount(y, minlength=3).astype(float)
        w = (len(y) / (3 * np.maximum(counts, 1)))[y]
    factors = np.array([(set_weights or {}).get(str(n), 1.0) for n in names], dtype=float)
    w = w * (sizes.astype(float) ** (set_power - 1.0) * factors)[inverse]
    return w * (len(w) / w.sum())


def train_heads(encoder, examples: Sequence[Example], taxonomy: Sequence[TopicDef] | None = None,
                x: np.ndarray | None = None, set_power: float = SET_POWER,
                set_weights: dict[str, float] | None = None, hidden: int = 256) -> Heads:
    """Fit every head on `examples` (all of them: pass the train part). `x`: their embeddings, when the caller
    has them (from the cache); else they are embedded here. Sentiment learns from lines with a 3-way label,
    topics from lines with a `topics` field."""
    taxonomy = list(taxonomy or load_taxonomy())
    labels = [t.label for t in taxonomy]
    examples = list(examples)
    if x is None:
        x = encoder.embed([e.text for e in examples])
    langs = np.array([e.lang or "?" for e in examples])
    strata = np.array([f"{e.set or l}:{e.label}" for l, e in zip(langs, examples)])
    with_label = np.array([e.sentiment_index is not None for e in examples])
    if not with_label.any():
        raise TrainingDataError("no training lines with a sentiment label (negative, neutral or positive)")
    y = np.array([e.sentiment_index for e in examples if e.sentiment_index is not None])
    if len(y) < 60:
        raise TrainingDataError(f"only {len(y)} distinct training lines with a sentiment label (after dev parts "
                                f"and duplicates are set apart); at least 60 are needed")
    if len(set(y.tolist())) < 3:
        raise TrainingDataError("the training lines must hold all three sentiment labels (negative, neutral, "
                                "positive); add --data files with the missing ones")
    weights = example_weights([e.set or "?" for e, keep in zip(examples, with_label) if keep], y, set_power,
                              set_weights)
    if hidden:
        sentiment, s_info = fit_sentiment_mlp(x[with_label], y, strata[with_label], weights, hidden)
    else:
        sentiment, s_info = fit_sentiment(x[with_label], y, strata[with_label], weights)
    topics, zero_shot, background, card_topics, z_info = fit_topic_side(encoder, examples, x, taxonomy)
    counts: dict[str, dict[str, int]] = {}
    set_counts: dict[str, dict[str, int]] = {}
    for e in examples:
        if e.label is None:
            continue
        counts.setdefault(e.lang or "?", {}).setdefault(e.label, 0)
        counts[e.lang or "?"][e.label] += 1
        set_counts.setdefault(e.set or "?", {}).setdefault(e.label, 0)
        set_counts[e.set or "?"][e.label] += 1
    card = {
        "encoder": encoder.name,
        "trained_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "train_counts": counts,
        "train_sets": set_counts,
        "train_total": int(with_label.sum()),
        "set_power": set_power,
        "set_weights": dict(set_weights or {}),
        "sentiment": s_info,
        "topics": card_topics,
        "zero_shot_calibration": z_info,
    }
    return Heads(sentiment, topics, zero_shot, card, background=background)


def fit_topic_side(encoder, examples: Sequence[Example], x: np.ndarray, taxonomy: Sequence[TopicDef]):
    """(topic head, zero-shot calibration, background, card notes on topics, card notes on zero-shot) from the
    lines with a `topics` field."""
    labels = [t.label for t in taxonomy]
    with_topics = [i for i, e in enumerate(examples) if e.topics is not None]
    if not with_topics:
        raise TrainingDataError("no training lines with 'topics': include labelled lines with topics (the bundled "
                                "listener/nlp/data/labelled folder has them)")
    truth = np.array([[label in (examples[i].topics or ()) for label in labels] for i in with_topics], dtype=bool)
    strata = np.array([f"{examples[i].set or examples[i].lang}:{examples[i].label}" for i in with_topics])
    topics, card_topics = fit_topics(x[with_topics], truth, labels, strata)
    zero_shot, z_info = calibrate_zero_shot(encoder, x[with_topics], truth, taxonomy)
    # The background: embeddings of lines with topics (brand mentions, the kind of text a project scores),
    # the negatives of a project topic's classifier and where a description-only topic's threshold is taken
    # from (see ZeroShotCalibration). Public tweets and film reviews would make a worse one: far from any
    # brand's topics, they let a threshold sink (a new topic then fired on 5.7 % of unrelated brand posts).
    rows = background_rows([examples[i].topics or () for i in with_topics], set(labels))
    card_topics["background_lines"] = int(len(rows))
    return topics, zero_shot, x[with_topics][rows], card_topics, z_info


def _update_topic_numbers(card_eval: dict, new: dict) -> None:
    """Put the refitted topic head's micro-F1 into the card's dev numbers, leaving the sentiment numbers."""
    for group in ("sets", "languages"):
        for name, m in new.get(group, {}).items():
            if "topic_micro_f1" in m:
                card_eval.setdefault(group, {}).setdefault(name, {"n": m["n"]})["topic_micro_f1"] = m["topic_micro_f1"]
    if "topic_micro_f1" in new.get("all", {}):
        card_eval.setdefault("all", {"n": new["all"]["n"]})["topic_micro_f1"] = new["all"]["topic_micro_f1"]


def run_training(model: str | None = None, files: Sequence[str | Path] | None = None,
                 output: str | Path | None = None, precision: str | None = "fp32",
                 evaluate: bool = True, write_card: bool | None = None,
                 max_per_set: int | None = 4000, max_dev: int = 2000, set_power: float = SET_POWER,
                 set_weights: dict[str, float] | None = None, hidden: int = 256, progress=None,
                 only: str | None = None) -> dict:
    """What `listener model train` does: build train and dev parts (see corpus.py), embed them through the
    on-disk cache (resumable), fit, save, evaluate on the dev parts.

    `files`: labelled .jsonl files or folders (default: the bundled listener/nlp/data/labelled). Heads go to
    `output`, else listener/nlp/heads/ for the bundled encoder (and MODEL_CARD.md's numbers are rewritten)
    or the per-user cache for another encoder. Embeddings are computed in fp32 so the committed heads do not
    depend on the CPU they were trained on. `progress(stage, done, total, rate)` is called while embedding.
    `only="topics"`: refit the topic side (topic head, zero-shot calibration, background) on the lines with
    topics and keep the sentiment head in `output` as it is (sentiment.npz is not rewritten).
    """
    from listener.nlp import scorer as scoring
    from listener.nlp.corpus import build_corpus
    from listener.nlp.data import LABELLED_DIR
    from listener.nlp.embcache import cached_embed
    from listener.nlp.encoder import load_encoder

    import time

    started = time.perf_counter()
    encoder = load_encoder(model, precision=precision)
    folder = Path(output) if output else scoring.heads_dir_for(encoder.name)
    if only not in (None, "topics"):
        raise TrainingDataError(f"--only {only!r}: only 'topics' can be trained alone")
    if only and not Path(folder, "sentiment.npz").exists():
        raise TrainingDataError(f"--only topics keeps the sentiment head in {folder}, but there is none: train "
                                f"both heads first (without --only)")
    corpus = build_corpus(files or [LABELLED_DIR], max_per_set=max_per_set, max_dev=max_dev)
    if only:
        corpus.train = [e for e in corpus.train if e.topics is not None]
        corpus.dev = [e for e in corpus.dev if e.topics is not None]
    if not corpus.train:
        raise TrainingDataError("no training lines in the --data files (lines with split 'train' or no split, "
                                "or sets to carve one from)")

    def stage(name: str):
        return (lambda done, total, rate: progress(name, done, total, rate)) if progress else None

    x_dev = cached_embed(encoder, [e.text for e in corpus.dev], progress=stage("embedding dev")) \
        if evaluate and corpus.dev else None
    x = cached_embed(encoder, [e.text for e in corpus.train], progress=stage("embedding train"))
    if progress:
        progress("fitting heads", 0, 1, 0.0)
    unknown = sorted(set(set_weights or {}) - set(corpus.sets))
    if unknown:
        raise TrainingDataError(f"--weight names set(s) not in the data: {', '.join(unknown)} "
                         f"(sets: {', '.join(sorted(corpus.sets))})")
    if only:
        from listener.nlp.data import load_taxonomy

        heads = Heads.load(folder)
        heads.topics, heads.zero_shot, heads.background, card_topics, z_info = fit_topic_side(
            encoder, corpus.train, x, load_taxonomy())
        heads.card.update({"topics": card_topics, "zero_shot_calibration": z_info,
                           "topics_trained_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()})
    else:
        heads = train_heads(encoder, corpus.train, x=x, set_power=set_power, set_weights=set_weights,
                            hidden=hidden)
        heads.card["sets"] = corpus.sets
    report: dict = {"heads": str(folder), "train": len(corpus.train), "eval": len(corpus.dev),
                    "sets": corpus.sets,
                    "bad_lines": [{"file": f, "line": n, "error": e} for f, n, e in corpus.bad_lines]}
    if x_dev is not None:
        from listener.nlp.evaluate import evaluate_examples, headline_numbers

        metrics = evaluate_examples(corpus.dev, scoring.TransformerScorer(encoder, heads), languages=None,
                                    embeddings=x_dev)
        report["eval"] = metrics
        if only:
            _update_topic_numbers(heads.card.setdefault("eval", {}), headline_numbers(metrics))
        else:
            heads.card["eval"] = headline_numbers(metrics)
            heads.card["eval_counts"] = {lang: m["n"] for lang, m in metrics["languages"].items()}
    heads.card["topics_train_seconds" if only else "train_seconds"] = round(time.perf_counter() - started)
    heads.save(folder, sentiment=not only)
    scoring.forget_heads()
    report["card"] = heads.card
    if write_card is None:
        write_card = output is None and encoder.name == "multilingual-e5-small"
    if write_card:
        from listener.nlp.card import folder_card, update_model_card

        update_model_card(folder_card(folder))
    return report

"""TransformerScorer: sets sentiment and topics on mentions, in batches, with the encoder and the heads.

- Sentiment: the calibrated sentiment head on the encoder's embedding (or a ready sequence-classification
  model, when one is configured).
- Topics: the trained topic head for the built-in taxonomy (which abstains on texts about none of its
  topics), plus the project file's own topics: one with examples is decided by a small classifier, its
  examples and description against the heads' background of other texts (listener.nlp.fewshot); one with
  only a description by centred cosine to it, with a threshold calibrated on the taxonomy.
- Language: a mention's `lang`, else detected. Only languages in `languages` are scored (default: English,
  Persian, Arabic: the heads are trained and evaluated on these); the others are left unscored
  (`sentiment` None, topics untouched), never guessed.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from listener.model import Mention, Sentiment
from listener.nlp.data import TopicDef, as_topic_defs, load_taxonomy
from listener.nlp.heads import Heads, sigmoid, zero_shot_scores

log = logging.getLogger(__name__)

#: Languages the heads are trained and evaluated on (see MODEL_CARD.md).
SUPPORTED_LANGUAGES: frozenset[str] = frozenset({"en", "fa", "ar"})

# ISO 639-2/3 and macro-language codes sources use, folded onto the 639-1 codes above.
_LANG_ALIASES = {"eng": "en", "per": "fa", "fas": "fa", "pes": "fa", "prs": "fa", "ara": "ar", "arb": "ar",
                 "arz": "ar", "apc": "ar", "ajp": "ar", "afb": "ar", "ary": "ar", "acm": "ar"}
MAX_CHARS = 4000  # longer texts are cut (reviews rarely need more to decide sentiment and topic)


def language_code(lang: str | None) -> str | None:
    """'en-US' -> 'en', 'fas' -> 'fa'; None stays None."""
    if not lang:
        return None
    primary = lang.strip().lower().replace("_", "-").split("-")[0]
    return _LANG_ALIASES.get(primary, primary) or None


@dataclass
class Prediction:
    probabilities: np.ndarray  # (3,) over negative, neutral, positive
    topics: list[str]
    topic_scores: dict[str, float]

    @property
    def sentiment(self) -> Sentiment:
        """The label with all three probabilities kept (the rule for mixed texts: Sentiment.from_probabilities)."""
        return Sentiment.from_probabilities(self.probabilities)


class TransformerScorer:
    """Scores mentions in place; see the module docstring. Build one with `listener.nlp.load_scorer`."""

    def __init__(self, encoder, heads: Heads, topics: Iterable | None = None,
                 languages: Iterable[str] | None = None, classifier=None, batch_size: int = 32):
        self.encoder = encoder
        self.heads = heads
        self.classifier = classifier  # a SequenceClassifier for sentiment, or None: the head
        self.languages = frozenset(languages) if languages is not None else SUPPORTED_LANGUAGES
        self.batch_size = batch_size
        self.builtin = load_taxonomy()
        head_labels = set(heads.topics.labels)
        extra = [t for t in as_topic_defs(topics) if t.label not in head_labels]
        self.zero_shot_topics: list[TopicDef] = list({t.label: t for t in extra}.values())
        # The centring set is the built-in taxonomy plus the project's own topics, so the calibration made
        # on the taxonomy carries over; prototypes of the taxonomy are computed once.
        reference = [t for t in self.builtin if t.label not in {z.label for z in self.zero_shot_topics}]
        self._reference = reference + self.zero_shot_topics
        self._prototypes = self._topic_prototypes(self._reference) if self.zero_shot_topics else None
        self._zs_thresholds = self._zero_shot_thresholds() if self.zero_shot_topics else None
        self._fewshot = self._fit_fewshot() if self.zero_shot_topics else {}

    @property
    def topic_labels(self) -> list[str]:
        return list(self.heads.topics.labels) + [t.label for t in self.zero_shot_topics]

    def _topic_prototypes(self, topics: Sequence[TopicDef]) -> np.ndarray:
        """One unit vector per topic: the embedding of its description (the cosine path, for topics without
        examples; mixing examples into the prototype made it worse, as e5 places any two short posts about
        one brand close together whatever their topic: examples go to a classifier instead)."""
        return self.encoder.embed([t.description for t in topics], batch_size=self.batch_size)

    def _fit_fewshot(self) -> dict:
        """A classifier for each project topic with examples (see listener.nlp.fewshot); {} when the heads
        carry no background to draw negatives from (heads trained before it existed)."""
        from listener.nlp.fewshot import fit_fewshot

        with_examples = [t for t in self.zero_shot_topics if any(e and e.strip() for e in t.examples)]
        background = self.heads.background
        if not with_examples:
            return {}
        if background is None or background.shape[1] != self.encoder.dim:
            log.warning("these heads carry no background texts: project topics with examples are decided by "
                        "their description only; retrain with `listener model train --only topics`")
            return {}
        import hashlib

        fingerprint = hashlib.blake2b(np.ascontiguousarray(background).tobytes(), digest_size=16).digest()
        out = {}
        for topic in with_examples:
            texts = [topic.description] + [e for e in topic.examples if e and e.strip()]
            # fitting takes a few seconds on a busy CPU: once per process for the same heads, encoder and topic
            key = (fingerprint, self.encoder.name, topic.label, tuple(texts), self.heads.zero_shot.fewshot_quantile)
            with _LOCK:
                fitted = _FEWSHOT.get(key)
            if fitted is None:
                positives = self.encoder.embed([t[:MAX_CHARS] for t in texts], batch_size=self.batch_size)
                fitted = fit_fewshot(topic.label, positives, background, self.heads.zero_shot.fewshot_quantile)
                with _LOCK:
                    _FEWSHOT[key] = fitted
                log.info("project topic %r: a classifier on %d example(s) and its description", topic.label,
                         len(texts) - 1)
            out[topic.label] = fitted
        return out

    def _zero_shot_thresholds(self) -> np.ndarray:
        """Per zero-shot topic: the calibrated threshold, raised to the background quantile of its scores
        (so a new topic fires on at most ~3 % of ordinary brand chatter)."""
        cal = self.heads.zero_shot
        thresholds = np.full(len(self.zero_shot_topics), cal.threshold, dtype=np.float32)
        background = self.heads.background
        if background is not None and background.shape[1] == self._prototypes.shape[1]:
            offset = len(self._reference) - len(self.zero_shot_topics)
            scores = zero_shot_scores(background, self._prototypes)[:, offset:]
            thresholds = np.maximum(thresholds, np.quantile(scores, cal.background_quantile, axis=0))
        for topic, threshold in zip(self.zero_shot_topics, thresholds):
            log.info("zero-shot topic %r: threshold %.4f", topic.label, threshold)
        return thresholds

    # ------------------------------------------------------------ predictions on texts

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.embed([t[:MAX_CHARS] for t in texts], batch_size=self.batch_size)

    @property
    def branch(self):
        """The fine-tuned sentiment branch in use, or None (a ready classifier, or the head on embeddings)."""
        return self.heads.branch if self.classifier is None else None

    def predict(self, texts: Sequence[str], embeddings: np.ndarray | None = None,
                sentiment: np.ndarray | None = None, langs: Sequence[str | None] | None = None) -> list[Prediction]:
        """Sentiment probabilities and topics for texts (no language check: callers decide). `embeddings`
        and `sentiment` (probabilities): when the caller already has them. With a fine-tuned branch and no
        `sentiment`, the texts go through the encoder once more (embeddings alone cannot give it). `langs`:
        the texts' language codes, which pick the n-gram model mixed into sentiment (listener.nlp.lexical);
        detected when not given."""
        texts = list(texts)
        if not texts:
            return []
        probs = sentiment
        if probs is None and self.branch is not None:
            x, side = self.encoder.embed_with_branch([t[:MAX_CHARS] for t in texts], self.branch,
                                                     batch_size=self.batch_size)
            x = x if embeddings is None else embeddings
            probs = self.branch.predict_proba(side)
            if self.branch.mix < 1.0:
                probs = self.branch.mix * probs + (1.0 - self.branch.mix) * self.heads.sentiment.predict_proba(x)
            probs = self._with_lexical(probs, texts, langs)
        else:
            x = self.embed(texts) if embeddings is None else embeddings
        if probs is not None:
            pass
        elif self.classifier is not None:
            probs = self.classifier.predict_proba([t[:MAX_CHARS] for t in texts], batch_size=self.batch_size)
        else:
            probs = self._with_lexical(self.heads.sentiment.predict_proba(x), texts, langs)
        topic_probs = self.heads.topics.predict_proba(x)
        above = self.heads.topics.decide(x, topic_probs)
        labels = list(self.heads.topics.labels)
        zs_above = zs_probs = None
        if self._prototypes is not None:
            cal = self.heads.zero_shot
            offset = len(self._reference) - len(self.zero_shot_topics)
            scores = zero_shot_scores(x, self._prototypes)[:, offset:]
            zs_above = scores >= self._zs_thresholds
            zs_probs = sigmoid(cal.scale * (scores - self._zs_thresholds))
            for j, t in enumerate(self.zero_shot_topics):
                if t.label in self._fewshot:
                    margin = self._fewshot[t.label].logits(x) - self._fewshot[t.label].threshold
                    zs_above[:, j], zs_probs[:, j] = margin >= 0, sigmoid(margin)  # 0.5 at the threshold
        out = []
        for i in range(len(texts)):
            chosen = [labels[j] for j in np.flatnonzero(above[i])]
            scores_i = {labels[j]: float(topic_probs[i, j]) for j in range(len(labels))}
            if zs_above is not None:
                for j, t in enumerate(self.zero_shot_topics):
                    scores_i[t.label] = float(zs_probs[i, j])
                    if zs_above[i, j]:
                        chosen.append(t.label)
            chosen.sort(key=lambda label: -scores_i[label])
            out.append(Prediction(probs[i], chosen, scores_i))
        return out

    def _with_lexical(self, probs: np.ndarray, texts: list[str], langs) -> np.ndarray:
        """The heads' n-gram models mixed in (their shares were chosen against these heads and branch; a
        classifier model's probabilities are left alone)."""
        lexical = self.heads.lexical
        if lexical is None:
            return probs
        from listener.text import detect_language

        langs = [None] * len(texts) if langs is None else langs
        codes = [language_code(code or detect_language(text)) for code, text in zip(langs, texts)]
        return lexical.mix(probs, [t[:MAX_CHARS] for t in texts], codes)

    # ------------------------------------------------------------ mentions

    def language_of(self, mention: Mention) -> str | None:
        """The mention's language code; detected (and set on the mention) when it has none."""
        if mention.lang:
            return language_code(mention.lang)
        from listener.text import detect_language

        detected = detect_language(mention.full_text)
        if detected:
            mention.lang = detected
        return language_code(detected)

    def score(self, mentions: list[Mention]) -> None:
        """Set `sentiment` and `topics` on the mentions this model covers; leave the others unscored."""
        todo = []
        for m in mentions:
            text = m.full_text
            if text and text.strip() and self.language_of(m) in self.languages:
                todo.append(m)
            else:
                m.sentiment = None
        if not todo:
            return
        for m, pred in zip(todo, self.predict([m.full_text for m in todo],
                                              langs=[language_code(m.lang) for m in todo])):
            m.sentiment = pred.sentiment
            m.topics = pred.topics


# ---------------------------------------------------------------- loading, once per process

_LOCK = threading.Lock()
_ENCODERS: dict[tuple, object] = {}
_HEADS: dict[tuple, Heads] = {}
_FEWSHOT: dict[tuple, object] = {}  # fitted project-topic classifiers (see TransformerScorer._fit_fewshot)


class HeadsMissing(FileNotFoundError):
    """No trained heads where the scorer looked; the message says how to train them."""


def heads_dir_for(encoder_name: str) -> Path:
    """Where the heads for an encoder are looked for (and written by default): the committed ones for the
    bundled encoder, the per-user cache for another."""
    from listener.nlp.encoder import DEFAULT_MODEL, cache_dir
    from listener.nlp.heads import BUNDLED_HEADS

    if encoder_name == DEFAULT_MODEL:
        return BUNDLED_HEADS
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder_name.strip("/"))
    return cache_dir() / "heads" / slug


def heads_setting(heads: str | Path | None = None) -> Path | None:
    """An explicit heads folder: the argument (`--heads DIR`), else $LISTENER_HEADS, else None (the default)."""
    chosen = heads or os.environ.get("LISTENER_HEADS") or None
    return Path(chosen).expanduser() if chosen else None


def precision_setting(precision: str | None = None) -> str:
    return (precision or os.environ.get("LISTENER_PRECISION") or "auto").strip().lower()


def get_encoder(model: str | None = None, precision: str | None = None):
    """The encoder for `model` (None: bundled), loaded once per process and shared by every scorer."""
    from listener.nlp.encoder import load_encoder

    key = (model or "", precision_setting(precision))
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = load_encoder(model, precision=key[1])
        return _ENCODERS[key]


def get_heads(encoder, heads: str | Path | None = None) -> Heads:
    """The heads for this encoder, from `heads` / $LISTENER_HEADS or the default folder for the encoder.

    Loading never trains: missing heads are an error that names the command that trains them.
    """
    explicit = heads_setting(heads)
    folder = explicit or heads_dir_for(encoder.name)
    with _LOCK:
        key = (encoder.name, str(folder))
        if key in _HEADS:
            return _HEADS[key]
        if not Heads.exists(folder):
            from listener.nlp.encoder import is_default

            model = "" if is_default(encoder.name) else f" --model {encoder.name}"
            where = f"--heads {folder}" if explicit else ""
            raise HeadsMissing(
                f"no trained heads for encoder {encoder.name} in {folder} (sentiment.npz, topics.npz and "
                f"heads.json expected); train them with `listener model train{model} -o {folder}`"
                + (f" or point {where.split()[0]} / LISTENER_HEADS at a folder it wrote" if explicit else ""))
        loaded = Heads.load(folder)
        if loaded.dim != encoder.dim:
            raise ValueError(f"the heads in {folder} are for {loaded.dim}-dimensional embeddings but "
                             f"{encoder.name} gives {encoder.dim}; retrain them with `listener model train` "
                             f"for this encoder")
        loaded.branch = load_branch_for(folder, encoder)
        _HEADS[key] = loaded
        return loaded


def load_branch_for(folder: Path, encoder):
    """The fine-tuned sentiment branch in `folder`, or None (see listener.nlp.branch)."""
    from listener.nlp.branch import branch_declared, load_branch

    if not branch_declared(folder):
        return None
    config = getattr(getattr(encoder, "model", None), "config", None)
    if getattr(config, "model_type", None) != "bert" or config.hidden_size != encoder.dim:
        raise ValueError(f"the heads in {folder} carry a sentiment branch fine-tuned on the bundled encoder; "
                         f"{encoder.name} cannot run it (use --heads with heads trained for this encoder)")
    base = encoder.model
    if encoder.info.precision == "int8":  # packed int8 weights: the branch is rebuilt from the fp32 layers
        from listener.nlp.encoder import default_model_dir

        base = default_model_dir() / "model.safetensors"
    return load_branch(folder, config, base_model=base)


def clear_cache(model: str | None = None) -> None:
    """Forget loaded encoders and heads: all of them, or only those of `model` (tests, after training)."""
    with _LOCK:
        _FEWSHOT.clear()
        if model is None:
            _ENCODERS.clear()
            _HEADS.clear()
            return
        for key in [k for k in _ENCODERS if k[0] == model]:
            del _ENCODERS[key]
        for key in [k for k in _HEADS if k[0] == model]:
            del _HEADS[key]


def forget_heads() -> None:
    """Drop loaded heads (after training wrote new ones); encoders stay loaded."""
    with _LOCK:
        _HEADS.clear()
        _FEWSHOT.clear()

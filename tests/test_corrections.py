"""A person's correction outlasts the model: a re-score and a fresh copy from the source both keep it."""

from datetime import datetime, timezone

import pytest

from listener.corrections import Corrections
from listener.model import Mention, Sentiment
from listener.nlp.rescore import rescore
from listener.pipeline import PipelineContext, process_batch
from listener.store import open_store
from listener.store.base import Filters

T0 = datetime(2026, 11, 3, 9, tzinfo=timezone.utc)


class AlwaysNegative:
    """A scorer that calls everything negative about login: what a person will disagree with."""

    topic_labels = ("account_access",)

    def score(self, mentions):
        for mention in mentions:
            mention.sentiment = Sentiment(label="negative", score=0.9)
            mention.topics = ["account_access"]


def mention(native_id: str, text: str) -> Mention:
    return Mention(source="reddit", native_id=native_id, text=text, lang="en", published_at=T0)


@pytest.fixture
def setup(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    corrections = Corrections(tmp_path / "corrections.db")
    ctx = PipelineContext(store=store, scorer=AlwaysNegative(), keep_unmatched=True, corrections=corrections)
    process_batch([mention("a", "Nimbus is fine, the fee was refunded"), mention("b", "Nimbus locked me out")], ctx)
    first = store.get(mention("a", "x").id)
    corrections.record(store, first.id, "ed", sentiment="positive", topics=["pricing"])
    yield store, corrections, ctx, first.id, mention("b", "x").id
    corrections.close()
    store.close()


def test_rescore_keeps_what_a_person_corrected_and_rescores_the_rest(setup):
    store, corrections, _, corrected, other = setup
    report = rescore(store, AlwaysNegative(), Filters(include_duplicates=True), corrections=corrections)
    assert report.seen == 2 and report.corrected == 1
    kept = store.get(corrected)
    assert kept.sentiment.label == "positive" and kept.sentiment.score == 1.0 and kept.topics == ["pricing"]
    assert store.get(other).sentiment.label == "negative"
    # without the corrections, a re-score would have overwritten it: the test above is not vacuous
    rescore(store, AlwaysNegative(), Filters(include_duplicates=True))
    assert store.get(corrected).sentiment.label == "negative"


def test_a_fresh_copy_from_the_source_keeps_the_correction(setup):
    store, _, ctx, corrected, other = setup
    report = process_batch([mention("a", "Nimbus is fine, the fee was refunded (edited)"),
                            mention("b", "Nimbus locked me out (edited)")], ctx)
    assert report.updated == 2
    assert store.get(corrected).sentiment.label == "positive" and store.get(corrected).topics == ["pricing"]
    assert store.get(other).sentiment.label == "negative"


def test_a_topics_only_correction_leaves_the_models_sentiment(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    with Corrections(tmp_path / "corrections.db") as corrections:
        ctx = PipelineContext(store=store, scorer=AlwaysNegative(), keep_unmatched=True, corrections=corrections)
        process_batch([mention("t", "Nimbus charged me twice")], ctx)
        corrections.record(store, mention("t", "x").id, "ed", topics=["payments", "pricing"])
        rescore(store, AlwaysNegative(), corrections=corrections)
        stored = store.get(mention("t", "x").id)
        assert stored.topics == ["payments", "pricing"] and stored.sentiment.label == "negative"
        assert stored.sentiment.score == 0.9  # the model's own judgement, not a person's
    store.close()

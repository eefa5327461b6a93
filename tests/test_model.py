from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from listener.model import Mention, Sentiment, make_author_id, make_mention_id


def mention(**kw):
    base = dict(source="reddit", native_id="t3_abc", text="nimbus is down again",
                published_at=datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc))
    base.update(kw)
    return Mention(**base)


def test_id_is_deterministic_from_source_and_native_id():
    a, b = mention(), mention(text="edited text")
    assert a.id == b.id
    assert mention(native_id="t3_other").id != a.id
    assert mention(source="youtube").id != a.id


def test_id_falls_back_to_url_and_requires_one():
    m = mention(native_id=None, url="https://forum.example.org/t/1")
    assert m.id == make_mention_id("reddit", url="https://forum.example.org/t/1")
    with pytest.raises(ValidationError, match="native_id or a url"):
        mention(native_id=None, url=None)


def test_numeric_native_id_is_text():
    assert mention(native_id=123).native_id == "123"


def test_published_at_becomes_aware_utc():
    tehran = timezone(timedelta(hours=3, minutes=30))
    m = mention(published_at=datetime(2026, 11, 1, 15, 30, tzinfo=tehran))
    assert m.published_at == datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    assert m.published_at.utcoffset() == timedelta(0)
    naive = mention(published_at=datetime(2026, 11, 1, 12, 0))
    assert naive.published_at.tzinfo is not None and naive.published_at.hour == 12


def test_author_id_is_stable_hash_not_the_name():
    m = mention(author_name="Sara_K")
    assert m.author_id == make_author_id("reddit", "sara_k")
    assert "sara" not in m.author_id.lower()


def test_needs_text_or_title_and_valid_rating():
    with pytest.raises(ValidationError):
        mention(text="", title=None)
    with pytest.raises(ValidationError):
        mention(rating=7)
    assert mention(text="", title="only a title").full_text == "only a title"


def test_json_round_trip_keeps_every_field():
    m = mention(url="https://reddit.com/r/x/1", author_name="a", title="t", lang="en", rating=4.5,
                thread_id="t3_abc", parent_id="t1_p", score=5, replies=2, views=10, brands=["Nimbus"],
                sentiment=Sentiment(label="negative", score=0.91), topics=["payments"], duplicate_of="x",
                fingerprint="00ff00ff00ff00ff", company_reply="sorry!", extra={"flair": "help"})
    again = Mention.from_json(m.to_json())
    assert again == m


# ---------------------------------------------------------------- sentiment probabilities and "mixed"

from listener.model import MIXED_MIN, MIXED_NEGATIVE_MARGIN, SentimentProbabilities  # noqa: E402


def test_sentiment_keeps_all_three_probabilities_and_labels_the_likeliest():
    s = Sentiment.from_probabilities([0.1, 0.2, 0.7])
    assert (s.label, s.score) == ("positive", 0.7)
    assert s.probabilities == SentimentProbabilities(negative=0.1, neutral=0.2, positive=0.7)
    assert not s.mixed and not s.corrected
    assert Sentiment.from_probabilities([0.2, 0.6, 0.2]).label == "neutral"


@pytest.mark.parametrize("probs, label, mixed", [
    ([0.40, 0.15, 0.45], "negative", True),   # praise and complaint, positive barely ahead: the complaint wins
    ([0.30, 0.40, 0.30], "negative", True),   # torn between praise and complaint: not "neutral"
    ([0.30, 0.00, 0.70], "positive", True),   # mixed, but positive leads by far more than the margin
    ([0.29, 0.06, 0.65], "positive", False),  # below MIXED_MIN: not substantial
    ([0.25, 0.40, 0.35], "neutral", False),   # negative too small: the most likely class
    ([0.55, 0.10, 0.35], "negative", True),
])
def test_mixed_rule(probs, label, mixed):
    s = Sentiment.from_probabilities(probs)
    assert (s.label, s.mixed) == (label, mixed)
    assert s.score == s.probabilities.get(label)


def test_mixed_margin_boundary():
    assert MIXED_NEGATIVE_MARGIN == 0.15 and MIXED_MIN == 0.3  # the cases below sit either side of these
    assert Sentiment.from_probabilities([0.33, 0.20, 0.47]).label == "negative"  # positive leads by 0.14
    assert Sentiment.from_probabilities([0.31, 0.20, 0.49]).label == "positive"  # by 0.18
    assert Sentiment.from_probabilities([0.29, 0.24, 0.47]).label == "positive"  # not mixed at all


def test_probabilities_are_normalised_and_refused_when_meaningless():
    s = Sentiment.from_probabilities([2.0, 1.0, 1.0])  # unnormalised scores become probabilities
    assert s.probabilities.negative == 0.5 and s.label == "negative"
    with pytest.raises(ValueError):
        Sentiment.from_probabilities([0.5, 0.5])
    with pytest.raises(ValueError):
        Sentiment.from_probabilities([0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        Sentiment.from_probabilities([float("nan"), 0.5, 0.5])
    with pytest.raises(ValidationError, match="sum to 1"):
        SentimentProbabilities(negative=0.5, neutral=0.5, positive=0.5)


def test_mixed_is_in_the_json_and_ignored_when_read_back():
    m = mention(sentiment=Sentiment.from_probabilities([0.45, 0.1, 0.45]))
    line = m.to_json()
    assert '"mixed":true' in line and '"negative":0.45' in line
    back = Mention.from_json(line)
    assert back == m and back.sentiment.mixed
    old = Mention.from_json(mention(sentiment=Sentiment(label="negative", score=0.9)).to_json())
    assert old.sentiment.probabilities is None and not old.sentiment.mixed  # scored before they were kept


def test_a_correction_keeps_the_models_probabilities_and_says_it_is_a_persons():
    model = Sentiment.from_probabilities([0.1, 0.2, 0.7])
    person = model.corrected_to("negative")
    assert (person.label, person.score, person.corrected) == ("negative", 1.0, True)
    assert person.probabilities == model.probabilities


def test_the_rule_applied_to_its_own_output_gives_the_same_sentiment():
    import random

    rng = random.Random(3)
    for _ in range(500):
        raw = [rng.random() for _ in range(3)]
        first = Sentiment.from_probabilities([v / sum(raw) for v in raw])
        p = first.probabilities
        assert Sentiment.from_probabilities([p.negative, p.neutral, p.positive]) == first

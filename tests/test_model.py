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

"""`listener stats` pieces: star ratings against predicted sentiment, share of voice."""

from datetime import datetime, timezone

from listener.model import Mention, Sentiment
from listener.stats import rating_agreement
from listener.store import open_store
from listener.store.base import Filters

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def review(i, stars, label):
    return Mention(source="trustpilot", native_id=str(i), text=f"review {i}", rating=stars, published_at=T0,
                   sentiment=Sentiment(label=label, score=0.9) if label else None)


def test_rating_agreement_counts_by_star_band(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.upsert([review(1, 1, "negative"), review(2, 2, "positive"), review(3, 3, "neutral"),
                  review(4, 5, "positive"), review(5, 4, "positive"), review(6, 4.5, "negative"),
                  review(7, 5, None),  # unscored: not counted
                  Mention(source="reddit", native_id="x", text="no rating", published_at=T0,
                          sentiment=Sentiment(label="negative", score=0.9))])
    result = rating_agreement(store, Filters())
    assert result["rated_and_scored"] == 6
    assert result["agreement"] == 4 / 6
    assert result["by_stars"]["negative"] == {"negative": 1, "neutral": 0, "positive": 1}
    assert result["by_stars"]["positive"] == {"negative": 1, "neutral": 0, "positive": 2}
    store.close()

"""The model's three sentiment probabilities travel with a mention: rescore writes them, a person's correction
keeps them beside the person's label, export and the API carry them, and the web pages show them (escaped)
with a "mixed" badge and the review's stars. The rule itself: tests/test_model.py; the stores: the contract."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from listener.corrections import Corrections
from listener.export import CSV_COLUMNS, export_lines
from listener.model import Mention, Sentiment
from listener.nlp.rescore import rescore
from listener.nlp.scorer import Prediction
from listener.store import open_store
from listener.store.base import Filters
from tests.test_web_pages import assert_inert, csrf_of, login
from tests.web_support import XSS_IMG, XSS_TEXT, build

T0 = datetime(2026, 11, 3, 9, tzinfo=timezone.utc)


class WordScorer:
    """Probabilities from words: 'late' and 'great' together are mixed, 'late' alone negative, else positive."""

    topic_labels = ()

    @staticmethod
    def probabilities(text: str) -> list[float]:
        if "late" in text and "great" in text:
            return [0.42, 0.16, 0.42]
        return [0.8, 0.15, 0.05] if "late" in text else [0.05, 0.15, 0.8]

    def score(self, mentions):
        for m in mentions:
            m.sentiment = Prediction(np.array(self.probabilities(m.text)), [], {}).sentiment


def mention(native_id: str, text: str, **fields) -> Mention:
    return Mention(source="trustpilot", native_id=native_id, text=text, lang="en", published_at=T0, **fields)


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as opened:
        yield opened


def test_rescore_writes_the_probabilities_and_counts_mixed(store, tmp_path):
    old = [mention("a", "great food, late delivery", sentiment=Sentiment(label="positive", score=0.9)),
           mention("b", "late again"), mention("c", "great")]
    store.upsert(old)
    assert store.count(Filters(mixed=True)) == 0  # scored before probabilities were kept
    report = rescore(store, WordScorer())
    assert report.mixed == 1 and report.labels == {"negative": 2, "positive": 1}
    a = store.get(old[0].id).sentiment
    assert a.label == "negative" and a.mixed and a.probabilities.get("positive") == 0.42  # the complaint wins
    assert store.get(old[1].id).sentiment.probabilities.get("negative") == 0.8
    assert [m.native_id for m in store.iter_mentions(Filters(mixed=True))] == ["a"]


def test_a_correction_keeps_the_models_probabilities_through_a_rescore(store, tmp_path):
    m = mention("a", "great food, late delivery")
    store.upsert([m])
    rescore(store, WordScorer())
    with Corrections(tmp_path / "corrections.db") as corrections:
        corrections.record(store, m.id, "ed", sentiment="positive")
        got = store.get(m.id).sentiment
        assert (got.label, got.score, got.corrected) == ("positive", 1.0, True)
        assert got.probabilities.get("negative") == 0.42 and got.mixed  # what the model said, still visible
        report = rescore(store, WordScorer(), corrections=corrections)
        again = store.get(m.id).sentiment
        assert report.corrected == 1 and again.label == "positive" and again.corrected
        assert again.probabilities == got.probabilities
        # the person's label is what the stores select by
        assert store.count(Filters(sentiments=("positive",), mixed=True)) == 1


def test_export_carries_the_probabilities(store):
    items = [mention("a", "great food, late delivery"), mention("b", "=1+1 late"), mention("c", "unscored text")]
    WordScorer().score(items[:2])
    items[1] = items[1].model_copy(update={"sentiment": items[1].sentiment.corrected_to("neutral")})
    rows = list(csv.DictReader(io.StringIO("".join(export_lines(items, "csv")))))
    assert {"sentiment_negative", "sentiment_neutral", "sentiment_positive", "sentiment_mixed",
            "sentiment_corrected"} <= set(CSV_COLUMNS)
    assert (rows[0]["sentiment"], rows[0]["sentiment_negative"], rows[0]["sentiment_positive"],
            rows[0]["sentiment_mixed"], rows[0]["sentiment_corrected"]) == ("negative", "0.4200", "0.4200", "yes", "no")
    assert (rows[1]["sentiment"], rows[1]["sentiment_score"], rows[1]["sentiment_negative"],
            rows[1]["sentiment_corrected"]) == ("neutral", "1.000", "0.8000", "yes")
    assert rows[2]["sentiment"] == rows[2]["sentiment_negative"] == rows[2]["sentiment_mixed"] == ""
    assert rows[1]["text"].startswith("'=")  # still formula-safe
    lines = [json.loads(line) for line in export_lines(items, "jsonl")]
    assert lines[0]["sentiment"]["probabilities"] == {"negative": 0.42, "neutral": 0.16, "positive": 0.42}
    assert lines[0]["sentiment"]["mixed"] is True and "sentiment" not in lines[2]
    assert Mention.from_json(json.dumps(lines[1])) == items[1]  # re-importable


@pytest.fixture()
def web(tmp_path):
    fixture = build(tmp_path)
    review = Mention(source="trustpilot", native_id="mixed-review", title=f"Nimbus {XSS_TEXT}",
                     text=f"nimbus app is great but the refund was late {XSS_IMG}", lang="en", rating=3.0,
                     published_at=fixture.now - timedelta(hours=2), brands=["Nimbus"],
                     sentiment=Sentiment.from_probabilities([0.41, 0.18, 0.41]))
    fixture.store.upsert([review])
    fixture.review_id = review.id
    yield fixture
    fixture.close()


def test_mention_page_shows_probabilities_mixed_and_stars_escaped(web):
    client = login(web.app, "ed")
    html = client.get(f"/mentions/{web.review_id}").text
    assert_inert(html)
    facts = html[html.index("<dt>Sentiment</dt>"):html.index("</dd>", html.index("<dt>Sentiment</dt>"))]
    assert '<span class="sentiment negative">negative</span>' in facts and 'class="sentiment mixed"' in facts
    assert '<meter min="0" max="1" value="0.41"' in facts and '<meter min="0" max="1" value="0.18"' in facts
    assert "41%" in facts and "18%" in facts and "3.0 ★" in facts
    assert "the model said" not in facts
    # corrected: the person's label, and what the model said beside it
    token = csrf_of(html)
    client.post(f"/mentions/{web.review_id}/correct", data={"csrf": token, "sentiment": "positive"})
    facts = client.get(f"/mentions/{web.review_id}").text.split("<dt>Sentiment</dt>", 1)[1].split("</dd>", 1)[0]
    assert '<span class="sentiment positive">positive</span>' in facts and "the model said" in facts
    assert '<meter min="0" max="1" value="0.41"' in facts and "100%" not in facts
    # a mention scored before probabilities were kept shows its label only
    old = client.get(f"/mentions/{web.fa_id}").text
    assert "<meter" not in old and 'class="sentiment mixed"' not in old


def test_api_and_search_page_say_mixed(web):
    client = login(web.app)
    body = client.get(f"/api/mentions/{web.review_id}").json()["mention"]["sentiment"]
    assert body["probabilities"] == {"negative": 0.41, "neutral": 0.18, "positive": 0.41}
    assert body["mixed"] is True and body["corrected"] is False and body["label"] == "negative"
    found = client.get("/api/search", params={"mixed": "true"}).json()
    assert [h["mention"]["native_id"] for h in found["hits"]] == ["mixed-review"]
    page = client.get("/", params={"mixed": "1", "brand": "Nimbus"}).text
    assert_inert(page)
    assert 'name="mixed" value="1" checked' in page and page.count('class="mention"') == 1
    assert 'class="sentiment mixed"' in page and "3.0 ★" in page
    assert "mixed=1" in page.split("chart these")[0].rsplit("href=", 1)[1]  # carried into the links
    everything = client.get("/", params={"brand": "Nimbus"}).text
    assert everything.count('class="mention"') > 1 and everything.count('class="sentiment mixed"') == 1

"""The TransformerScorer on real mentions in three languages, zero-shot topics, unscored languages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from listener.model import Mention

pytestmark = pytest.mark.model
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


@dataclass
class ProjectTopic:  # the shape of listener.config.Topic
    label: str
    description: str
    examples: tuple[str, ...] = ()


def m(text, lang=None, i=[0]):
    i[0] += 1
    return Mention(source="test", native_id=str(i[0]), text=text, lang=lang, published_at=T0)


@pytest.fixture(scope="session")
def scorer():
    from listener.nlp import load_scorer

    return load_scorer(precision="fp32", topics=[ProjectTopic(
        "card_delivery", "Ordering a physical debit card, card shipping and delivery delays, lost cards in the post.",
        ("still waiting for my nimbus card, ordered 3 weeks ago", "کارتم هنوز نرسیده"))])


CASES = [
    ("Nimbus froze my account and support has ignored me for a week. Absolutely useless.", "en", "negative"),
    ("Honestly the best banking app I've used, transfers arrive in seconds 😍", "en", "positive"),
    ("حسابم سه روزه مسدود شده و پشتیبانی هیچ جوابی نمیده. واقعا افتضاحه", "fa", "negative"),
    ("نیمبوس عالیه، انتقال پول خیلی سریع انجام شد. دمتون گرم 🙏", "fa", "positive"),
    ("التطبيق يعلق كل ما أحاول أحول فلوس، خدمة العملاء ما ترد. سيء جداً", "ar", "negative"),
    ("تطبيق ممتاز والتحويل وصل في ثواني، شكراً نيمبس ❤️", "ar", "positive"),
]


@pytest.mark.parametrize("text,lang,label", CASES)
def test_clear_sentiment_in_three_languages(scorer, text, lang, label):
    mention = m(text, lang)
    scorer.score([mention])
    assert mention.sentiment is not None and mention.sentiment.label == label
    assert 0.5 < mention.sentiment.score <= 1.0


def test_every_scored_mention_keeps_the_three_probabilities_its_label_came_from(scorer):
    from listener.model import SENTIMENT_LABELS, Sentiment

    mentions = [m(text, lang) for text, lang, _ in CASES]
    mentions.append(m("The pizza was delicious but the delivery took two hours and it arrived cold.", "en"))
    scorer.score(mentions)
    for mention in mentions:
        p = mention.sentiment.probabilities
        values = [p.get(label) for label in SENTIMENT_LABELS]
        assert abs(sum(values) - 1.0) < 0.001 and mention.sentiment.score == p.get(mention.sentiment.label)
        assert mention.sentiment == Sentiment.from_probabilities(values)  # one rule, wherever it is applied
    assert [x.sentiment.mixed for x in mentions[:len(CASES)]] == [False] * len(CASES)  # clear texts are not mixed


def test_topics_from_the_head(scorer):
    mentions = [m("I never get the verification code so I can't log in to my account", "en"),
                m("they charged me a hidden fee of $15 on a transfer, way too expensive", "en"),
                m("یه پیامک فیشینگ به اسم نیمبوس اومد، حواستون باشه کلاهبرداریه", "fa")]
    scorer.score(mentions)
    assert "account_access" in mentions[0].topics
    assert "pricing" in mentions[1].topics
    assert "security_fraud" in mentions[2].topics


def test_zero_shot_project_topic(scorer):
    mentions = [m("ordered my nimbus debit card a month ago and it still hasn't been delivered", "en"),
                m("کارت بانکیم که سفارش دادم هنوز با پست نرسیده", "fa"),
                m("the app crashes every time I open it", "en")]
    scorer.score(mentions)
    assert "card_delivery" in mentions[0].topics and "card_delivery" in mentions[1].topics
    assert "card_delivery" not in mentions[2].topics
    assert "card_delivery" in scorer.topic_labels


def test_zero_shot_topic_is_rare_on_unrelated_chatter(scorer):
    """Its threshold comes from a background sample, so ordinary posts about the brand do not get it."""
    from listener.nlp.data import LABELLED_DIR, read_labelled

    unrelated = [e.text for e in read_labelled(sorted(LABELLED_DIR.glob("*.jsonl"))).examples
                 if e.split == "eval" and "card" not in e.text.lower() and "کارت" not in e.text
                 and "بطاق" not in e.text][:300]
    mentions = [m(text) for text in unrelated]
    scorer.score(mentions)
    share = sum("card_delivery" in x.topics for x in mentions) / len(mentions)
    assert share <= 0.05


def test_unsupported_language_is_left_unscored(scorer):
    mentions = [m("Die App stürzt ständig ab und der Kundendienst antwortet nicht.", "de"),
                m("这个应用程序总是崩溃，客服也不回复。")]
    scorer.score(mentions)
    assert all(x.sentiment is None for x in mentions)


def test_language_is_detected_when_missing(scorer):
    mention = m("پشتیبانی خیلی بد بود و پولم هنوز برنگشته")
    scorer.score([mention])
    assert mention.lang == "fa" and mention.sentiment is not None


def test_language_tags_are_folded(scorer):
    mentions = [m("terrible app, it keeps crashing", "en-US"), m("تطبيق سيء ويعلق دائماً", "ara")]
    scorer.score(mentions)
    assert all(x.sentiment is not None for x in mentions)


def test_encoder_is_loaded_once_per_process(scorer):
    from listener.nlp import load_scorer

    other = load_scorer(precision="fp32")
    assert other.encoder is scorer.encoder and other.heads is scorer.heads
    assert other.zero_shot_topics == []


def test_many_mentions_in_one_call(scorer):
    mentions = [m(f"transfer number {i} is still pending after two days, not happy", "en") for i in range(70)]
    scorer.score(mentions)
    assert all(x.sentiment and x.sentiment.label == "negative" for x in mentions)

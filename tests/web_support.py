"""A demo-shaped web fixture for the page and browser tests: three brands (one own, two competitors) with
English, Persian and Arabic mentions over the last three weeks, a Reddit-like thread, a planted spike with a
raised alert and its explanation, an SEO report, and a stranger's XSS payload in every field a page shows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from listener.alerts.state import AlertRecord, AlertState
from listener.config import Settings
from listener.corrections import Corrections
from listener.model import Mention, Sentiment
from listener.store import open_store
from listener.web import create_app
from listener.web.users import Users

PASSWORD = "correct horse battery"
# Each payload sets a flag and opens a dialog if it ever runs; the browser test listens for both.
XSS_TEXT = "<script>window.__xss=1;alert('text')</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1;alert(\'img\')">'
XSS_SVG = "<svg onload=alert('svg')>"
XSS_URL = "javascript:window.__xss=1;alert(document.cookie)"

PROJECT = """
[project]
name = "web test"

[[brand]]
name = "Nimbus"
query = "nimbus OR نیمبوس OR نيمبس"
own_domains = ["help.nimbus.example"]

[[brand]]
name = "Kestrel Pay"
query = "kestrel"
competitor = true

[[brand]]
name = "Orbit <b>Pay</b>"
query = "orbit"
competitor = true

[[serp]]
question = "nimbus refund"
brand = "Nimbus"
own_page = "https://help.nimbus.example/refunds"
"""

EN = ["Nimbus refund still pending after a week", "Love the new Nimbus card design",
      "Nimbus app keeps logging me out", "Transferred money with Nimbus, all fine"]
FA = ["بازپرداخت نیمبوس هنوز انجام نشده", "برنامه نیمبوس عالی است", "کد تایید نیمبوس نمی‌رسد"]
AR = ["استرداد نيمبس لم يصل بعد", "تطبيق نيمبس ممتاز", "رمز التحقق من نيمبس لا يصل"]
SENTIMENT = {0: "negative", 1: "positive", 2: "negative", 3: "neutral"}


@dataclass
class WebFixture:
    app: object
    store: object
    users: Users
    alerts: AlertState
    corrections: Corrections
    alert_id: int
    thread_root: str  # mention ids
    thread_reply: str
    xss_id: str
    fa_id: str
    now: datetime

    def close(self) -> None:
        for part in (self.alerts, self.users, self.corrections, self.store):
            part.close()


def sample(now: datetime) -> list[Mention]:
    rng = random.Random(7)
    out = []
    start = now - timedelta(days=21)
    for i in range(240):  # the everyday background: a few mentions an hour across brands and languages
        when = start + timedelta(minutes=rng.randrange(21 * 24 * 60 - 120))
        lang = rng.choice(["en", "en", "fa", "ar"])
        k = rng.randrange(3)
        text = {"en": EN[k], "fa": FA[k], "ar": AR[k]}[lang]
        brand = rng.choice(["Nimbus", "Nimbus", "Kestrel Pay", "Orbit <b>Pay</b>"])
        label = SENTIMENT[k]
        out.append(Mention(source=rng.choice(["reddit", "trustpilot", "forum"]), native_id=f"bg{i}", text=text,
                           lang=lang, author_name=f"user{i % 17}", url=f"https://forum.example/t/{i}",
                           published_at=when, brands=[brand], topics=["payments"] if k == 0 else ["account_access"],
                           sentiment=Sentiment(label=label, score=0.8)))
    spike = now - timedelta(hours=6)
    for i in range(40):  # the planted incident: refund complaints in one hour
        out.append(Mention(source="reddit", native_id=f"sp{i}", text=f"Nimbus refund failed again #{i}", lang="en",
                           author_name=f"angry{i}", url=f"https://www.reddit.com/r/nimbus/comments/sp{i}/",
                           published_at=spike + timedelta(minutes=i), brands=["Nimbus"], topics=["payments"],
                           sentiment=Sentiment(label="negative", score=0.95)))
    # A thread: a post, a reply, and a reply to the reply (ids as Reddit gives them).
    root_time = now - timedelta(days=2)
    out += [
        Mention(source="reddit", native_id="t3_root", thread_id="t3_root", title="Nimbus refund thread",
                text="Has anyone had their Nimbus refund arrive?", lang="en", author_name="Opener",
                url="https://www.reddit.com/r/nimbus/comments/root/", published_at=root_time, brands=["Nimbus"],
                sentiment=Sentiment(label="neutral", score=0.7)),
        Mention(source="reddit", native_id="t1_reply", thread_id="t3_root", parent_id="t3_root",
                text="Mine took 10 days, support never answered", lang="en", author_name="Replier",
                url="https://www.reddit.com/r/nimbus/comments/root/_/reply/", published_at=root_time + timedelta(hours=1),
                brands=["Nimbus"], sentiment=Sentiment(label="negative", score=0.9)),
        Mention(source="reddit", native_id="t1_deeper", thread_id="t3_root", parent_id="t1_reply",
                text="Same here, ten days exactly", lang="en", author_name="Third",
                url="https://www.reddit.com/r/nimbus/comments/root/_/deeper/",
                published_at=root_time + timedelta(hours=2), brands=["Nimbus"]),
    ]
    # Persian, right to left, with a payload-free text so the search for it is unambiguous.
    out.append(Mention(source="forum", native_id="fa-main", text="بازپرداخت من از نیمبوس دو هفته طول کشید",
                       lang="fa", author_name="سارا", url="https://forum.example/fa/1",
                       published_at=now - timedelta(hours=30), brands=["Nimbus"], topics=["payments"],
                       sentiment=Sentiment(label="negative", score=0.85)))
    # The attacker: a payload in the text, the title, the author's name, the URL and a topic.
    out.append(Mention(source="forum", native_id="xss", title=f"Nimbus refund {XSS_TEXT}",
                       text=f"nimbus refund scam {XSS_TEXT} {XSS_IMG} {XSS_SVG}", lang="en",
                       author_name=f"Mallory {XSS_IMG}", url=XSS_URL, published_at=now - timedelta(hours=3),
                       brands=["Nimbus"], topics=[f"topic{XSS_SVG}"], company_reply=f"We are sorry {XSS_IMG}",
                       sentiment=Sentiment(label="negative", score=0.9)))
    return out


def build(tmp_path: Path) -> WebFixture:
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    project = tmp_path / "project.toml"
    project.write_text(PROJECT, encoding="utf-8")
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_PROJECT": str(project)})
    store = open_store(settings.store_url)
    mentions = sample(now)
    store.upsert(mentions)
    by_native = {m.native_id: m for m in mentions}
    users = Users(tmp_path / "users.db")
    users.add("vera", PASSWORD, "viewer")
    users.add("ed", PASSWORD, "editor")
    users.add("ada", PASSWORD, "admin")
    alerts = AlertState(tmp_path / "alerts.db")
    spike = now - timedelta(hours=6)
    series = store.timeseries(_nimbus(spike - timedelta(days=3), spike + timedelta(hours=1)), interval="1h")
    xss = by_native["xss"]
    details = {
        "observed": 40, "expected": 1.2, "chart": {
            "times": [t.isoformat() for t, _ in series], "counts": [sum(v.values()) for _, v in series],
            "window": [spike.isoformat(), (spike + timedelta(hours=1)).isoformat()]},
        "drivers": {"topic": [{"value": "payments", "count": 40, "share": 1.0, "baseline_share": 0.3, "excess": 28}],
                    "author": [{"value": "a1", "name": f"Mallory {XSS_IMG}", "count": 3, "share": 0.1,
                                "baseline_share": 0.0, "excess": 3}]},
        "terms": [{"term": "refund", "share": 0.9, "baseline_share": 0.2}, {"term": XSS_SVG, "share": 0.1,
                                                                            "baseline_share": 0.0}],
        "answer_first": [{"id": xss.id, "source": "forum", "url": XSS_URL, "author": f"Mallory {XSS_IMG}",
                          "title": xss.title, "text": xss.text, "sentiment": "negative", "engagement": 5}],
    }
    record = AlertRecord(subject="volume:Nimbus", rule="Nimbus mention spike", kind="volume", brand="Nimbus",
                         split="", window_start=spike, window_end=spike + timedelta(hours=1), observed=40,
                         expected=1.2, p=1e-9, z=8.5, title=f"Nimbus mentions spiked {XSS_TEXT}", details=details)
    stored = alerts.raise_alert(record, lambda last, new: True, [])
    _serp(settings, now)
    corrections = Corrections(tmp_path / "corrections.db")
    app = create_app(settings, store=store, users=users, alert_state=alerts, corrections=corrections)
    return WebFixture(app, store, users, alerts, corrections, stored.id, by_native["t3_root"].id,
                      by_native["t1_reply"].id, xss.id, by_native["fa-main"].id, now)


def _nimbus(since, until):
    from listener.store.base import Filters

    return Filters(brands=("Nimbus",), since=since, until=until)


def _serp(settings: Settings, now: datetime) -> None:
    from listener.config import load_project
    from listener.seo.history import RankHistory
    from listener.seo.model import SerpPage, SerpResult
    from listener.seo.questions import questions_of

    question = questions_of(load_project(settings.project_file))[0]
    results = [SerpResult(position=1, url="https://forum.example/t/nimbus-refund", title=f"Nimbus scam {XSS_TEXT}"),
               SerpResult(position=2, url=XSS_URL, title="click me"),
               SerpResult(position=3, url="https://help.nimbus.example/refunds", title="Refunds")]
    with RankHistory.open(settings) as history:
        history.record(question.key, "Nimbus", SerpPage(engine="test", query=question.text, fetched_at=now,
                                                         results=results))

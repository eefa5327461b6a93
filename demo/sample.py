"""The demo's sample data: hand-written posts, reviews, articles and comments placed on a 21-day timeline.

The content (demo/data/content_{en,fa,ar}.jsonl) was written for this project. Each line is one
of these objects:
  {"type": "thread", "subreddit": "...", "brand": "...", "title": "...", "text": "...",
   "comments": [{"text": "...", "replies": [{"text": "..."}]}], "incident": false}
  {"type": "review", "site": "trustpilot|appstore|googleplay", "brand": "...", "rating": 1-5,
   "title": "...", "text": "...", "reply": "the company's answer, optional", "incident": false}
  {"type": "article", "site": "news|blog|forum", "brand": "...", "title": "...", "text": "...", "incident": false}
  {"type": "video", "brand": "...", "title": "...", "comments": [{"text": "..."}], "incident": false}
This module gives each item a time, an author and ids, deterministically from a seed, and returns
source-agnostic `SamplePost`s; `demo.render` renders them into the shapes the real sources
serve (Reddit API JSON, review pages, feeds, YouTube API JSON), which the real gatherers then fetch.

The planted incident: on day INCIDENT_DAY_AGO before the end, Nimbus verification codes stop arriving
after an app update, and the items marked "incident" all land within a few hours of each other.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Iterator

DAYS = 21
# Two days before the sample's end (the last midnight UTC), so the README's `--since 3d` always holds it.
INCIDENT_DAYS_AGO = 2
INCIDENT_START_HOUR_UTC = 10  # 14:00 in Dubai, 13:30 in Tehran
INCIDENT_HOURS = 6
LANGS = ("en", "fa", "ar")
# Local hour-of-day activity (people post in the evening more than at 4 am); index = local hour.
_DIURNAL = [0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.55, 0.8, 0.95, 1.0, 1.0, 1.0, 0.95, 0.9, 0.9,
            0.95, 1.0, 1.1, 1.2, 1.2, 1.05, 0.8, 0.5]
_UTC_OFFSET_HOURS = {"en": -5, "fa": 3.5, "ar": 3}


@dataclass
class SamplePost:
    """One thing somebody wrote, placed in time; `children` are replies (thread comments, video comments)."""

    key: str  # unique within the sample, stable across runs
    lang: str
    kind: str  # thread, comment, review, article, video
    site: str  # reddit, trustpilot, appstore, googleplay, news, blog, forum, youtube
    brand: str
    author: str
    published_at: datetime
    text: str
    title: str | None = None
    rating: int | None = None
    reply: str | None = None
    subreddit: str | None = None
    incident: bool = False
    children: list["SamplePost"] = field(default_factory=list)

    def walk(self) -> Iterator["SamplePost"]:
        yield self
        for child in self.children:
            yield from child.walk()


def load_content(lang: str) -> list[dict]:
    text = resources.files("demo").joinpath(f"data/content_{lang}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_authors(lang: str) -> list[str]:
    text = resources.files("demo").joinpath(f"data/authors_{lang}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _random_time(rng: random.Random, lang: str, end: datetime) -> datetime:
    """A time in the window, weighted by local hour of day and a little by weekday."""
    while True:
        moment = end - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        local = moment + timedelta(hours=_UTC_OFFSET_HOURS[lang])
        weight = _DIURNAL[local.hour] * (0.8 if local.weekday() in (4, 5) else 1.0)
        if rng.random() < weight / 1.2:
            return moment


def _incident_time(rng: random.Random, end: datetime) -> datetime:
    day = (end - timedelta(days=INCIDENT_DAYS_AGO)).replace(hour=INCIDENT_START_HOUR_UTC, minute=0, second=0,
                                                            microsecond=0)
    # Most reports in the first hours, tailing off: an exponential decay from the start.
    offset = min(rng.expovariate(1 / 1.6), INCIDENT_HOURS) * 3600
    return day + timedelta(seconds=offset)


def _later(rng: random.Random, moment: datetime, mean_minutes: float = 90) -> datetime:
    return moment + timedelta(minutes=rng.expovariate(1 / mean_minutes) + 1)


# The sample is drawn once against this end, then moved by whole days to end at the last midnight (UTC)
# before the real end. Drawing it against the real clock made every run different (the time of day steers
# which draws are kept, and so which reviews are the newest a page shows: 163 Google Play reviews on one
# run, 184 on the next); whole days keep each post's hour of day, so the daily rhythm stays as drawn.
REFERENCE_END = datetime(2026, 11, 22, tzinfo=timezone.utc)


def sample_end(end: datetime | None = None) -> datetime:
    """Where the sample ends for a real end (now): the last midnight UTC at or before it."""
    end = (end or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return end.replace(hour=0, minute=0, second=0, microsecond=0)


def hostile_thread(end: datetime) -> SamplePost:
    """A stranger's Reddit thread with markup and script in every field a page shows (title, text, author, a
    reply), as scraped text can carry: `listener serve` on the demo must show it as text and never run it.
    Placed at a fixed time outside the incident, with its own fixed author, so the random draw of the rest
    of the sample is the same with or without it."""
    when = end - timedelta(days=6, hours=9, minutes=17)
    post = SamplePost(
        key="en-hostile", lang="en", kind="thread", site="reddit", brand="Nimbus",
        author="<img src=x onerror=alert('author')>", published_at=when, subreddit="nimbuswallet",
        title="Nimbus <script>alert('title')</script> refund trick",
        text="Nimbus support asked me to paste this: <img src=x onerror=\"alert('text')\"> "
             "<svg onload=alert('svg')> - is that safe?",
    )
    post.children = [SamplePost(
        key="en-hostile.0", lang="en", kind="comment", site="reddit", brand="Nimbus", author="careful_reader",
        published_at=when + timedelta(minutes=23),
        text="Never paste code from a stranger into anything. Nimbus support will not ask for that. "
             "<a href=\"javascript:alert('link')\">click</a>",
    )]
    return post


def build_sample(end: datetime | None = None, seed: int = 20261122) -> list[SamplePost]:
    """The whole sample: top-level posts with their replies, times in (sample_end(end) - 21 days,
    sample_end(end)); the same posts, times of day and counts whatever `end` is."""
    posts = sorted(_draw(REFERENCE_END, seed) + [hostile_thread(REFERENCE_END)], key=lambda p: p.published_at)
    shift = sample_end(end) - REFERENCE_END
    for post in posts:
        for item in post.walk():
            item.published_at += shift
    return posts


def _draw(end: datetime, seed: int) -> list[SamplePost]:
    rng = random.Random(seed)
    posts: list[SamplePost] = []
    for lang in LANGS:
        authors = load_authors(lang)
        for number, item in enumerate(load_content(lang)):
            incident = bool(item.get("incident"))
            when = _incident_time(rng, end) if incident else _random_time(rng, lang, end)
            kind = item["type"]
            site = {"thread": "reddit", "video": "youtube"}.get(kind, item.get("site", "news"))
            post = SamplePost(
                key=f"{lang}-{number}", lang=lang, kind=kind, site=site, brand=item.get("brand", "Nimbus"),
                author=rng.choice(authors), published_at=when, text=item.get("text", ""), title=item.get("title"),
                rating=item.get("rating"), reply=item.get("reply"), subreddit=item.get("subreddit"),
                incident=incident,
            )
            post.children = list(_children(rng, post, item.get("comments", []), authors, end, depth=0))
            posts.append(post)
    posts.sort(key=lambda p: p.published_at)
    return posts


def _children(rng, parent: SamplePost, comments: list[dict], authors: list[str], end: datetime,
              depth: int) -> Iterator[SamplePost]:
    moment = parent.published_at
    for index, comment in enumerate(comments):
        moment = _later(rng, moment, mean_minutes=40 if parent.incident else 120)
        if moment >= end:
            # not written yet when the sample ends; squeezing such replies into the last second made a
            # fake spike at the demo's start time
            return
        child = SamplePost(
            key=f"{parent.key}.{index}", lang=parent.lang, kind="comment", site=parent.site, brand=parent.brand,
            author=rng.choice(authors), published_at=moment, text=comment["text"], incident=parent.incident,
        )
        child.children = list(_children(rng, child, comment.get("replies", []), authors, end, depth + 1))
        yield child


def count_mentions(posts: list[SamplePost]) -> int:
    """Every post, comment and reply counts as one mention (a video itself is not a mention)."""
    return sum(1 for post in posts for item in post.walk() if item.kind != "video")

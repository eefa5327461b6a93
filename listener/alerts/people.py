"""Alerts about single people and single threads: the repeat complainer and the high-visibility negative.

Repeat complainer: the same person complaining `repeat_count` times within the rule's window, across
sources. One person on several sources is recognised by their display name as `author:` queries compare
it (listener.query.author_key: case, accents, Persian/Arabic letter variants and punctuation folded, so
"Sara_K", "sara k" and "SARA-K" are one key). Names that many people share by default ("deleted",
"anonymous", "user", empty) never group. Author ids stay per source (they are what privacy deletion
uses); this grouping is only for the alert.

High-visibility negative: a negative mention whose engagement (score, replies, views, helpful votes)
is above what the brand's negative mentions of the last two weeks reached (their 99th percentile) and at
least `min_volume` points: a thread many people are reading right now.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterator

from listener.alerts.detectors import Score
from listener.alerts.tails import p_to_z, poisson_sf
from listener.config import parse_duration
from listener.model import Mention
from listener.query import author_key
from listener.store.base import Filters, Store

GENERIC_NAMES = {"", "deleted", "anonymous", "anon", "user", "guest", "customer", "a customer", "unknown",
                 "removed", "none", "n a", "ناشناس", "مستخدم", "کاربر"}
READ_LIMIT = 1000


def _read(store: Store, filters: Filters, limit: int = READ_LIMIT) -> list[Mention]:
    out, cursor = [], None
    while len(out) < limit:
        page = store.search(filters, limit=min(200, limit - len(out)), cursor=cursor)
        out.extend(hit.mention for hit in page.hits)
        cursor = page.next_cursor
        if not cursor:
            break
    return out


def person_key(mention: Mention) -> str | None:
    """The cross-source identity of a mention's author, or None when the name says nothing."""
    if not mention.author_name:
        return None
    key = author_key(mention.author_name)
    return None if key in GENERIC_NAMES or len(key) < 3 else key


def repeat_authors(store: Store, subject, now: datetime) -> Iterator:
    from listener.alerts.check import Candidate

    rule = subject.rule
    window = parse_duration(rule.window)
    start = now - window
    negative = replace(subject.filters, sentiments=("negative",), since=start, until=now)
    groups: dict[str, list[Mention]] = {}
    for mention in _read(store, negative):
        key = person_key(mention)
        if key:
            groups.setdefault(key, []).append(mention)
    for key, mentions in sorted(groups.items()):
        if len(mentions) < rule.repeat_count:
            continue
        sources = sorted({m.source for m in mentions})
        # "expected": one complaint per person per window is what a support queue sees normally
        p = poisson_sf(len(mentions), 1.0)
        last = max(m.published_at for m in mentions)
        score = Score(t=last.timestamp(), observed=len(mentions), expected=1.0, p=p, z=p_to_z(p), window=1, ready=True)
        name = mentions[0].author_name
        yield Candidate(score, start, now, "repeat_author", split=f"author={key}",
                        title=f"{subject.brand}: {name} complained {len(mentions)} times in {rule.window} "
                              f"({', '.join(sources)})",
                        extra={"person": {"name": name, "key": key, "sources": sources,
                                          "author_ids": sorted({m.author_id for m in mentions if m.author_id}),
                                          "how": "same display name once case, accents, letter variants and "
                                                 "punctuation are folded (listener.query.author_key)"}})


def engagement(mention: Mention) -> float:
    """One number for how many people a mention reaches: score + 2 x replies + views / 100 + helpful votes."""
    helpful = mention.extra.get("helpful") or mention.extra.get("helpful_votes") or 0
    try:
        helpful = float(helpful)
    except (TypeError, ValueError):
        helpful = 0.0
    return max(0.0, float(mention.score or 0)) + 2.0 * (mention.replies or 0) + (mention.views or 0) / 100.0 + helpful


def high_visibility(store: Store, subject, now: datetime) -> Iterator:
    from listener.alerts.check import Candidate

    rule = subject.rule
    window = parse_duration(rule.window)
    start = now - window
    negative = replace(subject.filters, sentiments=("negative",))
    recent = _read(store, replace(negative, since=start, until=now), limit=500)
    if not recent:
        return
    history = [engagement(m) for m in _read(store, replace(negative, since=now - timedelta(days=14), until=start))]
    history.sort()
    threshold = history[min(len(history) - 1, math.ceil(0.99 * len(history)) - 1)] if history else 0.0
    threshold = max(threshold, float(rule.min_volume), 1.0)
    median = history[len(history) // 2] if history else 0.0
    for mention in recent:
        value = engagement(mention)
        if value <= threshold:
            continue
        # how many of the history were at least as visible, as a tail probability (with a +1 prior)
        at_least = sum(1 for h in history if h >= value)
        p = min(1.0, (at_least + 1) / (len(history) + 1))
        score = Score(t=mention.published_at.timestamp(), observed=value, expected=median, p=p, z=p_to_z(p),
                      window=1, ready=True)
        headline = (mention.title or mention.text)[:80]
        yield Candidate(score, start, now, "engagement", split=f"mention={mention.id}",
                        title=f"{subject.brand}: a negative {mention.source} post is drawing attention "
                              f"({value:.0f} engagement, usual {median:.0f}): {headline}",
                        extra={"mention_id": mention.id})

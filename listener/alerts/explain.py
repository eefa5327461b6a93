"""Why an alert fired: observed vs expected, what drives it compared with the baseline, what to answer first.

Everything is computed through the Store interface (count, terms, search, timeseries), so it reads the
same from SQLite and Elasticsearch. The result is plain JSON (stored with the alert); the chart is drawn
from it when a message is rendered (listener.alerts.chart).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import timedelta

from listener.alerts.people import engagement
from listener.store.base import Filters, Store
from listener.text import normalise, tokens

BASELINE = timedelta(days=7)
CHART_SPAN = timedelta(days=3)
DRIVER_FIELDS = ("topic", "source", "author", "lang")
#: short words that carry no topic in the three languages the project scores
STOPWORDS = set("""the a an and or but if of to in on at for with from by is are was were be been it its this that
these those i me my we our you your he she they them their not no so as just than then there here what which
who when where why how all any can could would should will do does did have has had am im i'm dont don't cant
can't still again after before about into over out up down more most very too also only now get got one two
است و در به از که این را با برای یک تا هم آن ها من ما شما بود شد می نمی هست ولی اما یا
في من على إلى عن أن إن هذا هذه ما لا لم لن مع كان قد هو هي كل ثم أو و يا""".split())


def explain_alert(store: Store, project, subject, candidate) -> dict:
    """The explanation stored with an alert (JSON-safe)."""
    score = candidate.score
    window = replace(subject.filters, since=candidate.start, until=candidate.end)
    baseline = replace(subject.filters, since=candidate.start - BASELINE, until=candidate.start)
    window_total = store.count(window)
    baseline_total = store.count(baseline)
    out = {
        "observed": score.observed, "expected": round(score.expected, 2), "p": score.p, "z": round(score.z, 2),
        "window": {"start": candidate.start.isoformat(), "end": candidate.end.isoformat()},
        "mentions_in_window": window_total,
        "drivers": drivers(store, window, baseline, window_total, baseline_total),
        "terms": terms(store, window, baseline),
        "answer_first": answer_first(store, window),
        "chart": chart_series(store, subject.filters, candidate),
    }
    return out


def drivers(store: Store, window: Filters, baseline: Filters, window_total: int, baseline_total: int) -> dict:
    """Per field, the values with the most mentions beyond what their baseline share predicts."""
    out = {}
    for field in DRIVER_FIELDS:
        now = dict(store.terms(window, field, size=10))
        if not now:
            continue
        before = dict(store.terms(baseline, field, size=200))
        rows = []
        for value, count in now.items():
            share_before = before.get(value, 0) / baseline_total if baseline_total else 0.0
            expected = share_before * window_total
            rows.append({"value": value, "count": count, "share": round(count / max(window_total, 1), 3),
                         "baseline_share": round(share_before, 3), "excess": round(count - expected, 1)})
        rows.sort(key=lambda r: -r["excess"])
        out[field] = rows[:5]
    if "author" in out:  # author ids are opaque; show the name they post under
        for row in out["author"]:
            page = store.search(replace(window, authors=(row["value"],)), limit=1)
            if page.hits:
                row["name"] = page.hits[0].mention.author_name
                row["source"] = page.hits[0].mention.source
    return out


def _words(text: str) -> set[str]:
    return {w for w in tokens(normalise(text)) if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()}


def terms(store: Store, window: Filters, baseline: Filters, sample: int = 300) -> list[dict]:
    """Words that are far more common in the window's mentions than in the baseline's (smoothed log-odds)."""
    now_docs = [h.mention for h in store.search(window, limit=min(sample, 200)).hits]
    before_docs = [h.mention for h in store.search(baseline, limit=200).hits]
    if not now_docs:
        return []
    now_counts = Counter(w for m in now_docs for w in _words(m.full_text))
    before_counts = Counter(w for m in before_docs for w in _words(m.full_text))
    n_now, n_before = len(now_docs), max(len(before_docs), 1)
    scored = []
    for word, count in now_counts.items():
        if count < max(2, 0.1 * n_now):
            continue
        lift = math.log((count + 0.5) / (n_now + 1)) - math.log((before_counts.get(word, 0) + 0.5) / (n_before + 1))
        if lift > math.log(2):
            scored.append({"term": word, "share": round(count / n_now, 3),
                           "baseline_share": round(before_counts.get(word, 0) / n_before, 3), "lift": round(lift, 2)})
    scored.sort(key=lambda r: (-r["lift"] * r["share"], r["term"]))
    return scored[:8]


def priority(mention) -> float:
    """Answer first: reach (engagement, log-scaled) times how negative it is."""
    negativity = 0.2
    if mention.sentiment is not None:
        negativity = mention.sentiment.score if mention.sentiment.label == "negative" else \
            (0.3 if mention.sentiment.label == "neutral" else 0.05)
    unanswered = 0.6 if mention.company_reply else 1.0
    return (1.0 + math.log1p(engagement(mention))) * negativity * unanswered


def answer_first(store: Store, window: Filters, size: int = 5) -> list[dict]:
    candidates = [h.mention for h in store.search(window, limit=200).hits]
    candidates.sort(key=lambda m: (-priority(m), m.published_at))
    out = []
    for m in candidates[:size]:
        out.append({
            "id": m.id, "source": m.source, "url": m.url, "author": m.author_name, "author_id": m.author_id,
            "title": m.title,
            "text": (m.text or "")[:400], "lang": m.lang, "published_at": m.published_at.isoformat(),
            "sentiment": m.sentiment.label if m.sentiment else None, "engagement": engagement(m),
            "topics": list(m.topics),
        })
    return out


def chart_series(store: Store, filters: Filters, candidate) -> dict:
    """Hourly counts of the subject over the last days, for the chart (the spike window marked)."""
    since = candidate.end - CHART_SPAN
    series = store.timeseries(replace(filters, since=since, until=candidate.end), interval="1h", tz="UTC")
    return {"times": [t.isoformat() for t, _ in series], "counts": [sum(v.values()) for _, v in series],
            "window": [candidate.start.isoformat(), candidate.end.isoformat()]}

"""The sentiment targets of issue 12, checked against evaluation metrics per set (`listener model eval`).

Each target names a set (as in the shared public data, `set` field), a metric of `evaluate_examples` and a
threshold. They are printed beside the numbers so a retrain shows at once what it meets; they are not used
for any choice in training.
"""

from __future__ import annotations

#: (set, metric, at least, what it stands for)
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("tweeteval", "macro_recall", 0.70, "English tweets macro-recall"),
    ("semeval2017_4a", "macro_recall", 0.70, "English tweets macro-recall"),
    ("sst2", "accuracy", 0.90, "English sentences accuracy"),
    ("snappfood", "accuracy", 0.87, "Persian reviews accuracy"),
    ("astd", "positive_negative", 0.88, "Arabic tweets positive/negative accuracy"),
    ("arsarcasm_v2", "positive_negative", 0.88, "Arabic tweets positive/negative accuracy"),
    ("astd", "macro_recall", 0.65, "Arabic tweets 3-way macro-recall"),
    ("arsarcasm_v2", "macro_recall", 0.65, "Arabic tweets 3-way macro-recall"),
)
NEUTRAL_RECALL = 0.60  # on every 3-way set


def _value(metrics: dict, metric: str) -> float | None:
    if metric == "positive_negative":
        return (metrics.get("positive_negative") or {}).get("accuracy")
    if metric == "neutral_recall":
        neutral = (metrics.get("per_class") or {}).get("neutral") or {}
        return neutral.get("recall") if neutral.get("support") else None
    return metrics.get(metric)


def check_targets(report: dict) -> list[dict]:
    """One row per target whose set is in the report: set, what, metric, target, measured, met."""
    sets = report.get("sets") or {}
    rows = []
    for name, metric, target, what in TARGETS:
        if name in sets and _value(sets[name], metric) is not None:
            value = _value(sets[name], metric)
            rows.append({"set": name, "what": what, "metric": metric, "target": target, "measured": value,
                         "met": value >= target})
    for name, m in sorted(sets.items()):
        value = _value(m, "neutral_recall")
        if not m.get("two_class") and value is not None:
            rows.append({"set": name, "what": "neutral recall on a 3-way set", "metric": "neutral_recall",
                         "target": NEUTRAL_RECALL, "measured": value, "met": value >= NEUTRAL_RECALL})
    return rows

"""Re-score stored mentions (after a retrain, a new model or new project topics), in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class RescoreReport:
    seen: int = 0
    scored: int = 0  # got a sentiment (a supported language)
    unscored: int = 0  # left without one (language not covered, no text)
    changed: int = 0  # sentiment label or topics differ from before
    labels: dict[str, int] = field(default_factory=dict)
    kept_topics: dict[str, int] = field(default_factory=dict)  # topics the scorer does not know, kept as they were
    corrected: int = 0  # mentions a person corrected: their labels were put back after scoring
    mixed: int = 0  # scored mentions with both negative and positive probabilities high (Sentiment.mixed)


def rescore(store, scorer, filters=None, batch_size: int = 256,
            on_batch: Callable[[RescoreReport], None] | None = None, corrections=None) -> RescoreReport:
    """Score every mention matching `filters` again and write it back with one upsert per batch.

    Each mention's sentiment is replaced whole: label, probability and the model's three probabilities (a
    mention scored before probabilities were kept gets them here). A mention's topics that the scorer does not know (a project's own topics, when the scorer was built
    without that project) are kept: the scorer cannot judge them, so it must not erase them. With
    `corrections` (listener.corrections.Corrections), what people corrected stays as they said.

    Memory stays flat: mentions stream from `store.iter_mentions` and each batch is written before the next
    is read. Upserts are idempotent by id, so an interrupted run can simply be run again.
    """
    from listener.store.base import Filters

    filters = filters or Filters(include_duplicates=True)
    report = RescoreReport()
    batch = []

    def flush() -> None:
        before = {m.id: (m.sentiment.label if m.sentiment else None, tuple(m.topics)) for m in batch}
        known = set(getattr(scorer, "topic_labels", ()) or ())
        unknown = {m.id: [t for t in m.topics if t not in known] for m in batch}
        scorer.score(batch)
        for m in batch:
            keep = [t for t in unknown[m.id] if t not in m.topics]
            if keep and m.sentiment is not None:
                m.topics = [*m.topics, *keep]
                for t in keep:
                    report.kept_topics[t] = report.kept_topics.get(t, 0) + 1
        if corrections is not None:
            report.corrected += corrections.apply(batch)
        for m in batch:
            label = m.sentiment.label if m.sentiment else "unscored"
            report.labels[label] = report.labels.get(label, 0) + 1
            report.scored += m.sentiment is not None
            report.unscored += m.sentiment is None
            report.mixed += m.sentiment is not None and m.sentiment.mixed
            report.changed += before[m.id] != (m.sentiment.label if m.sentiment else None, tuple(m.topics))
        store.upsert(batch)
        report.seen += len(batch)
        if on_batch:
            on_batch(report)
        batch.clear()

    for mention in store.iter_mentions(filters, batch_size=max(batch_size, 100)):
        batch.append(mention)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return report

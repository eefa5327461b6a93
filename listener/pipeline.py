"""The ingest pipeline: normalise → dedupe → match brands → score → index, as functions over batches.

Both runtimes use it: the embedded one calls `process_batch` inline, the Celery workers call it from a
task. Each step is a plain function over a list of mentions, so each is tested on its own.

Safety: indexing is one idempotent upsert by deterministic id, so a batch that crashes half-way can be
run again whole: nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence
from urllib.parse import urlsplit

from listener.dedupe import bands as fingerprint_bands
from listener.dedupe import fingerprints, is_duplicate
from listener.model import Mention
from listener.text import detect_language, normalise, squash_spaces

log = logging.getLogger(__name__)

class Scorer(Protocol):
    """Sets `sentiment` and `topics` on the mentions it can score, in place; leaves the rest unscored."""

    def score(self, mentions: list[Mention]) -> None: ...


@dataclass
class BatchReport:
    received: int = 0
    inserted: int = 0
    updated: int = 0
    repeated_in_batch: int = 0  # the same id twice in one batch: the later copy wins
    near_duplicates: int = 0  # linked to an original via duplicate_of
    unmatched: int = 0  # matched no brand query and were dropped
    scored: int = 0
    ids: list[str] = field(default_factory=list)

    def add(self, other: "BatchReport") -> None:
        for name in ("received", "inserted", "updated", "repeated_in_batch", "near_duplicates", "unmatched",
                     "scored"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ids.extend(other.ids)


# ---------------------------------------------------------------- normalise


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host.removeprefix("www.") or None


def normalise_batch(batch: Iterable[Mention], languages: tuple[str, ...] = ()) -> list[Mention]:
    """Tidy white space, fill domain and language (among `languages` when given), compute the
    near-duplicate fingerprint."""
    out = list(batch)
    for mention in out:
        mention.text = mention.text.strip()
        if mention.title:
            mention.title = squash_spaces(mention.title)
        if mention.domain is None:
            mention.domain = host_of(mention.url)
        if mention.lang is None:
            mention.lang = detect_language(mention.full_text, languages)
    missing = [m for m in out if m.fingerprint is None]
    for mention, fp in zip(missing, fingerprints([normalise(m.text) for m in missing])):
        mention.fingerprint = fp
    return out


# ---------------------------------------------------------------- dedupe


class FingerprintLookup(Protocol):
    def find_fingerprints(self, bands: Sequence[str]) -> list[tuple[str, str]]: ...


def dedupe_batch(batch: list[Mention], store: FingerprintLookup | None) -> tuple[list[Mention], int, int]:
    """Drop repeated ids within the batch (the last copy wins) and link near-duplicates to their
    original: the earliest-published stored or in-batch mention with a near-identical text.
    Returns (mentions, repeated_in_batch, near_duplicates)."""
    by_id: dict[str, Mention] = {}
    for mention in batch:
        by_id[mention.id] = mention
    repeated = len(batch) - len(by_id)
    unique = sorted(by_id.values(), key=lambda m: m.published_at)

    # band -> (id, fingerprint) of originals sharing it, stored ones first, then this batch's.
    candidates: dict[str, list[tuple[str, str]]] = {}
    if store is not None:
        bands = [b for m in unique if m.fingerprint for b in fingerprint_bands(m.fingerprint)]
        for start in range(0, len(bands), 900):
            for original in store.find_fingerprints(bands[start:start + 900]):
                for band in fingerprint_bands(original[1]):
                    candidates.setdefault(band, []).append(original)
    near = 0
    for mention in unique:
        if not mention.fingerprint:
            continue
        mention.duplicate_of = _original_of(mention, candidates)
        if mention.duplicate_of:
            near += 1
        else:  # an original: later mentions in this batch may copy it
            for band in fingerprint_bands(mention.fingerprint):
                candidates.setdefault(band, []).append((mention.id, mention.fingerprint))
    return unique, repeated, near


def _original_of(mention: Mention, candidates: dict[str, list[tuple[str, str]]]) -> str | None:
    for band in fingerprint_bands(mention.fingerprint):
        for original_id, fp in candidates.get(band, ()):
            if original_id != mention.id and is_duplicate(fp, mention.fingerprint):
                return original_id
    return None


# ---------------------------------------------------------------- match brands


class BrandMatcher:
    """Tags mentions with the brands whose boolean query they match (compiled once)."""

    def __init__(self, brands: Sequence[tuple[str, str]]):
        from listener.query import parse
        from listener.query.matcher import compile_matcher

        self._matchers: list[tuple[str, Callable]] = [(name, compile_matcher(parse(query)))
                                                      for name, query in brands]

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def match(self, mention: Mention) -> list[str]:
        from listener.query.matcher import DocView

        doc = DocView.from_mention(mention)
        return [name for name, matches in self._matchers if matches(doc)]


def match_brands(batch: list[Mention], matcher: BrandMatcher | None, keep_unmatched: bool) -> tuple[list[Mention], int]:
    """Add matched brands to each mention (brands a source already set are kept, e.g. a review on the
    brand's own review page); drop mentions that match no brand unless keep_unmatched."""
    if not matcher:
        return batch, 0
    kept = []
    for mention in batch:
        for name in matcher.match(mention):
            if name not in mention.brands:
                mention.brands.append(name)
        if mention.brands or keep_unmatched:
            kept.append(mention)
    return kept, len(batch) - len(kept)


# ---------------------------------------------------------------- the whole batch


@dataclass
class PipelineContext:
    """What a batch needs: where to store, which brands to match, how to score."""

    store: object  # listener.store.Store
    matcher: BrandMatcher | None = None
    scorer: Scorer | None = None
    keep_unmatched: bool = False
    languages: tuple[str, ...] = ()  # the languages the project expects; detection chooses among them
    corrections: object | None = None  # listener.corrections.Corrections: people's labels win over the model's


def process_batch(batch: Iterable[Mention], ctx: PipelineContext) -> BatchReport:
    batch = list(batch)
    report = BatchReport(received=len(batch))
    mentions = normalise_batch(batch, ctx.languages)
    mentions, report.repeated_in_batch, report.near_duplicates = dedupe_batch(mentions, ctx.store)
    mentions, report.unmatched = match_brands(mentions, ctx.matcher, ctx.keep_unmatched)
    if ctx.scorer is not None and mentions:
        ctx.scorer.score(mentions)
        if ctx.corrections is not None:
            ctx.corrections.apply(mentions)
        report.scored = sum(1 for m in mentions if m.sentiment is not None)
    if mentions:
        result = ctx.store.upsert(mentions)
        report.inserted, report.updated, report.ids = result.inserted, result.updated, list(result.ids)
    return report


def process_stream(mentions: Iterable[Mention], ctx: PipelineContext, batch_size: int = 500,
                   on_batch: Callable[[BatchReport], None] | None = None) -> BatchReport:
    """Run a stream of mentions through the pipeline in batches; returns the summed report."""
    total = BatchReport()
    batch: list[Mention] = []
    for mention in mentions:
        batch.append(mention)
        if len(batch) >= batch_size:
            report = process_batch(batch, ctx)
            total.add(report)
            if on_batch:
                on_batch(report)
            batch = []
    if batch:
        report = process_batch(batch, ctx)
        total.add(report)
        if on_batch:
            on_batch(report)
    return total

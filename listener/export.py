"""Export mentions as JSON Lines (re-importable) or CSV (for spreadsheets), streaming."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Iterable, Iterator

from listener.config import Settings
from listener.model import SENTIMENT_LABELS
from listener.safety import safe_link, spreadsheet_cell
from listener.runtime import open_settings_store
from listener.store.base import Filters

# The model's three probabilities follow the label: blank where a mention was scored before they were kept.
# `sentiment_mixed` is the rule of listener.model.MIXED_MIN; `sentiment_corrected` says a person set the label
# (the probabilities stay the model's).
CSV_COLUMNS = ["id", "published_at", "source", "brands", "lang", "sentiment", "sentiment_score",
               "sentiment_negative", "sentiment_neutral", "sentiment_positive", "sentiment_mixed",
               "sentiment_corrected", "topics", "rating", "author_name", "author_id", "title", "text", "url", "domain", "score", "replies",
               "duplicate_of"]


def csv_row(mention) -> list:
    """One spreadsheet row: text cells cannot run as formulas, and the link column holds only web links."""
    return [spreadsheet_cell(cell) for cell in _csv_values(mention)]


def _probability_cells(sentiment) -> list:
    if sentiment is None:
        return ["", "", "", "", ""]
    p = sentiment.probabilities
    cells = [f"{p.get(label):.4f}" if p else "" for label in SENTIMENT_LABELS]
    return [*cells, "yes" if sentiment.mixed else "no", "yes" if sentiment.corrected else "no"]


def _csv_values(mention) -> list:
    return [
        mention.id, mention.published_at.isoformat(), mention.source, ";".join(mention.brands), mention.lang or "",
        mention.sentiment.label if mention.sentiment else "",
        f"{mention.sentiment.score:.3f}" if mention.sentiment else "",
        *_probability_cells(mention.sentiment),
        ";".join(mention.topics), "" if mention.rating is None else mention.rating, mention.author_name or "",
        mention.author_id or "", mention.title or "", mention.text, safe_link(mention.url) or "", mention.domain or "",
        "" if mention.score is None else mention.score, "" if mention.replies is None else mention.replies,
        mention.duplicate_of or "",
    ]


def export_lines(mentions: Iterable, fmt: str) -> Iterator[str]:
    """The export of `mentions` (e.g. `store.iter_mentions(filters)`) as chunks of text, streamed: the web API
    sends them as they come, the CLI writes them to a file."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for mention in mentions:
            writer.writerow(csv_row(mention))
            if buffer.tell() > 65536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    else:
        for mention in mentions:
            yield mention.to_json() + "\n"


def export_mentions(settings: Settings, filters: Filters, fmt: str, output: Path | None, bom: bool = False) -> int:
    """Write what `filters` select; `bom` starts the file with a UTF-8 BOM, which Excel needs to read it
    as UTF-8 (without it Persian and Arabic show as mojibake)."""
    handle = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    count = 0
    try:
        if bom:
            handle.write("\ufeff")
        with open_settings_store(settings) as store:
            def counted():
                nonlocal count
                for mention in store.iter_mentions(filters):
                    count += 1
                    yield mention

            for chunk in export_lines(counted(), fmt):
                handle.write(chunk)
    finally:
        if output:
            handle.close()
    return count

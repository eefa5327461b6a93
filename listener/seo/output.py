"""The outrank report as rows for CSV and plain dictionaries for JSON.

CSV cells are made safe for spreadsheets: scraped titles and URLs are hostile, and a cell starting with
=, +, -, @, a tab or a carriage return is run as a formula by Excel, LibreOffice and Google Sheets (OWASP's
"CSV injection"); such cells get a leading apostrophe. (Kept tiny here until a shared helper lands.)
"""

from __future__ import annotations

import csv
from typing import IO

from listener.seo.report import QuestionReport

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = ["question", "brand", "lang", "country", "status", "checked_at", "engine", "own_position", "own_url",
               "negative_exposure", "unscored_weight", "position", "url", "domain", "kind", "title", "click_share",
               "mentions", "negativity", "sentiment", "topics"]


def safe_cell(value) -> str:
    """A value as CSV text that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(rows: list[QuestionReport]):
    for row in rows:
        head = [row.question, row.brand, row.lang, row.country, row.status,
                row.checked_at.isoformat() if row.checked_at else None, row.engine, row.own_position, row.own_url,
                row.negative_exposure, row.unscored_weight]
        if not row.outranking:
            yield head + [None] * 10
        for page in row.outranking:
            yield head + [page.position, page.url, page.domain, page.kind, page.title, page.click_share,
                          page.mentions, page.negativity, page.sentiment, ";".join(page.topics)]


def write_csv(rows: list[QuestionReport], handle: IO[str]) -> None:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for values in csv_rows(rows):
        writer.writerow([safe_cell(v) for v in values])

"""The outrank report as rows for CSV and plain dictionaries for JSON.

CSV cells are made safe for spreadsheets with the shared helper (listener.safety.spreadsheet_cell): scraped
titles and URLs are hostile, and a cell starting with =, +, -, @ … is run as a formula by Excel, LibreOffice
and Google Sheets.
"""

from __future__ import annotations

import csv
from typing import IO

from listener.safety import spreadsheet_cell
from listener.seo.report import QuestionReport

CSV_COLUMNS = ["question", "brand", "lang", "country", "status", "checked_at", "engine", "own_position", "own_url",
               "negative_exposure", "unscored_weight", "position", "url", "domain", "kind", "title", "click_share",
               "mentions", "matched_by", "negativity", "sentiment", "topics"]


def safe_cell(value) -> str:
    """A value as CSV text that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(spreadsheet_cell(str(value)))


def csv_rows(rows: list[QuestionReport]):
    for row in rows:
        head = [row.question, row.brand, row.lang, row.country, row.status,
                row.checked_at.isoformat() if row.checked_at else None, row.engine, row.own_position, row.own_url,
                row.negative_exposure, row.unscored_weight]
        if not row.outranking:
            yield head + [None] * 11
        for page in row.outranking:
            yield head + [page.position, page.url, page.domain, page.kind, page.title, page.click_share,
                          page.mentions, page.matched_by, page.negativity, page.sentiment, ";".join(page.topics)]


def write_csv(rows: list[QuestionReport], handle: IO[str]) -> None:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for values in csv_rows(rows):
        writer.writerow([safe_cell(v) for v in values])

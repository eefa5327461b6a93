"""Statistics over stored mentions: volume over time, breakdowns, share of voice, rating agreement."""

from __future__ import annotations

import dataclasses

from listener.config import Settings
from listener.runtime import open_settings_store
from listener.store.base import TERM_FIELDS, Filters, Store

# Star ratings mapped to the sentiment a reviewer most likely meant, to check the model against them.
RATING_BANDS = {"negative": (0.0, 2.0), "neutral": (2.5, 3.5), "positive": (4.0, 5.0)}


def rating_agreement(store: Store, filters: Filters) -> dict:
    """How often predicted sentiment agrees with the review's stars (1-2 negative, 3 neutral, 4-5 positive)."""
    matrix: dict[str, dict[str, int]] = {}
    for stars, (low, high) in RATING_BANDS.items():
        banded = dataclasses.replace(filters, rating_min=low, rating_max=high)
        matrix[stars] = {label: store.count(dataclasses.replace(banded, sentiments=(label,)))
                         for label in ("negative", "neutral", "positive")}
    rated = sum(sum(row.values()) for row in matrix.values())
    agreeing = sum(matrix[label][label] for label in matrix)
    return {"rated_and_scored": rated, "agreement": (agreeing / rated) if rated else None,
            "by_stars": matrix}


def collect_stats(settings: Settings, filters: Filters, interval: str = "1d", tz: str = "UTC",
                  top: int = 10) -> dict:
    with open_settings_store(settings) as store:
        return stats_of_store(store, filters, interval=interval, tz=tz, top=top)


def stats_of_store(store: Store, filters: Filters, interval: str = "1d", tz: str = "UTC", top: int = 10,
                   fields: tuple[str, ...] = TERM_FIELDS, agreement: bool = True) -> dict:
    """Volume over time, breakdowns and share of voice from an open store (the web app passes its own).
    `fields` and `agreement` leave out what a caller does not show (each breakdown is a pass over the matches)."""
    total = store.count(filters)
    unscored = store.count(dataclasses.replace(filters, sentiments=("unscored",)))
    duplicates = store.count(dataclasses.replace(filters, include_duplicates=True)) - total
    breakdowns = {field: store.terms(filters, field, size=top) if field in fields else [] for field in TERM_FIELDS}
    series = store.timeseries(filters, interval=interval, tz=tz, split="sentiment")
    agreement = rating_agreement(store, filters) if agreement else None
    # Authors are counted by their stable id (which `--author` and `forget --author` take); show the
    # name they last posted under beside it.
    authors = []
    for author_id, count in breakdowns["author"]:
        page = store.search(dataclasses.replace(filters, authors=(author_id,)), limit=1)
        name = page.hits[0].mention.author_name if page.hits else None
        authors.append({"id": author_id, "name": name, "mentions": count})
    brand_total = sum(count for _, count in breakdowns["brand"])
    share_of_voice = [{"brand": brand, "mentions": count, "share": count / brand_total}
                      for brand, count in breakdowns["brand"]] if brand_total else []
    return {
        "total": total,
        "unscored": unscored,
        "near_duplicates_hidden": duplicates,
        "interval": interval,
        "tz": tz,
        "timeseries": [{"start": start, **counts} for start, counts in series],
        "breakdowns": breakdowns,
        "share_of_voice": share_of_voice,
        "top_authors": authors,
        "rating_agreement": agreement,
    }


def share_of_voice(store: Store, filters: Filters, brands: list[str] | None = None) -> list[dict]:
    """Each brand's mentions, share and negative share among `brands` (the project's brands and competitors),
    under the other filters; without a brand list, the brands the store holds. Most mentioned first."""
    if not brands:
        brands = [brand for brand, _ in store.terms(dataclasses.replace(filters, brands=()), "brand", size=20)]
    rows = []
    for brand in brands:
        selected = dataclasses.replace(filters, brands=(brand,))
        count = store.count(selected)
        negative = store.count(dataclasses.replace(selected, sentiments=("negative",))) if count else 0
        rows.append({"brand": brand, "mentions": count, "negative": negative,
                     "negative_share": negative / count if count else None})
    total = sum(row["mentions"] for row in rows)
    for row in rows:
        row["share"] = row["mentions"] / total if total else 0.0
    return sorted(rows, key=lambda row: (-row["mentions"], row["brand"]))

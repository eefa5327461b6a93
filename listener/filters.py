"""Filters from what a user typed: dates ('7d', '2026-11-01T08:00'), intervals, time zones, ratings and the
query, checked with a message that names the option and the fix. The CLI and the web API share them, so a
value means the same and is refused the same way everywhere."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from listener.store.base import INTERVALS, Filters


class UserInputError(ValueError):
    """An argument a user gave is wrong; the message says which and how to fix it."""


_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_time(text: str | None, option: str, now: datetime | None = None) -> datetime | None:
    """'2026-11-01', '2026-11-01T08:00[+03:30]' or a relative '7d' / '12h' / '30m' / '2w' (ago)."""
    if not text:
        return None
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        try:
            return now - timedelta(**{unit: int(match.group(1))})
        except (OverflowError, ValueError):
            raise UserInputError(f"{option}: {text.strip()} reaches back before year 1; "
                                 "give a date like 2020-01-01 instead") from None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserInputError(f"{option}: expected a date like 2026-11-01, a time like 2026-11-01T08:00, "
                             f"or an age like 7d, got {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def check_interval(interval: str) -> str:
    if interval not in INTERVALS:
        raise UserInputError(f"--interval: expected one of {', '.join(INTERVALS)}, got {interval!r}")
    return interval


def check_tz(tz: str) -> str:
    """An IANA time-zone name that this machine knows."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError; "../x" is a ValueError
        raise UserInputError(f"--tz: unknown time zone {tz!r}; use an IANA name like UTC, Europe/Berlin or "
                             "Asia/Tehran") from None
    return tz


_SENTIMENTS = ("negative", "neutral", "positive", "unscored")


def build_filters(query: str, brands, sources, langs, sentiments, topics, since, until, rating_min, rating_max,
                  duplicates: bool, mixed: bool = False) -> Filters:
    """Filters from CLI options; the query is parsed now so a syntax error is reported before any work."""
    from listener.query import parse

    if query.strip():
        parse(query)
    for option, value in (("--rating-min", rating_min), ("--rating-max", rating_max)):
        if value is not None and not 0 <= value <= 5:  # also refuses nan, which compares false to everything
            raise UserInputError(f"{option}: expected a rating from 0 to 5, got {value}")
    for value in sentiments:
        if value not in _SENTIMENTS:
            raise UserInputError(f"--sentiment: expected one of {', '.join(_SENTIMENTS)}, got {value!r}")
    return Filters(
        query=query.strip() or None,
        brands=tuple(brands), sources=tuple(s.lower() for s in sources), langs=tuple(l.lower() for l in langs),
        sentiments=tuple(sentiments), topics=tuple(topics),
        since=parse_time(since, "--since"), until=parse_time(until, "--until"),
        rating_min=rating_min, rating_max=rating_max, include_duplicates=duplicates, mixed=mixed,
    )

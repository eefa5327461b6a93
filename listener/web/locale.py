"""Numbers and dates formatted for the reader: the browser's Accept-Language picks a Babel locale (CLDR data).

The interface text stays English; only numbers, percentages and dates follow the reader's conventions
(1,234.5 or 1.234,5 or ۱٬۲۳۴٫۵). Times are shown in UTC and say so, since mentions come from every time zone.
"""

from __future__ import annotations

from datetime import datetime, timezone

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

DEFAULT = Locale("en", "US")
_MAX_TAGS = 10  # a header with hundreds of tags is not a reader's; look at the first few


def reader_locale(accept_language: str | None) -> Locale:
    """The best locale Babel knows among the header's languages, by their q-values; English when none."""
    choices = []
    for position, part in enumerate((accept_language or "").split(",")[:_MAX_TAGS]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and len(tag) <= 35:
            choices.append((-quality, position, tag))
    for _, _, tag in sorted(choices):
        try:
            return Locale.parse(tag, sep="-")
        except (ValueError, UnknownLocaleError):
            continue
    return DEFAULT


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits else "")


class Formatter:
    """What the templates call: `fmt.number(1234)`, `fmt.percent(.25)`, `fmt.datetime(value)`."""

    def __init__(self, locale: Locale):
        self.locale = locale

    def number(self, value, digits: int = 0) -> str:
        if value is None:
            return ""
        return format_decimal(value, format=_pattern(digits), locale=self.locale)

    def percent(self, value, digits: int = 0) -> str:
        if value is None:
            return ""
        return format_percent(value, format=_pattern(digits) + "%", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        return format_datetime(value, format="medium", tzinfo="UTC", locale=self.locale) + " UTC" if value else ""

    def timestamp(self, epoch: float | None) -> str:
        return self.datetime(datetime.fromtimestamp(epoch, timezone.utc)) if epoch else ""

    def date(self, value: datetime | None) -> str:
        return format_date(value, format="medium", locale=self.locale) if value else ""

    def axis(self, value: datetime, interval_seconds: int) -> str:
        """A short label for a chart axis: the day for day buckets, else day and hour."""
        if interval_seconds >= 86400:
            return format_date(value, format="d MMM", locale=self.locale)
        return format_datetime(value, format="d MMM HH:mm", tzinfo="UTC", locale=self.locale)


def formatter_for(request) -> Formatter:
    return Formatter(reader_locale(request.headers.get("accept-language")))

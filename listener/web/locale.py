"""Numbers and dates formatted for the reader: the browser's Accept-Language picks a Babel locale (CLDR data).

The interface text stays English; only numbers, percentages and dates follow the reader's conventions
(1,234.5 or 1.234,5). Times are shown in one time zone and say which: the page's `tz` parameter, else the
project's `timezone` (the brand's working day), else UTC, since mentions come from every time zone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

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

    def __init__(self, locale: Locale, tz: str = "UTC"):
        self.locale = locale
        self.tz = tz
        self._zone = ZoneInfo(tz)

    def number(self, value, digits: int = 0) -> str:
        if value is None:
            return ""
        return format_decimal(value, format=_pattern(digits), locale=self.locale)

    def percent(self, value, digits: int = 0) -> str:
        if value is None:
            return ""
        return format_percent(value, format=_pattern(digits) + "%", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if not value:
            return ""
        return format_datetime(value, format="medium", tzinfo=self._zone, locale=self.locale) + " " + self.tz

    def timestamp(self, epoch: float | None) -> str:
        return self.datetime(datetime.fromtimestamp(epoch, timezone.utc)) if epoch else ""

    def date(self, value: datetime | None) -> str:
        return format_date(value.astimezone(self._zone), format="medium", locale=self.locale) if value else ""

    def axis(self, value: datetime, interval_seconds: int) -> str:
        """A short label for a chart axis: the day for day buckets, else day and hour."""
        if interval_seconds >= 86400:
            return format_date(value.astimezone(self._zone), format="d MMM", locale=self.locale)
        return format_datetime(value, format="d MMM HH:mm", tzinfo=self._zone, locale=self.locale)


def reader_tz(request) -> str:
    """The page's `tz` parameter when it names a zone this machine knows, else the project's, else UTC."""
    from listener.filters import UserInputError, check_tz

    asked = request.query_params.get("tz")
    if asked:
        try:
            return check_tz(asked)
        except UserInputError:
            pass  # a bad tz in a shared link should not break the page; the default zone is named on it
    project = request.app.state.project
    return project.project.timezone if project is not None else "UTC"


def formatter_for(request) -> Formatter:
    return Formatter(reader_locale(request.headers.get("accept-language")), reader_tz(request))

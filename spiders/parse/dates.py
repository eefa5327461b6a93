"""Dates as pages print them, in many formats and languages, made timezone-aware UTC.

Order of attempts, cheapest first: epoch numbers; ISO 8601 and RFC 2822 (feeds, JSON APIs); Persian
(Jalali) dates; then dateparser for everything else (month names in most languages, "2 days ago",
Arabic month names, including the Levantine ones dateparser does not know, which are mapped first).

Jalali dates are converted here rather than through dateparser's `jalali` calendar: that needs the
`convertdate` package, which is not a dependency, and the conversion is a few lines of arithmetic
(the jalaali-js algorithm). A year between 1300 and 1499 in a numeric date ("1402/08/15") is taken
as Jalali unless the text marks it as Hijri (هـ, AH); Hijri dates are not converted (None).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from spiders.parse.numbers import ascii_digits

# ------------------------------------------------------------------ Jalali (Solar Hijri)

JALALI_MONTHS = {
    "فروردین": 1, "اردیبهشت": 2, "خرداد": 3, "تیر": 4, "مرداد": 5, "امرداد": 5, "شهریور": 6, "مهر": 7,
    "آبان": 8, "آذر": 9, "دی": 10, "بهمن": 11, "اسفند": 12,
}
# Persian text mixes ي/ی and ك/ک depending on the keyboard: accept both.
_JALALI_NAME = "|".join(sorted((re.escape(n).replace("ی", "[یي]") for n in JALALI_MONTHS), key=len, reverse=True))
_JALALI_TEXT = re.compile(rf"(?<!\w)(\d{{1,2}})\s+({_JALALI_NAME})(?!\w)\s*،?\s*(\d{{4}})")
_JALALI_NUMERIC = re.compile(r"(?<!\d)(1[34]\d\d)\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})(?!\d)")
_HIJRI_MARK = re.compile(r"هـ|ه‍|\bAH\b|\bA\.H\.|هجري|هجرية")
_TIME = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)")

# Years at which the 33-year leap pattern restarts (jalaali-js, after Borkowski).
_BREAKS = (-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394,
           2456, 3178)


def _div(a: int, b: int) -> int:
    return int(a / b)  # truncates toward zero, as the reference algorithm expects


def _nowruz(jy: int) -> date:
    """The Gregorian date of 1 Farvardin of Jalali year jy."""
    if not _BREAKS[0] < jy < _BREAKS[-1]:
        raise ValueError(f"Jalali year {jy} out of range")
    gy = jy + 621
    leap_j, jp, jump = -14, _BREAKS[0], 0
    for jm in _BREAKS[1:]:
        jump = jm - jp
        if jy < jm:
            break
        leap_j += _div(jump, 33) * 8 + _div(jump % 33, 4)
        jp = jm
    n = jy - jp
    leap_j += _div(n, 33) * 8 + _div(n % 33 + 3, 4)
    if jump % 33 == 4 and jump - n == 4:
        leap_j += 1
    leap_g = _div(gy, 4) - _div((_div(gy, 100) + 1) * 3, 4) - 150
    return date(gy, 3, 20 + leap_j - leap_g)


def jalali_to_gregorian(jy: int, jm: int, jd: int) -> date:
    """Jalali (Solar Hijri) year, month, day -> Gregorian date. 1 Farvardin 1403 -> 2024-03-20."""
    if not 1 <= jm <= 12 or not 1 <= jd <= (31 if jm <= 6 else 30):
        raise ValueError(f"not a Jalali date: {jy}/{jm}/{jd}")
    offset = (jm - 1) * 31 - (jm // 7) * (jm - 7) + jd - 1
    return _nowruz(jy) + timedelta(days=offset)


def _jalali(text: str) -> tuple[date, str] | None:
    """(Gregorian date, rest of the text) when the text holds a Jalali date."""
    match = _JALALI_TEXT.search(text)
    if match:
        day, name, year = int(match.group(1)), match.group(2).replace("ي", "ی"), int(match.group(3))
        month = JALALI_MONTHS[name]
    else:
        match = _JALALI_NUMERIC.search(text)
        if not match or _HIJRI_MARK.search(text):
            return None
        year, month, day = (int(g) for g in match.groups())
    try:
        return jalali_to_gregorian(year, month, day), text[:match.start()] + " " + text[match.end():]
    except ValueError:
        return None


# ------------------------------------------------------------------ Arabic month names

# Levantine/Iraqi (Syriac) Gregorian month names -> the Egyptian/Gulf names dateparser knows.
_LEVANTINE = {
    "كانون الثاني": "يناير", "شباط": "فبراير", "آذار": "مارس", "نيسان": "أبريل", "أيار": "مايو",
    "حزيران": "يونيو", "تموز": "يوليو", "آب": "أغسطس", "أيلول": "سبتمبر", "تشرين الأول": "أكتوبر",
    "تشرين الثاني": "نوفمبر", "كانون الأول": "ديسمبر",
}
_LEVANTINE_RE = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, _LEVANTINE), key=len, reverse=True))
                           + r")(?!\w)")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff]")

# ------------------------------------------------------------------ the public function

_EPOCH = re.compile(r"^\d{9,13}(?:\.\d+)?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
# Phrases around a date that confuse dateparser: "Reviewed in the United States on August 2, 2021",
# "Updated on", "Published:", "Date of experience:".
_LEAD = re.compile(r"^.*?\b(?:on|le|am|el|il|em|op)\s+(?=.*\d)|^(?:updated|published|posted|edited|date of "
                   r"experience|reviewed)\b[\s:]*", re.IGNORECASE)

def _as_utc(value: datetime, tz: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(timezone.utc)


def parse_date(text: str | int | float | datetime | None, *, languages: list[str] | None = None,
               tz: str = "UTC", now: datetime | None = None) -> datetime | None:
    """A date in (almost) any form -> aware UTC datetime, or None when it cannot be read.

    `tz` is the zone of dates that carry none (a site's local time); `now` anchors relative dates
    ("3 days ago", "منذ 3 أيام"), default the current time; `languages` ("en", "fa", "ar", ...) narrows
    dateparser's guessing, which is both faster and safer.
    """
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return _as_utc(text, tz)
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _from_epoch(float(text))
    raw = " ".join(ascii_digits(str(text)).split())
    if not raw:
        return None
    if _EPOCH.match(raw):
        return _from_epoch(float(raw))
    if _ISO.match(raw):
        try:
            return _as_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")), tz)
        except ValueError:
            pass
    if raw[:3].isalpha() and "," in raw[:5]:  # RFC 2822, as RSS writes it: "Thu, 14 Nov 2024 08:12:00 GMT"
        try:
            return _as_utc(parsedate_to_datetime(raw), tz)
        except (TypeError, ValueError):
            pass
    jalali = _jalali(raw)
    if jalali is None and _HIJRI_MARK.search(raw):
        return None  # a Hijri (lunar) date: not converted, and misread as Gregorian if passed on
    if jalali:
        day, rest = jalali
        clock = _TIME.search(rest)
        try:
            at = time(int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)) if clock else time()
        except ValueError:
            at = time()
        return _as_utc(datetime.combine(day, at), tz)
    if _ARABIC_SCRIPT.search(raw):
        raw = _LEVANTINE_RE.sub(lambda m: _LEVANTINE[m.group(1)], raw)
    candidates = [raw]
    stripped = _LEAD.sub("", raw)
    if stripped and stripped != raw:
        candidates.insert(0, stripped)  # the bare date parses faster and surer than the sentence
    # Guessing among all of dateparser's languages is slow (a second and a half to load them the first
    # time); a shortlist by script usually answers at once, and the full guess is the fallback.
    shortlists = [languages] if languages else [_shortlist(raw), None]
    for langs in shortlists:
        for candidate in candidates:
            value = _dateparser(candidate, langs, tz, now)
            if value is not None:
                return value
    return None


def _shortlist(text: str) -> list[str] | None:
    if _ARABIC_SCRIPT.search(text):
        return ["fa", "ar"] if re.search(r"[پچژگکی]", text) else ["ar", "fa"]
    if text.isascii():
        return ["en"]
    return None


def _from_epoch(value: float) -> datetime | None:
    if value > 1e11:  # milliseconds
        value /= 1000
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _dateparser(text: str, languages: list[str] | None, tz: str, now: datetime | None) -> datetime | None:
    import dateparser

    if not text:
        return None
    settings = {"TIMEZONE": tz, "TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True,
                "PREFER_DATES_FROM": "past"}
    if now is not None:
        settings["RELATIVE_BASE"] = now.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    try:
        value = dateparser.parse(text, languages=languages, settings=settings)
    except (ValueError, OverflowError, TypeError):
        return None
    return value.astimezone(timezone.utc) if value else None

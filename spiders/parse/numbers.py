"""Numbers as pages print them: ratings ("4,7 su 5", "۴٫۵ از ۵", "Rated 4.5 out of 5") and counts
("21,200 ratings", "10,000,000+", "1.2K", "۱۲٬۳۴۵ نظر", "2,5 mil").

Separators are guessed the way a reader does: two different separators mean grouping then decimal
("1.234,5"); one kind repeated is grouping ("10,000,000"); a single "," or "." followed by exactly three
digits is grouping in a count and decimal in a rating. The Arabic decimal (U+066B) and thousands
(U+066C) separators are unambiguous.
"""

from __future__ import annotations

import re

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits -> ASCII.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_ARABIC_DECIMAL, _ARABIC_GROUP = "\u066b", "\u066c"
_SPACES = "\u00a0\u202f\u2009 "  # no-break, narrow no-break, thin, plain space: grouping in fr, ru, ...
# A number: digits, optionally continued by separator + digits. A space separates groups only when
# exactly three digits follow, so "4 out of 5" stays two numbers.
_NUMBER = re.compile(r"\d+(?:(?:[.,'’\u066b\u066c]\d+)|(?:[ \u00a0\u202f\u2009]\d{3}(?!\d)))*")

_MULTIPLIERS = {
    "k": 1e3, "thousand": 1e3, "mil": 1e3, "tsd": 1e3, "هزار": 1e3, "ألف": 1e3, "الف": 1e3, "آلاف": 1e3,
    "m": 1e6, "mn": 1e6, "million": 1e6, "millions": 1e6, "mio": 1e6, "millones": 1e6, "میلیون": 1e6,
    "مليون": 1e6, "ملايين": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "milliard": 1e9, "میلیارد": 1e9,
    "مليار": 1e9,
}
_MULTIPLIER = re.compile(r"^\s*(" + "|".join(sorted(map(re.escape, _MULTIPLIERS), key=len, reverse=True))
                         + r")(?![a-z])", re.IGNORECASE)

# "X out of Y" in the languages review sites use; "/" too ("4/5", "8/10").
_OUT_OF = re.compile(
    r"(?P<value>\d[\d.,\u066b]*)\s*(?:out\s+of|of|su|sur|von|de|van|из|از|من|/)\s*(?P<best>\d+(?:[.,\u066b]\d+)?)",
    re.IGNORECASE)


def ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits as ASCII digits; everything else unchanged."""
    return text.translate(_DIGITS)


def _to_float(token: str, prefer: str) -> float:
    token = token.replace(_ARABIC_GROUP, "").replace("’", "'")
    if _ARABIC_DECIMAL in token:
        whole, _, frac = token.partition(_ARABIC_DECIMAL)
        return float(re.sub(r"\D", "", whole) + "." + re.sub(r"\D", "", frac))
    seps = [c for c in token if not c.isdigit()]
    if not seps:
        return float(token)
    kinds = list(dict.fromkeys(seps))
    if len(kinds) >= 2:  # "1.234,5" / "1,234.5" / "1 234,5": the last separator is the decimal one
        decimal = seps[-1]
        whole, _, frac = token.rpartition(decimal)
        return float(re.sub(r"\D", "", whole) + "." + frac)
    sep = kinds[0]
    if sep in _SPACES or sep == "'" or len(seps) > 1:  # grouping only
        return float(re.sub(r"\D", "", token))
    whole, _, frac = token.partition(sep)
    if len(frac) == 3 and prefer == "count":
        return float(whole + frac)
    return float(whole + "." + frac)


def parse_number(text: str | None, prefer: str = "decimal") -> float | None:
    """The first number in the text. prefer="count" reads "1,234" and "1.234" as 1234; "decimal" as 1.234."""
    if text is None:
        return None
    text = ascii_digits(str(text))
    match = _NUMBER.search(text)
    if not match:
        return None
    try:
        return _to_float(match.group(0), prefer)
    except ValueError:
        return None


def parse_count(text: str | int | float | None) -> int | None:
    """A count with separators and an optional multiplier: "21,200 ratings" -> 21200, "1.2K" -> 1200,
    "10,000,000+" -> 10000000, "۱٫۲ میلیون" -> 1200000."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text)
    text = ascii_digits(str(text))
    match = _NUMBER.search(text)
    if not match:
        return None
    try:
        value = _to_float(match.group(0), "count")
    except ValueError:
        return None
    multiplier = _MULTIPLIER.match(text[match.end():])
    if multiplier:
        # "1,2 k" is a decimal before a multiplier, whatever the single-separator rule said.
        value = _to_float(match.group(0), "decimal") * _MULTIPLIERS[multiplier.group(1).lower()]
    return int(round(value))


def parse_rating(text: str | int | float | None, best: float | str | None = None,
                 worst: float | str | None = None) -> float | None:
    """A rating on the 0-5 scale: "4,7 su 5" -> 4.7, "8/10" -> 4.0, "۴٫۵" -> 4.5, (3, best=10) -> 1.5.

    `best`/`worst` come from the markup (schema.org bestRating/worstRating) when the text has no
    "out of". A value outside its scale is rejected (None), not clamped: it means the parse was wrong.
    """
    if text is None:
        return None
    best_value = parse_number(best) if best not in (None, "") else None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = ascii_digits(str(text)).strip()
        match = _OUT_OF.search(raw)
        if match:
            value = parse_number(match.group("value"))
            best_value = parse_number(match.group("best"))
        else:
            value = parse_number(raw)
        if value is None:
            return None
    best_value = best_value or 5.0
    worst_value = parse_number(worst) if worst not in (None, "") else None
    if best_value <= 0 or value < 0 or value > best_value:
        return None
    if worst_value is not None and worst_value >= best_value:
        return None
    scaled = value if best_value == 5 else value / best_value * 5
    return round(scaled, 2)

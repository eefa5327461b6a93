"""spiders.parse.numbers, .dates and .text: values as pages print them, in several languages."""

from datetime import date, datetime, timezone

import pytest

from spiders.parse.dates import jalali_to_gregorian, parse_date
from spiders.parse.numbers import parse_count, parse_number, parse_rating
from spiders.parse.text import clean_text, decode_body, html_to_text

UTC = timezone.utc
NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("4,7 su 5", 4.7), ("۴٫۵", 4.5), ("۴٫۵ از ۵", 4.5), ("Rated 4.5 out of 5", 4.5), ("5.0 out of 5 stars", 5.0),
    ("4,5 sur 5 étoiles", 4.5), ("3 من 5", 3.0), ("8/10", 4.0), ("4", 4.0), (3, 3.0), ("٥", 5.0),
])
def test_ratings_in_many_notations(text, expected):
    assert parse_rating(text) == expected


def test_rating_scales_and_rejects_out_of_range():
    assert parse_rating("2", best="10") == 1.0
    assert parse_rating("4.505866527557373") == 4.51
    assert parse_rating("6") is None  # 6 of 5 is a misread, not 5
    assert parse_rating("no stars") is None
    assert parse_rating(None) is None


@pytest.mark.parametrize("text, expected", [
    ("21,200 ratings", 21200), ("21,200 global ratings", 21200), ("10,000,000+", 10_000_000), ("1.2K", 1200),
    ("۱۲٬۳۴۵ نظر", 12345), ("12 345 avis", 12345), ("1.234", 1234), ("2.735.844", 2_735_844), ("1’234", 1234),
    ("1,2 k", 1200), ("۱٫۲ میلیون", 1_200_000), ("6 people found this helpful", 6), (48213, 48213),
])
def test_counts_with_separators_and_multipliers(text, expected):
    assert parse_count(text) == expected


def test_number_prefers_decimal_unless_told():
    assert parse_number("1,234") == 1.234
    assert parse_number("1,234", prefer="count") == 1234
    assert parse_number("1.234,56") == 1234.56
    assert parse_number("nothing") is None


@pytest.mark.parametrize("jalali, gregorian", [
    ((1403, 1, 1), date(2024, 3, 20)), ((1402, 1, 1), date(2023, 3, 21)), ((1402, 8, 15), date(2023, 11, 6)),
    ((1402, 10, 10), date(2023, 12, 31)), ((1403, 12, 30), date(2025, 3, 20)), ((1404, 1, 1), date(2025, 3, 21)),
])
def test_jalali_to_gregorian(jalali, gregorian):
    assert jalali_to_gregorian(*jalali) == gregorian


def test_jalali_rejects_impossible_days():
    with pytest.raises(ValueError):
        jalali_to_gregorian(1402, 7, 31)  # the second half-year has 30-day months


@pytest.mark.parametrize("text, expected", [
    ("۱۵ آبان ۱۴۰۲", datetime(2023, 11, 6, tzinfo=UTC)),
    ("دوشنبه ۱۵ آبان ۱۴۰۲ ساعت ۱۰:۳۰", datetime(2023, 11, 6, 10, 30, tzinfo=UTC)),
    ("۱۴۰۲/۰۹/۰۳", datetime(2023, 11, 24, tzinfo=UTC)),
    ("۲ دي ۱۴۰۲", datetime(2023, 12, 23, tzinfo=UTC)),  # Arabic yeh in a Persian month name
    ("١٥ أكتوبر ٢٠٢٣", datetime(2023, 10, 15, tzinfo=UTC)),
    ("3 آذار 2024", datetime(2024, 3, 3, tzinfo=UTC)),  # Levantine month name
    ("٣ تشرين الأول ٢٠٢٣", datetime(2023, 10, 3, tzinfo=UTC)),
    ("12 نوامبر 2023", datetime(2023, 11, 12, tzinfo=UTC)),  # Gregorian month in Persian
    ("Reviewed in the United States on August 2, 2021", datetime(2021, 8, 2, tzinfo=UTC)),
    ("Date of experience: January 09, 2024", datetime(2024, 1, 9, tzinfo=UTC)),
    ("9 mai 2024", datetime(2024, 5, 9, tzinfo=UTC)),
    ("Thu, 14 Nov 2024 08:12:00 GMT", datetime(2024, 11, 14, 8, 12, tzinfo=UTC)),
    ("Mon, 20 May 2024 16:30:00 +0200", datetime(2024, 5, 20, 14, 30, tzinfo=UTC)),
    ("2024-01-10T05:23:45-07:00", datetime(2024, 1, 10, 12, 23, 45, tzinfo=UTC)),
    ("2024-05-24T08:15:00.000Z", datetime(2024, 5, 24, 8, 15, tzinfo=UTC)),
    ("1558185886", datetime(2019, 5, 18, 13, 24, 46, tzinfo=UTC)),
    ("1558185886000", datetime(2019, 5, 18, 13, 24, 46, tzinfo=UTC)),
])
def test_dates_become_utc(text, expected):
    assert parse_date(text) == expected


def test_relative_dates_use_now():
    assert parse_date("2 days ago", now=NOW) == datetime(2024, 11, 18, 12, 0, tzinfo=UTC)
    assert parse_date("منذ 3 أيام", now=NOW) == datetime(2024, 11, 17, 12, 0, tzinfo=UTC)
    assert parse_date("۳ روز پیش", now=NOW) == datetime(2024, 11, 17, 12, 0, tzinfo=UTC)


def test_naive_dates_take_the_given_zone():
    assert parse_date("2024-05-01 10:00", tz="Asia/Tehran") == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
    assert parse_date("۱۵ آبان ۱۴۰۲ ساعت ۱۰:۳۰", tz="Asia/Tehran") == datetime(2023, 11, 6, 7, 0, tzinfo=UTC)


def test_unreadable_and_hijri_dates_are_none():
    assert parse_date("not a date at all") is None
    assert parse_date("") is None
    assert parse_date("1445/03/12 هـ") is None  # Hijri: would be misread as Jalali or Gregorian


def test_decode_prefers_utf8_over_a_wrong_single_byte_declaration():
    body = "Très bien — نیمبوس".encode("utf-8")
    assert decode_body(body, "text/html; charset=iso-8859-1") == ("Très bien — نیمبوس", "utf_8")


def test_decode_without_charset_falls_back_to_cp1252():
    body = "Café – 5 €".encode("cp1252")
    assert decode_body(body, "text/html")[0] == "Café – 5 €"
    assert decode_body(body, None)[0] == "Café – 5 €"


def test_decode_honours_a_right_declaration_and_a_bom():
    assert decode_body("naïve".encode("latin-1"), "text/html; charset=latin-1")[0] == "naïve"
    assert decode_body("\ufeffhello".encode("utf-8"), None)[0] == "hello"
    assert decode_body(b'<meta charset="windows-1256"><p>\xc7\xe1</p>', None)[0].endswith("<p>ال</p>")


def test_html_to_text_keeps_line_breaks_and_decodes_entities():
    assert html_to_text("<p>One<br>two &amp; three</p><script>x()</script><p>  four  </p>") == "One\ntwo & three\nfour"
    assert clean_text("  a \n\n\n b  ") == "a\n\nb"

"""Pages are decoded as browsers decode them, and Persian half-spaces survive article extraction."""

import pytest

from spiders.parse.article import parse_article_page
from spiders.parse.schemaorg import parse_review_page
from spiders.parse.text import decode_body

# Latin text on purpose: Persian UTF-8 bytes form broken surrogates in UTF-16, which fails loudly and fell back
# to UTF-8 already; English and French bytes decode as UTF-16 "successfully", into CJK garbage.
REVIEW_PAGE = """<html><head>{meta}<title>Nimbus reviews</title></head><body>
<script type="application/ld+json">{{"@type":"Review","reviewBody":"Nimbus fees: déjà trop cher",
"author":{{"@type":"Person","name":"Zoë"}},"datePublished":"2026-10-01",
"reviewRating":{{"@type":"Rating","ratingValue":2}}}}</script></body></html>"""


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "utf-16be", "utf-32"])
@pytest.mark.parametrize("meta", ["", '<meta charset="utf-8">', '<meta charset="utf-16">'])
@pytest.mark.parametrize("padding", range(4))  # UTF-16 fails loudly on an odd length, UTF-32 unless 4 | length
def test_a_wide_charset_header_over_utf8_bytes_is_not_believed(charset, meta, padding):
    body = REVIEW_PAGE.format(meta=meta).encode("utf-8") + b" " * padding
    text, encoding = decode_body(body, f"text/html; charset={charset}")
    assert encoding == "utf_8"
    reviews = parse_review_page(text, "https://reviews.example/nimbus").mentions
    assert [m.text for m in reviews] == ["Nimbus fees: déjà trop cher"] and reviews[0].author_name == "Zoë"


@pytest.mark.parametrize("codec, header", [("utf-16-le", "utf-16le"), ("utf-16-be", "utf-16be"),
                                           ("utf-16", "utf-16")])
def test_real_utf16_pages_still_decode(codec, header):
    body = REVIEW_PAGE.format(meta="").encode(codec)
    text, _ = decode_body(body, f"text/html; charset={header}")
    assert "Nimbus fees: déjà" in text


def test_bom_then_header_then_meta():
    page = REVIEW_PAGE.format(meta='<meta charset="windows-1252">')
    assert decode_body(b"\xef\xbb\xbf" + page.encode("utf-8"), "text/html; charset=latin-1")[1] == "utf_8"
    latin = b"<html><head><meta charset='windows-1252'></head><body>caf\xe9 \x80</body></html>"
    assert decode_body(latin, "text/html")[0].endswith("café €</body></html>")


def test_zwnj_survives_article_extraction():
    word = "شبکه\u200cهای"
    sentence = f"{word} اجتماعی امروز درباره کارمزد نیمبوس صحبت کردند و کاربران زیادی نظر دادند. "
    page = (f"<html lang='fa'><head><title>{word} اجتماعی</title></head><body><article><h1>{word} اجتماعی</h1>"
            f"<p>{sentence * 4}</p><p>می\u200cخواهم حسابم را ببندم.</p></article></body></html>")
    [article] = parse_article_page(page, "https://news.example/fa/1", source="news").mentions
    assert word in article.text and "می\u200cخواهم" in article.text
    assert "شبکههای" not in article.text
    assert article.title == f"{word} اجتماعی"


def test_a_page_that_already_uses_the_stand_in_keeps_both():
    page = ("<html><body><article><p>" + "ⵣⵯ tifinagh and شبکه\u200cهای persian in one long paragraph. " * 6
            + "</p></article></body></html>")
    [article] = parse_article_page(page, "https://news.example/x", source="news").mentions
    assert "ⵣⵯ" in article.text and "شبکه\u200cهای" in article.text

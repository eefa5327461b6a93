"""Gathering what is on the page: pagination without schema.org, helpful votes in other languages, HTML
comments, Google Play details in the page's language, and pages whose reviews only sit in a script."""

import pytest

from spiders.parse.googleplay import app_details
from spiders.parse.review_html import data_hook, next_list_page, reviews_in_embedded_json
from spiders.parse.schemaorg import parse_html
from spiders.review import _why_no_reviews


def review_block(n: int, helpful: str = "") -> str:
    return f"""<div data-hook="review" id="R{n}">
      <span class="a-profile-name">Reviewer {n}</span>
      <i data-hook="review-star-rating"><span class="a-icon-alt">2.0 out of 5 stars</span></i>
      <a data-hook="review-title"><span>Fees again</span></a>
      <span data-hook="review-date">Reviewed in Spain on 2 November 2026</span>
      <span data-hook="review-body"><span>Nimbus fees went up, review {n}</span></span>
      <span data-hook="helpful-vote-statement">{helpful}</span></div>"""


def listing(blocks: str, pagination: str = "", total: str = "") -> str:
    return (f"<html><body><div data-hook='total-review-count'>{total}</div>{blocks}"
            f"{pagination}</body></html>")


URL = "https://shop.example/product-reviews/B0NIMBUS/ref=cm_cr?ie=UTF8&reviewerType=all_reviews"


@pytest.mark.parametrize("pagination, expected", [
    # Amazon's control: "Next page" with an arrow, in a li.a-last
    ('<ul class="a-pagination"><li class="a-selected"><a href="#">1</a></li>'
     '<li class="a-last"><a href="/product-reviews/B0NIMBUS/ref=cm_cr_arp_d_paging_btm_next_2?ie=UTF8'
     '&reviewerType=all_reviews&pageNumber=2">Next page<span class="a-letter-space"></span>→</a></li></ul>',
     "https://shop.example/product-reviews/B0NIMBUS/ref=cm_cr_arp_d_paging_btm_next_2?ie=UTF8"
     "&reviewerType=all_reviews&pageNumber=2"),
    # no "next" wording at all, only numbered links
    ('<div class="pages"><a href="?ie=UTF8&reviewerType=all_reviews&pageNumber=3">3</a>'
     '<a href="?ie=UTF8&reviewerType=all_reviews&pageNumber=2">2</a></div>',
     "https://shop.example/product-reviews/B0NIMBUS/ref=cm_cr?ie=UTF8&reviewerType=all_reviews&pageNumber=2"),
])
def test_review_lists_without_schema_go_to_page_two(pagination, expected):
    result = data_hook(parse_html(listing(review_block(1), pagination)), URL, source="review")
    assert len(result.mentions) == 1
    assert result.next_url == expected


def test_the_last_page_has_no_next():
    last = ('<ul class="a-pagination"><li class="a-disabled a-last">Next page</li></ul>'
            '<a href="?pageNumber=4">4</a><a href="?pageNumber=5">5</a>')
    assert next_list_page(parse_html(listing(review_block(1), last)), URL + "&pageNumber=5") is None
    assert next_list_page(parse_html(listing(review_block(1), last)), URL + "&pageNumber=4").endswith("pageNumber=5")


@pytest.mark.parametrize("statement, votes", [
    ("A 3 personas les ha parecido esto útil", 3),
    ("A 1.234 personas les ha parecido esto útil", 1234),
    ("A una persona le ha parecido esto útil", 1),
    ("3 personnes ont trouvé cela utile", 3),
    ("Une personne a trouvé cela utile", 1),
    ("12 Personen fanden diese Informationen hilfreich", 12),
    ("One person found this helpful", 1),
    ("۲۵ نفر این را مفید دانستند", 25),
])
def test_helpful_votes_in_other_languages(statement, votes):
    [mention] = data_hook(parse_html(listing(review_block(1, statement))), URL, source="review").mentions
    assert mention.score == votes


def test_html_comments_are_not_page_text():
    page = listing(review_block(1).replace("Nimbus fees", "<!-- hidden note -->Nimbus fees"),
                   total="<!-- 5 -->2,345 global ratings")
    result = data_hook(parse_html(page), URL, source="review")
    assert result.info["aggregate"]["count"] == 2345
    assert "hidden" not in result.mentions[0].text


PLAY = """<html lang="{lang}"><body><h1 itemprop="name">Nimbus Wallet</h1><div class="details">
<div>{updated}</div><span><span>{date}</span></span>
<div>{installs}</div><span><span>1,000,000+</span></span>
<div>{rating}</div><span><span>{rating_value}</span><a>Learn more</a></span></div></body></html>"""


@pytest.mark.parametrize("lang, updated, installs, rating, installs_min", [
    ("en", "Updated", "Installs", "Content Rating", 1_000_000),
    ("fa", "به‌روزرسانی‌شده در", "دفعات نصب", "رده‌بندی محتوا", 1_000_000),
    ("ar", "تاريخ التحديث", "عمليات التثبيت", "تقييم المحتوى", 1_000_000),
    ("es", "Actualizada", "Descargas", "Clasificación de contenido", 1_000_000),
    ("de", "Aktualisiert am", "Installationen", "Altersfreigabe", 1_000_000),
    ("fr", "Mis à jour le", "Installations", "Classification du contenu", 1_000_000),
])
def test_google_play_details_in_the_pages_language(lang, updated, installs, rating, installs_min):
    page = PLAY.format(lang=lang, updated=updated, installs=installs, rating=rating, date="2 Nov 2026",
                       rating_value="PEGI 3")
    info = app_details(parse_html(page), page, f"https://play.example/store/apps/details?id=x&hl={lang}")
    assert info["updated"] == "2 Nov 2026" and info["installs_min"] == installs_min
    assert info["content_rating"] == "PEGI 3"


def test_reviews_only_in_embedded_json_are_named_in_the_summary():
    page = ("<html><body><div id='app'></div><script>window.__STATE__ = {\"product\": {\"reviews\": "
            "[{\"reviewBody\": \"Nimbus is slow\", \"ratingValue\": 2}]}};</script></body></html>")
    assert reviews_in_embedded_json(parse_html(page))
    assert _why_no_reviews(page).startswith("layout not supported")
    plain = "<html><body><p>About us</p><script>var x = {\"menu\": 1};</script></body></html>"
    assert not reviews_in_embedded_json(parse_html(plain))
    assert _why_no_reviews(plain).startswith("no reviews found")

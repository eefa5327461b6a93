"""Matcher tests: English, Persian and Arabic documents, every normalisation, operator and field filter."""

from datetime import datetime, timezone

import pytest

from listener.model import Mention
from listener.query import COMPILERS, parse
from listener.query.matcher import DocView, compile_matcher


def matches(query: str, title: str = "", body: str = "", **meta) -> bool:
    return compile_matcher(parse(query))(DocView(title, body, **meta))


@pytest.mark.parametrize("query, text", [
    ("كتاب", "این کتاب خوب است"),  # Arabic kaf in the query, Persian keheh in the text
    ("کتاب", "هذا كتاب جيد"),  # and the other way round
    ("احمد", "قال أَحْمَد إن التطبيق بطيء"),  # harakat and hamza on alef
    ("إيران", "در ایران"),  # alef with hamza below, Arabic yeh
    ("علی", "على الرغم"),  # alef maksura
    ("مدرسه", "مدرسة قريبة"),  # teh marbuta
    ("الرحله", "الرحلـــة ممتعة"),  # tatweel
    ("نیمبوس", "نيـمبوس عالیه"),  # tatweel and Arabic yeh
    ("1403", "سال ۱۴۰۳ بود"),  # Persian digits in the text
    ("۲۰۲۴", "عام ٢٠٢٤"),  # Persian digits in the query, Arabic-Indic in the text
    ("کتاب", "کتاب‌ها را خریدم"),  # ZWNJ splits the word, so its stem is found
    ("کتاب‌ها", "کتاب ها را خریدم"),  # a ZWNJ word in the query is the phrase of its parts
    ('"می‌خواهم"', "من می خواهم"),
    ("cafe", "Best CAFÉ in town"),  # case and Latin accents
    ("RESUME", "my résumé"),
    ("e-mail", "send an E-Mail now"),
    ("e-mail", "send an e mail now"),  # punctuation is a token break on both sides
])
def test_normalisation_on_both_sides(query, text):
    assert matches(query, body=text)


@pytest.mark.parametrize("query, text", [
    ("کتاب", "کتابخانه بزرگ"),  # a word is a whole token, not a substring
    ("e-mail", "email me"),
    ("acme", "acmes"),
    ("12", "۱۲۳"),
])
def test_whole_tokens_only(query, text):
    assert not matches(query, body=text)


def test_boolean_operators():
    doc = dict(title="Nimbus wallet", body="transfer stuck for two days, support is slow")
    assert matches("nimbus transfer", **doc)
    assert matches("nimbus AND transfer", **doc)
    assert not matches("nimbus refund", **doc)
    assert matches("refund OR transfer", **doc)
    assert matches("nimbus -refund", **doc)
    assert not matches("nimbus -slow", **doc)
    assert not matches("NOT (slow OR fast)", **doc)
    assert matches("(refund OR stuck) (support OR help) -cloud*", **doc)
    assert not matches("wallet not stuck", **doc)  # lower-case "not" is a word, and it is absent


def test_phrases_stay_inside_one_field():
    assert matches('"nimbus wallet"', title="Nimbus wallet", body="x")
    assert matches('"stuck for two"', body="transfer stuck for two days")
    assert not matches('"two stuck"', body="transfer stuck for two days")
    # the last title token and the first body token are not consecutive
    assert not matches('"wallet transfer"', title="Nimbus wallet", body="transfer stuck")


def test_prefixes():
    assert matches("cloud*", body="Cloudflare is down")
    assert matches("نیمب*", body="نيمبوس")
    assert not matches("cloud*", body="a loud clou day")  # the document's word must be at least as long
    assert matches('"nimbus wal"*', body="the nimbus wallet app")
    assert not matches('"nimbus wal"*', body="the nimbus app wallet")
    assert not matches('"nim wallet"*', body="the nimbus wallet app")  # only the last token is a prefix


@pytest.mark.parametrize("query, expected", [
    ("orbit NEAR/2 card", True),  # orbit [new shiny] card: 2 tokens between
    ("orbit NEAR/1 card", False),
    ("card NEAR/2 orbit", True),  # either order
    ("orbit NEAR card", True),  # NEAR = NEAR/10
    ('"orbit new" NEAR/1 card', True),  # counted from the end of the phrase
    ('"orbit new" NEAR/0 card', False),
    ("orbit NEAR/0 (pay OR new)", True),
    ("orbit NEAR/0 (pay OR card)", False),
    ("shiny NEAR/0 shiny", True),  # as in FTS5, the two sides may be the same instance
    ("orbit NEAR/10 refund", False),  # refund is in the title: the same field is required
    ("title:(refund NEAR/0 asked)", True),
])
def test_near(query, expected):
    assert matches(query, title="asked refund", body="my orbit new shiny card never came") is expected


def test_title_restriction():
    doc = dict(title="Nimbus outage", body="the nimbus app is down")
    assert matches("title:outage", **doc)
    assert not matches("title:app", **doc)
    assert matches("title:(outage OR app)", **doc)
    assert matches('title:"nimbus outage"', **doc)
    assert matches("title:out*", **doc)
    assert not matches("title:dow*", **doc)
    assert matches("title:(-app)", **doc)  # the title has no "app", though the body does


@pytest.mark.parametrize("query, domain, expected", [
    ("site:acme.com", "acme.com", True),
    ("site:acme.com", "help.acme.com", True),
    ("site:acme.com", "HELP.Acme.com", True),
    ("site:acme.com", "notacme.com", False),
    ("site:acme.com", "acme.com.evil.io", False),
    ("site:help.acme.com", "acme.com", False),
    ("site:www.acme.com", "acme.com", True),  # www. is not a different site
    ("site:acme.com", None, False),
    ("-site:acme.com", None, True),
])
def test_site(query, domain, expected):
    assert matches(query, body="x", domain=domain) is expected


def test_lang_source_author():
    meta = dict(source="Reddit", lang="FA", author_name="Ahmad Rezaei", author_id="a1b2c3")
    assert matches("lang:fa source:reddit", body="x", **meta)
    assert not matches("lang:ar", body="x", **meta)
    assert not matches("source:trustpilot", body="x", **meta)
    assert matches('author:"ahmad  REZAEI"', body="x", **meta)  # compared after normalising
    assert matches("author:a1b2c3", body="x", **meta)  # or the author id, exactly
    assert not matches("author:A1B2C3", body="x", **meta)
    assert not matches("author:ahmad", body="x", **meta)  # the whole name, not a word of it
    assert matches("author:أَحْمَد", body="x", author_name="احمد")
    assert matches("author:@nimbus_help", body="x", author_name="Nimbus_Help")
    assert not matches("author:x", body="x")  # no author at all
    assert matches("-lang:fa", body="x")  # no language: not Persian


def test_from_mention_uses_title_text_and_metadata():
    mention = Mention(source="trustpilot", native_id="1", title="Kestrel Pay review", text="کسترل پی عالیه",
                      domain="uk.trustpilot.com", lang="fa", author_name="Sara",
                      published_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    view = DocView.from_mention(mention)
    assert view.title == ("kestrel", "pay", "review") and view.body == ("کسترل", "پی", "عالیه")
    for query in ('title:"kestrel pay"', '"کسترل پی"', "site:trustpilot.com", "author:sara", "source:trustpilot",
                  f"author:{mention.author_id}"):
        assert compile_matcher(parse(query))(view), query


def test_example_brand_queries():
    nimbus = compile_matcher(parse('(nimbus OR nimbuspay OR "nimbus wallet" OR نیمبوس OR نيمبس) '
                                   '-"nimbus 2000" -cloud*'))
    orbit = compile_matcher(parse("(orbit NEAR/3 (app OR wallet OR card OR pay)) OR orbitpay OR اوربیت OR أوربت"))
    assert nimbus(DocView(body="my Nimbus transfer is stuck"))
    assert nimbus(DocView(body="نیمبوس پولم رو برنگردوند"))
    assert not nimbus(DocView(body="riding my Nimbus 2000 broom"))
    assert not nimbus(DocView(body="nimbus clouds over CloudCity"))
    assert orbit(DocView(body="the Orbit banking app crashed"))
    assert not orbit(DocView(body="orbit of the moon, and a card game with my pay"))
    assert orbit(DocView(body="تطبيق أوربت لا يعمل"))


def test_matcher_is_registered():
    assert COMPILERS["matcher"] is compile_matcher

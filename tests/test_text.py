import pytest

from listener.text import detect_language, normalise, normalise_term, tokens


@pytest.mark.parametrize("variant, plain", [
    ("Café RÉSUMÉ", "cafe resume"),
    ("أَحْمَد", "احمد"),            # harakat and hamza-on-alef
    ("إيران", "ایران"),             # alef with hamza below, Arabic yeh
    ("آخر", "اخر"),                 # alef madda
    ("الرحلـــة", "الرحله"),         # tatweel, teh marbuta
    ("كتاب", "کتاب"),               # Arabic kaf
    ("على", "علی"),                 # alef maksura
    ("۱۴۰۳ و ٢٠٢٤", "1403 و 2024"),  # Persian and Arabic-Indic digits
    ("ﻻ", "لا"),                    # presentation form
    ("ＡＢＣ", "abc"),               # full width
])
def test_normalise_folds_variants(variant, plain):
    assert normalise(variant) == normalise(plain) == plain


def test_zwnj_is_a_word_break():
    assert tokens(normalise("کتاب‌ها")) == ["کتاب", "ها"]
    assert normalise_term("می‌خواهم") == ("می", "خواهم")


def test_tokens_split_on_punctuation_and_underscore_like_unicode61():
    assert tokens(normalise("e-mail, re_set! @nimbus_help #NIMBUS")) == ["e", "mail", "re", "set", "nimbus", "help", "nimbus"]


@pytest.mark.parametrize("text, lang", [
    ("the app keeps crashing when I log in", "en"),
    ("این برنامه خیلی کنده و پشتیبانی جواب نمیده", "fa"),
    ("التطبيق سيء جدا والدعم لا يرد", "ar"),
    ("ليه التحويل مش بيوصل يا جماعة", "ar"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_detect_language_gives_up_on_too_little_text():
    assert detect_language("ok") is None


def test_expected_languages_narrow_detection():
    assert detect_language("ok thx") is None and detect_language("ok thx", expected=("en",)) == "en"
    assert detect_language("terrible support", expected=("en", "fa", "ar")) == "en"  # a close call
    assert detect_language("این برنامه خیلی کنده", expected=("en",)) == "fa"  # script decides Persian


@pytest.mark.parametrize("text, lang", [
    ("Das ist wirklich schlecht, ich bin enttäuscht", "de"),
    ("Die App ist furchtbar", "de"),
    ("C'est vraiment nul, je suis déçu", "fr"),
    ("Super app, je recommande", "fr"),
    ("Muy buena aplicación", "es"),
])
def test_expected_languages_never_force_a_clear_other_language(text, lang):
    assert detect_language(text, expected=("en", "fa", "ar")) == lang  # stays unscored, as promised


@pytest.mark.parametrize("text", ["Works great!", "Love it", "great app"])
def test_short_english_is_english(text):
    assert detect_language(text) == "en" and detect_language(text, expected=("en", "fa", "ar")) == "en"


@pytest.mark.parametrize("text, lang", [
    ("kheili bade ramzamo avaz kardam", "fa"),  # Finglish
    ("barname kharab shode, nemidoonam chera", "fa"),
    ("3ayez a3raf leh el app mesh sh3'ala", "ar"),  # Arabizi
    ("yalla habibi, el ta7weel wesel 5alas", "ar"),
])
def test_finglish_and_arabizi(text, lang):
    assert detect_language(text) == lang and detect_language(text, expected=("en", "fa", "ar")) == lang


def test_presentation_forms_are_unfolded_before_detection():
    assert detect_language("ﺍﻟﺘﻄﺒﻴﻖ ﺳﻲﺀ ﺟﺪﺍ") == "ar"  # Arabic written with presentation forms
    assert detect_language("ﺍﯾﻦ ﺑﺮﻧﺎﻣﻪ ﺧﯿﻠﯽ ﮐﻨﺪﻩ") == "fa"


def test_english_with_a_digit_is_not_arabizi():
    assert detect_language("the app crashed 3 times in 2 days, update 5 broke it") == "en"

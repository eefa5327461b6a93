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
    finglish = "kheili bade ramzamo avaz kardam"  # Persian in Latin letters
    assert detect_language(finglish) not in ("en", "fa", "ar")
    assert detect_language(finglish, expected=("en", "fa", "ar")) == "en"  # scored, not left out
    assert detect_language("ok thx") is None and detect_language("ok thx", expected=("en",)) == "en"
    assert detect_language("این برنامه خیلی کنده", expected=("en",)) == "fa"  # script decides Persian

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
    assert detect_language("ok k") is None and detect_language("ok k", expected=("en",)) == "en"
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


@pytest.mark.parametrize("text", ["thx", "wtf", "Meh", "lol", "ok thx", "omg wtf"])
def test_chat_english_is_english(text):
    # a general detector reads these as Uzbek, Polish, even Arabic: whole texts of chat words are English
    assert detect_language(text) == "en" and detect_language(text, expected=("en", "fa", "ar")) == "en"


def test_latin_text_is_never_given_an_arabic_script_language():
    # py3langid offers Arabic for some Latin phrases; Arabic and Persian in Latin letters come only from
    # their own words (Arabizi, Finglish)
    for text in ("Meh, whatever", "a tad overwrought", "le sable et la mer", "sehr gut gemacht"):
        assert detect_language(text) not in ("ar", "fa", "ur", "ps")
        assert detect_language(text, expected=("en", "fa", "ar")) not in ("ar", "fa")


@pytest.mark.parametrize("text, lang", [
    ("با توجه به قيمتش پرينتر خوبيه.", "fa"),  # Persian typed on an Arabic keyboard: ي and ك, not ی and ک
    ("من واقعا ازش راضي هستم .", "fa"),
    ("اين گوشي خيلي خوبه ولي باتريش زود تموم ميشه", "fa"),
    ("الخدمة ممتازة والتوصيل سريع", "ar"),  # ة
    ("بدعي لربي عني هواگ يزول", "ar"),  # Gulf Arabic writes گ: not a Persian sign on its own
    ("هذا التطبيق مش بيشتغل", "ar"),
])
def test_persian_on_an_arabic_keyboard_is_persian(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text, lang", [
    ("wow kheili khoshgele rangesh, daghighan mesle aksesh bood", "fa"),
    ("El hotel 7elw gedan w el staff mo7tarameen, el room kanet wase3a w nedifa", "ar"),
    ("man dirooz pool variz kardam vali hanooz nareside", "fa"),
    ("tarakonesham anjam nashod vali pool kam shod", "fa"),
    ("el service kwayes bas el app ba6ee2", "ar"),
    ("kol ma a7awel adkhol yeftah w ye2fel", "ar"),
    ("are emrooz zadam, karmozd sefr bood 👌", "fa"),  # from the demo's r/iran threads
    ("felan hichi, bayad sabr konim ta khodeshoon dorostesh konan", "fa"),
])
def test_finglish_and_arabizi_among_english_loans(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text, lang", [
    ("el perro y el gato de mi casa", "es"),  # Spanish "el" is not Arabizi
    ("ca va bien, merci beaucoup", "fr"),
])
def test_european_text_is_not_romanised_arabic_or_persian(text, lang):
    assert detect_language(text) == lang

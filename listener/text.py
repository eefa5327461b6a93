"""Text normalisation for matching and search (English, Persian, Arabic and others), tokens, language.

`normalise` is applied to a document before it is indexed AND to a query before it is matched, so both
sides agree: case, Latin accents, Arabic harakat, tatweel, letter variants (ي/ی/ى, ك/ک, أ/إ/آ/ا, ة/ه),
Persian and Arabic-Indic digits, and ZWNJ (a Persian half-space becomes a word break, so «کتاب‌ها»
is the two tokens «کتاب», «ها» and a search for «کتاب» finds it).

`tokens` splits exactly as SQLite FTS5's `unicode61` tokenizer does on normalised text (letters and
numbers are token characters, everything else separates), so the in-memory matcher and the FTS5
index see the same words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining marks we drop after NFKD: Latin accents, Arabic harakat and Quranic marks, superscript alef.
# Only these ranges: dropping every Mn would damage scripts whose vowel signs are marks (Devanagari, Thai).
_MARK_RANGES = [(0x0300, 0x036F), (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06ED)]

_LETTER_MAP = {
    "\u0640": None,  # tatweel (kashida), a stretching stroke
    "\u200c": " ",  # ZWNJ, the Persian half-space: a word break for search
    "\u200d": None,  # ZWJ
    "\u200e": None,  # LRM
    "\u200f": None,  # RLM
    "\ufeff": None,  # BOM / zero-width no-break space
    "\u064a": "\u06cc",  # Arabic yeh ي -> Persian yeh ی
    "\u0649": "\u06cc",  # alef maksura ى -> ی
    "\u0643": "\u06a9",  # Arabic kaf ك -> keheh ک
    "\u0629": "\u0647",  # teh marbuta ة -> heh ه
    "\u06d5": "\u0647",  # ae ە (left by NFKD of ۀ) -> heh
    "\u06c1": "\u0647",  # heh goal
    "\u0671": "\u0627",  # alef wasla -> alef
}
# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits -> ASCII digits.
for _i in range(10):
    _LETTER_MAP[chr(0x06F0 + _i)] = str(_i)
    _LETTER_MAP[chr(0x0660 + _i)] = str(_i)
for _lo, _hi in _MARK_RANGES:
    for _cp in range(_lo, _hi + 1):
        _LETTER_MAP[chr(_cp)] = None
_TABLE = str.maketrans(_LETTER_MAP)

_TOKEN_RE = re.compile(r"[^\W_]+")
_SPACE_RE = re.compile(r"\s+")


@lru_cache(maxsize=8192)  # a mention's text is normalised by several steps of one batch: fingerprint, match, index
def normalise(text: str) -> str:
    """Fold `text` for matching and search; see the module docstring for what is folded."""
    if not text:
        return ""
    # NFKD splits أ/إ/آ into alef + a hamza/madda mark (dropped below), and folds presentation forms
    # and full-width letters into their plain letters.
    text = unicodedata.normalize("NFKD", text).translate(_TABLE).casefold()
    return unicodedata.normalize("NFC", text)


def tokens(normalised_text: str) -> list[str]:
    """Split normalised text into words, exactly as FTS5 `unicode61 remove_diacritics 0` does."""
    return _TOKEN_RE.findall(normalised_text)


@lru_cache(maxsize=4096)
def normalise_term(term: str) -> tuple[str, ...]:
    """A query word after normalisation, as tokens: one for a plain word, several for e.g. «کتاب‌ها»."""
    return tuple(tokens(normalise(term)))


def squash_spaces(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


# ---------------------------------------------------------------- language detection

# Letters only Persian uses (پ چ ژ گ and the Persian yeh/keheh), and letters only Arabic uses: the last word
# when a text gives no stronger evidence (below).
_PERSIAN_ONLY = set("پچژگکی")
_ARABIC_ONLY = set("ةيكىإأؤ")
# Stronger evidence, counted per word: a word with پ or ژ (which Arabic lacks; not گ or چ, which Gulf and Iraqi
# Arabic write) or a Persian function word says Persian; a word with ة (which Persian writes as ه) or an Arabic
# function word says Arabic. Why words and not only letters: much Persian web text is typed on Arabic
# keyboards, with ي and ك for ی and ک (46 % of the SentiPers product reviews were called Arabic by letters alone). The words are spelt as `normalise` folds
# them (ی, ک, ه for ة, no hamza), and leave out those the other language also writes (من, ما, هم, به, علی,
# الان, کیف, جدا, ...).
_PERSIAN_WORDS = frozenset("""
است را که می نمی برای خیلی هست نیست هستش بود نبود شد شده نشد کردم کنم کنید میکنم میکنه میشه نمیشه یه اگه اگر
خوب دارم داره داشت نداره ندارم باید هیچ چون های رو از با اینجا اونجا کنه بشه میخوام خودم دیگه دیگر یک
هستم هستیم هستن هستند نیستم ازش بهش باهاش میده نمیده شدم شدن بودم بودن داریم دارن دارید میدم
""".split())
_ARABIC_WORDS = frozenset("""
فی هذا هذه ذلک التی الذی اللی کان کانت لم لن مع هو انا انت احنا ایه مش لیه عشان لیش لما ماشی حاجه کده لیس
""".split())
_PERSIAN_LETTERS_RE = re.compile("[پژ]")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN_OR_ARABIC_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F\u0600-\u06FF]")

_LANGID = None
COMMON_LANGUAGES = [
    "af", "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "he", "hi",
    "hr", "hu", "id", "it", "ja", "ka", "kk", "ko", "ku", "lt", "lv", "mr", "ms", "nl", "no", "pa", "pl",
    "ps", "pt", "ro", "ru", "sk", "sl", "sq", "sr", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur",
    "uz", "vi", "zh",
]


def _langid():
    global _LANGID
    if _LANGID is None:
        # py3langid ships its model inside the wheel, so this works with no network.
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        # Short informal posts are often mistaken for small languages with similar letters (English
        # chat as Nigerian Pidgin, Finglish as Breton): only choose among widely used languages.
        identifier.set_languages(COMMON_LANGUAGES)
        _LANGID = identifier  # published only when ready: the crawl's pipelines call this from several threads
    return _LANGID


# Persian and Arabic written in Latin letters (Finglish; Arabizi, whose digits stand for letters Latin lacks:
# 3 ع, 7 ح, 2 ء, 5 خ ...). Words that are also common English words (to, bad, in, man, ham) are left out.
_FINGLISH = frozenset("""
kheili kheyli khaili khoob khub khoobe khube khobe mamnoon mamnun mamnunam chera chera chetori chetor nemidoonam
nemidunam nemishe mishe mishod nashod shod shode kardam kardan kard karde mikonam mikone nemikone konid lotfan
dige alan inja unja oon un hast hastam nist nistam avaz ramz ramzam pool pul poolam barname barnameh vaghean
vaghan aslan ziad ziyad begam migam mikham mikhaam mikhay khastam dorost kharab kharabe behtar bedard badtarin
bardasht daram nadaram dare nadare mese mesle hamash hamishe hichi hich chizi cheghad cheqad kojast salam
ghesti ghabz kart karte tarakonesh poshtibani ertebat jadid ghadimi ajib zasht aali awli
bood boodam boodim boodan nabood hastesh daghighan daghighe khoshgel khoshgele khoshmaze ranande tabligh agahi
bedoone bedune nemikhore mikhore mikard mizad nakarde variz hanuz hanooz akharesh ghat moondam mundam pishnahad
rahat ghatar otoboos taze tazeh gozasht gozashtam bache bacheha faghat shadid bargasht posht ajibi ye ba ro ke
koja kojaa rafte raftam dokme dokmeh enteghal sefid peyda peydash nemikonam mikonim mikonan konim konan mersi
emtehan emrooz emruz dirooz diruz farda zadam karmozd sefr eftezah mide midam midi nemide nemidam taeid taiid
nemiad miad miyad hamin hamintor hamintori manam sobh zohr felan bayad sabr khodesh khodeshoon dorostesh khosh
oomadi omadi kond konde
""".split())
_ARABIZI = frozenset("""
habibi yalla yallah inshallah wallah wallahi mesh msh mish ana enta enti ehna leh lesh ezay ezzay keda kida awi
kteer ktir mafi mafeesh bas shukran shokran tayeb tayyeb khalas bardo lessa fein feen fen 3ashan 3shan kman
kaman bta3 beta3 elly illi ya3ni ma3lesh sa7 la2 2ana 7aga 7elw 7elwa
gedan geddan kanet fe dah deh kda kdh kwayes kwayyes kwais awy gamed mafhoush mafish ahla ahlan shwaya shwayya
moshkela moshkla nafs
""".split())
# Chat English that a general detector, trained on edited prose, reads as something else ("thx": Uzbek,
# "wtf": Polish, "Meh": Arabic). A text made only of these (and "ok") is English.
_ENGLISH_CHAT = frozenset("""
lol lmao lmfao rofl wtf thx tnx thanx ty tysm pls plz omg idk tbh imo imho btw smh ffs fml brb ikr bruh yikes
ugh meh nah yep yup nope nvm fyi asap gg wow yay lmk
""".split())
#: Languages written in Arabic script: py3langid may offer them for Latin text, where they are never right.
_ARABIC_SCRIPT_LANGUAGES = frozenset({"ar", "fa", "ur", "ps"})
_ARABIZI_DIGITS = re.compile(r"^[a-z]*[23579][a-z]+[a-z0-9']*$|^[a-z]+[23579][a-z']*$")
_LATIN_WORD = re.compile(r"[a-z0-9']+")


def _romanised(text: str) -> str | None:
    """'fa' for Finglish, 'ar' for Arabizi, when at least two words and a quarter of them say so; else None.
    (A third missed most of the project's own Finglish and Arabizi lines, whose other words are often English
    loans: "el hotel 7elw gedan w el staff mo7tarameen".)"""
    words = _LATIN_WORD.findall(text.lower())
    if len(words) < 2:
        return None
    fa = sum(w in _FINGLISH for w in words)
    ar = sum(w in _ARABIZI or bool(_ARABIZI_DIGITS.match(w)) for w in words)
    best, hits = ("fa", fa) if fa >= ar else ("ar", ar)
    return best if hits >= 2 and hits >= len(words) / 4 else None


#: A project's languages narrow a close call: an expected language is chosen over the detector's first
#: choice when its probability is at least this share of the first's. Clear French or German stays itself.
CLOSE_CALL = 0.25
#: A short text (under 20 characters) gets a language only when the first choice is this many times as
#: likely as the second ("Works great!": English 0.19 vs 0.06; "ok thx": English 0.12 vs Uzbek 0.10).
SHORT_MARGIN = 1.75


def _unfold_presentation_forms(text: str) -> str:
    """Arabic presentation forms (U+FB50-FDFF, U+FE70-FEFF: old PDFs, some keyboards) -> ordinary letters."""
    if not re.search(r"[\uFB50-\uFDFF\uFE70-\uFEFF]", text):
        return text
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", ch) if "\uFB50" <= ch <= "\uFEFF" else ch for ch in text)


def _persian_or_arabic(text: str, arabic_script: list[str]) -> str | None:
    """'fa' or 'ar' for a text in Arabic script: by its words where they tell, else by its letters."""
    fa = ar = 0
    for raw in text.split():
        word = tokens(normalise(raw))
        fa += bool(_PERSIAN_LETTERS_RE.search(raw)) or any(w in _PERSIAN_WORDS for w in word)
        ar += "ة" in raw or any(w in _ARABIC_WORDS for w in word)
    if fa != ar:
        return "fa" if fa > ar else "ar"
    fa = sum(1 for ch in arabic_script if ch in _PERSIAN_ONLY)
    ar = sum(1 for ch in arabic_script if ch in _ARABIC_ONLY)
    if fa or ar:
        return "fa" if fa >= ar else "ar"
    return None


def detect_language(text: str, expected: tuple[str, ...] = ()) -> str | None:
    """The ISO 639-1 code of the text's language, or None when there is too little text to tell.

    Arabic script is decided by letters, after presentation forms are unfolded (a general detector often
    confuses short Persian and Arabic); Finglish and Arabizi by their words; everything else goes to
    py3langid. `expected` (a project's languages) decides close calls between languages, so a short informal
    English post is English, not Indonesian, but it never turns clear French or German into English.
    """
    text = _unfold_presentation_forms(text)
    letters = _LATIN_OR_ARABIC_LETTER.findall(text)
    arabic_script = _ARABIC_SCRIPT.findall(text)
    if len(arabic_script) >= 3 and len(arabic_script) >= 0.5 * max(len(letters), 1):
        decided = _persian_or_arabic(text, arabic_script)
        if decided:
            return decided
    stripped = squash_spaces(text)
    if len(stripped) < 3:
        return None
    romanised = _romanised(stripped)
    if romanised:
        return romanised
    words = _LATIN_WORD.findall(stripped.lower())
    if words and all(w in _ENGLISH_CHAT or w in ("ok", "okay") for w in words) and set(words) & _ENGLISH_CHAT:
        return "en"
    ranked = _langid().rank(stripped)
    if not arabic_script:
        ranked = [(lang, p) for lang, p in ranked if lang not in _ARABIC_SCRIPT_LANGUAGES]
    (top, p_top), (_, p_second) = ranked[0], ranked[1]
    if expected:
        best = next(((lang, prob) for lang, prob in ranked if lang in expected), None)
        if best and best[1] >= CLOSE_CALL * p_top:  # the first choice itself, or a close second
            return best[0]
    if p_top < 0.3 and len(stripped) < 20 and p_top < SHORT_MARGIN * p_second:
        return None
    return top

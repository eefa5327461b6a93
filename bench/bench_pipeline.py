"""Benchmark: unscored pipeline throughput (normalise → dedupe → match brands → index) into SQLite.

Prints mentions/s and peak RSS. Not a test: numbers go in the closing notes.
    python bench/bench_pipeline.py --n 50000
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from listener.config import load_project
from listener.model import Mention
from listener.pipeline import PipelineContext, process_stream
from listener.runtime import brand_matcher
from listener.store import open_store

ROOT = Path(__file__).resolve().parents[1]
WORDS = {
    "en": "the app is slow again and my transfer is still pending support never answers love new card fees "
          "are too high login code never arrives great update thanks refund scam phishing".split(),
    "fa": "برنامه خیلی کنده انتقال پول هنوز انجام نشده پشتیبانی جواب نمیده کارمزد زیاده کد تایید نمیاد عالیه".split(),
    "ar": "التطبيق بطيء جدا التحويل ما وصل خدمة العملاء لا ترد الرسوم عالية رمز التحقق ما يوصل ممتاز شكرا".split(),
}
BRANDS = {"en": ["nimbus", "Nimbus", "kestrel pay", "orbit wallet", ""], "fa": ["نیمبوس", "نيمبس", ""],
          "ar": ["نيمبس", "أوربت", ""]}


def synthetic(n: int, seed: int = 7):
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    for i in range(n):
        lang = rng.choice(("en", "en", "fa", "ar"))
        words = rng.choices(WORDS[lang], k=rng.randint(8, 40))
        words.insert(rng.randrange(len(words)), rng.choice(BRANDS[lang]))
        yield Mention(source=rng.choice(("reddit", "trustpilot", "rss", "youtube")), native_id=str(i),
                      text=" ".join(words), lang=lang, author_name=f"user{rng.randrange(5000)}",
                      url=f"https://site{rng.randrange(50)}.example/post/{i}",
                      published_at=start + timedelta(seconds=rng.randrange(30 * 86400)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    project = load_project(ROOT / "examples" / "project.toml")
    mentions = list(synthetic(args.n))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        ctx = PipelineContext(store=store, matcher=brand_matcher(project), keep_unmatched=False)
        started = time.perf_counter()
        report = process_stream(iter(mentions), ctx, batch_size=args.batch)
        elapsed = time.perf_counter() - started
        store.close()
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pipeline (unscored): {args.n} mentions in {elapsed:.2f} s = {args.n / elapsed:,.0f} mentions/s")
    print(f"  stored {report.inserted}, near-duplicates {report.near_duplicates}, unmatched {report.unmatched}")
    print(f"  disk {size / max(report.inserted, 1):,.0f} bytes/mention, peak RSS {rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()

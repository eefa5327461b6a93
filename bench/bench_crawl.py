"""Crawl throughput from localhost through the whole pipeline: pages/s and mentions/s.

    python bench/bench_crawl.py [--pages 400] [--reviews 20] [--kind review|feed] [--score] [--runs 2]

Serves generated pages from 127.0.0.1 (demo.servers.sites), crawls them with the real spiders in
a crawl process (spiders.crawl) into a temporary SQLite store, and prints pages/s and mentions/s of the
crawl itself (from the spider opening to its closing) and of the whole call (process start included).
The second run shows the incremental path (every page fetched, nothing new stored).

- review: N pages of schema.org JSON-LD reviews (the generic review spider; extruct + dateparser);
- feed: one RSS feed of N entries, each followed to an article page (trafilatura on every page).
Unscored by default; --score loads the transformer in the crawl process and scores every batch.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listener.config import Project, Settings  # noqa: E402
from demo.servers.sites import SiteServer  # noqa: E402
from spiders.crawl import crawl  # noqa: E402
from spiders.settings import LOCAL_OVERRIDES  # noqa: E402

WORDS = ("nimbus transfer card login code support app fee rate account verification fast slow great "
         "terrible helpful update balance payment refund limit travel abroad exchange wallet").split()


def sentence(rng: random.Random, n: int = 18) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def review_pages(server: SiteServer, pages: int, per_page: int, rng: random.Random) -> dict:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for p in range(pages):
        reviews = [{"@type": "Review", "author": {"@type": "Person", "name": f"user{p}-{r}"},
                    "datePublished": (start + timedelta(minutes=p * per_page + r)).isoformat(),
                    "reviewBody": f"Nimbus {sentence(rng)} {sentence(rng)}",
                    "reviewRating": {"@type": "Rating", "ratingValue": str(rng.randint(1, 5))}}
                   for r in range(per_page)]
        ld = {"@context": "https://schema.org", "@type": "Product", "name": "Nimbus Wallet", "review": reviews}
        body = (f"<!doctype html><html><head><meta charset='utf-8'><title>Reviews {p}</title>"
                f"<script type='application/ld+json'>{json.dumps(ld)}</script></head><body>"
                + "".join(f"<p>{r['reviewBody']}</p>" for r in reviews) + "</body></html>")
        server.add_page(f"/reviews/{p}.html", body)
    return {"review_pages": [server.url(f"/reviews/{p}.html") for p in range(pages)]}


def feed_pages(server: SiteServer, pages: int, rng: random.Random) -> dict:
    items = []
    for p in range(pages):
        paragraphs = "".join(f"<p>{sentence(rng, 30)}</p>" for _ in range(6))
        server.add_page(f"/news/{p}.html", f"<!doctype html><html><head><meta charset='utf-8'><title>Story {p}</title>"
                        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>Nimbus story {p}</h1>"
                        f"{paragraphs}</article><footer>© News</footer></body></html>")
        items.append(f"<item><title>Nimbus story {p}</title><link>{server.url(f'/news/{p}.html')}</link>"
                     f"<pubDate>Mon, 20 May 2024 {p % 24:02d}:00:00 GMT</pubDate>"
                     f"<description>Nimbus {sentence(rng)}</description></item>")
    server.add_page("/feed.rss", "<?xml version='1.0'?><rss version='2.0'><channel><title>Bench</title>"
                    + "".join(items) + "</channel></rss>", content_type="application/rss+xml")
    return {"feeds": [server.url("/feed.rss")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--reviews", type=int, default=20, help="reviews per page (kind review)")
    parser.add_argument("--kind", choices=("review", "feed"), default="review")
    parser.add_argument("--score", action="store_true", help="score sentiment and topics while crawling")
    parser.add_argument("--runs", type=int, default=2, help="crawls of the same pages (later ones: nothing new)")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    rng = random.Random(7)
    overrides = {**LOCAL_OVERRIDES, "CONCURRENT_REQUESTS": args.concurrency,
                 "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency, "LISTENER_BATCH_SIZE": 500,
                 "LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp, SiteServer() as server:
        sources = (review_pages(server, args.pages, args.reviews, rng) if args.kind == "review"
                   else feed_pages(server, args.pages, rng))
        project = Project.model_validate({"brand": [{"name": "Nimbus", "query": "nimbus", "sources": sources}]})
        settings = Settings.from_env({"LISTENER_DATA": tmp, "LISTENER_STORE": f"sqlite:///{tmp}/bench.db"})
        spider = "review" if args.kind == "review" else "feed"
        print(f"{args.kind}: {args.pages} pages" + (f" x {args.reviews} reviews" if args.kind == "review" else
                                                     " (feed entries -> articles)")
              + f", {'scored' if args.score else 'unscored'}, concurrency {args.concurrency}")
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            report = crawl(spider, project, settings, score=args.score, overrides=overrides, timeout=3600)
            wall = time.perf_counter() - started
            s = report["spiders"][spider]
            crawl_s = s["elapsed_s"] or report["elapsed_s"]
            pages = s["responses"]
            print(f"  run {run}: {pages} responses, {s['items']} items, {s['inserted']} new, "
                  f"{s['updated']} updated, {s['scored']} scored | crawl {crawl_s:.2f} s: "
                  f"{pages / crawl_s:.0f} pages/s, {s['items'] / crawl_s:.0f} mentions/s | "
                  f"with process start {wall:.2f} s: {pages / wall:.0f} pages/s"
                  + ("" if report["ok"] else f" | ERRORS: {report['totals']['errors']}"))
            if not report["ok"] or not pages:
                print(report["stderr"][-3000:])


if __name__ == "__main__":
    main()

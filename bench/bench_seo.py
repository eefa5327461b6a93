"""Benchmark: the SEO path's costs. Not a test: it prints numbers.

- saved-page parsing: pages/s and ms per page for each saved result page in a folder (default: the
  project's fixtures; point it at ../shared/data/serp for real pages);
- `listener seo check`: questions/s through the real provider code against the local SearXNG-shaped server
  (HTTP, parse, classify, record), depth 20 (two pages each);
- `listener seo report`: ms per question over a store holding mentions of every outranking page.

    python bench/bench_seo.py [--pages DIR] [--questions 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.servers.serp import SerpServer, serp_item  # noqa: E402
from listener.config import Project  # noqa: E402
from listener.model import Mention, Sentiment  # noqa: E402
from listener.pipeline import host_of  # noqa: E402
from listener.seo.check import check_questions  # noqa: E402
from listener.seo.history import RankHistory  # noqa: E402
from listener.seo.providers import importer_class  # noqa: E402
from listener.seo.questions import questions_of  # noqa: E402
from listener.seo.report import outrank_report  # noqa: E402
from listener.seo.settings import SeoSettings  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

ENGINE_OF = {"google": "google", "coffee": "google", "bing": "bing", "no-results": "bing", "duckduckgo": "duckduckgo"}


def bench_pages(folder: Path) -> None:
    for path in sorted(folder.glob("*.html")):
        engine = next((e for prefix, e in ENGINE_OF.items() if path.name.startswith(prefix)), None)
        if engine is None or "recaptcha" in path.name or "sorry" in path.name:
            continue
        body = path.read_bytes()
        parser = importer_class(engine)()
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < 1.0:
            page = parser.parse(body, "q")
            runs += 1
        took = (time.perf_counter() - started) / runs
        print(f"parse {path.name:<40} {engine:<10} {len(page.organic):>3} results  {took * 1000:7.2f} ms/page "
              f"({1 / took:,.0f} pages/s, {len(body) / 1024:.0f} KiB)")


def bench_check_and_report(count: int) -> None:
    texts = [f"nimbus question {n}" for n in range(count)]
    project = Project.model_validate({
        "brand": [{"name": "Nimbus", "query": "nimbus", "help_center": "https://help.nimbus.example"}],
        "serp": [{"question": t, "brand": "Nimbus", "depth": 20} for t in texts]})
    questions = questions_of(project)
    answers = {t: [serp_item(f"https://forum{k}.example.org/t/q{n}/{k}", f"thread {k}") for k in range(12)]
               + [serp_item(f"https://help.nimbus.example/articles/{n}", "help")]
               + [serp_item(f"https://other{k}.example.com/{n}", "x") for k in range(10)] for n, t in enumerate(texts)}
    with tempfile.TemporaryDirectory() as tmp, SerpServer(answers) as server:
        seo = SeoSettings.from_env({"LISTENER_SERP_PROVIDER": "searxng", "LISTENER_SERP_URL": server.base_url})
        with RankHistory(Path(tmp) / "listener.db") as history:
            started = time.perf_counter()
            report = check_questions(questions, history, seo)
            took = time.perf_counter() - started
            print(f"check  {len(report.checked)} questions, {report.requests} requests: {took:.2f} s "
                  f"({len(report.checked) / took:,.0f} questions/s)")
            store = SqliteStore(Path(tmp) / "listener.db")
            now = datetime(2026, 11, 20, tzinfo=timezone.utc)
            mentions = []
            for n in range(count):
                for k in range(12):
                    url = f"https://forum{k}.example.org/t/q{n}/{k}"
                    for post in range(3):
                        mentions.append(Mention(source="forum", native_id=f"{url}#post-{post}", url=url,
                                                domain=host_of(url), text="nimbus post", published_at=now,
                                                sentiment=Sentiment(label="negative", score=0.8)))
            store.upsert(mentions)
            started = time.perf_counter()
            rows = outrank_report(questions, history, store)
            took = time.perf_counter() - started
            store.close()
    pages = sum(len(r.outranking) for r in rows)
    print(f"report {len(rows)} questions, {pages} outranking pages, {len(mentions)} mentions in the store: "
          f"{took:.2f} s ({took / len(rows) * 1000:.1f} ms/question)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=ROOT / "tests" / "fixtures" / "serp")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    bench_pages(args.pages)
    bench_check_and_report(args.questions)


if __name__ == "__main__":
    main()

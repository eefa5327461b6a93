"""Elasticsearch store benchmark: the Python side of ingest always; a real cluster's rates when one is given.

    python bench/bench_elastic.py --n 20000                                    # offline: documents/s, bytes
    LISTENER_ES_URL=elasticsearch://127.0.0.1:9200 python bench/bench_elastic.py --n 200000   # + a cluster

Offline it measures what every worker pays per mention before Elasticsearch sees it: building the indexed
document (normalising and tokenising title and body, simhash bands, the stored Mention) and serialising
the bulk request, and the bytes per mention sent. With LISTENER_ES_URL it also loads a fresh
`listener-bench-*` index through ElasticStore.upsert (batches of --batch, refresh=wait_for as in
production), times searches, a split time series and a relevance page, then deletes the index.
Mentions come from bench_store's generator (3 languages, Zipf words). It prints numbers; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import BRANDS, Generator, percentile  # noqa: E402
from listener.store.base import Filters  # noqa: E402
from listener.store.elastic import bulk_actions  # noqa: E402


def offline(n: int, batch: int) -> None:
    gen = Generator(n)
    mentions = [gen.mention(i) for i in range(n)]
    bulk_actions("bench", mentions[:50])  # imports (numpy for the bands) happen once per process: not timed
    t0 = time.perf_counter()
    batches = [bulk_actions("bench", mentions[s:s + batch]) for s in range(0, n, batch)]
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    size = 0
    for actions in batches:
        for action in actions:
            size += len(json.dumps({"index": {"_index": action["_index"], "_id": action["_id"]}}))
            size += len(json.dumps(action["_source"], ensure_ascii=False).encode()) + 2
    serialised = time.perf_counter() - t0
    print(f"documents: {n:,} mentions built in {built:.2f} s = {n / built:,.0f}/s per process "
          f"(normalise + tokens + bands + stored Mention)")
    print(f"bulk body: {size / n:,.0f} bytes per mention; serialising {n / serialised:,.0f} mentions/s")


def against_cluster(url: str, n: int, batch: int, repeat: int) -> None:
    from listener.store.elastic import ElasticStore
    from listener.store.elastic_connect import client_options

    _index, options = client_options(url)
    store = ElasticStore(f"listener-bench-{uuid.uuid4().hex[:8]}", **options)
    try:
        gen = Generator(n)
        spent = 0.0
        for start in range(0, n, batch):
            mentions = [gen.mention(i) for i in range(start, min(n, start + batch))]
            t0 = time.perf_counter()
            store.upsert(mentions)
            spent += time.perf_counter() - t0
        print(f"upsert into Elasticsearch {store.client.server_version}: {n:,} mentions, batches of {batch}: "
              f"{n / spent:,.0f} mentions/s")
        en = gen.vocab["en"]
        cases = [
            ("latest 20, no query", lambda i: store.search(Filters())),
            ("latest 20, common word", lambda i: store.search(Filters(query=en[i % 5]))),
            ("relevance 20, medium word", lambda i: store.search(Filters(query=en[100 + i % 40]), sort="relevance")),
            ("prefix in NEAR", lambda i: store.search(Filters(query=f"{en[i % 50][:3]}* NEAR/3 {en[i % 7]}"))),
            ("daily series split by brand", lambda i: store.timeseries(Filters(brands=(BRANDS[i % 4],)), "1d",
                                                                      "Europe/Berlin", split="brand")),
            ("top authors", lambda i: store.terms(Filters(), "author", size=20)),
        ]
        for name, run in cases:
            times = []
            for i in range(repeat):
                t0 = time.perf_counter()
                run(i)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{name:32s} p50 {statistics.median(times):7.1f} ms  p95 {percentile(times, 95):7.1f} ms")
    finally:
        store.drop()
        store.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    offline(args.n, args.batch)
    url = os.environ.get("LISTENER_ES_URL")
    if url:
        against_cluster(url, args.n, args.batch, args.repeat)
    else:
        print("(set LISTENER_ES_URL to also measure a cluster)")


if __name__ == "__main__":
    main()

"""Web API benchmark: p50/p95 of /api/search and of a 30-day /api/stats aggregation, through the whole app
(session check, FastAPI, the store, JSON), on bench_store's synthetic mentions; also share of voice, one
mention with its thread, and the overview page (chart and breakdowns, HTML) over 30 days.

    python bench/bench_web.py --n 100000
    python bench/bench_web.py --db /tmp/bench-1m.db --skip-load      # a store bench_store.py kept (1M)

In-process (FastAPI's TestClient), so the numbers leave out the network but include everything the app
does per request. It prints numbers; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import SPAN, START, Generator, load, report, timed  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from listener.config import Settings  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402
from listener.web import create_app  # noqa: E402
from listener.web.users import Users  # noqa: E402

QUERIES = ["price", "support AND app", '"customer service"', "acme OR globex", "پشتیبانی", "refund NOT slow"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="mentions to generate (default 100000)")
    parser.add_argument("--queries", type=int, default=60, help="requests of each kind")
    parser.add_argument("--db", help="database file to use and keep (default: a temporary file, removed)")
    parser.add_argument("--skip-load", action="store_true", help="query an existing --db without loading")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp()
    path = args.db or os.path.join(tmp, "bench.db")
    store = SqliteStore(path)
    if not args.skip_load:
        load(store, Generator(args.n), args.n, 1000)
    settings = Settings.from_env({"LISTENER_DATA": tmp, "LISTENER_STORE": f"sqlite:///{path}"})
    users = Users(os.path.join(tmp, "users.db"))
    users.add("bench", "bench password 1", "viewer")
    client = TestClient(create_app(settings, store=store, users=users))
    client.post("/login", data={"name": "bench", "password": "bench password 1"})

    end = START + timedelta(seconds=SPAN)
    print(f"store: {path}")
    report("GET /api/search (6 queries, date)", timed(
        lambda i: client.get("/api/search", params={"q": QUERIES[i % len(QUERIES)], "limit": 20}).raise_for_status(),
        args.queries))
    report("GET /api/search (relevance)", timed(
        lambda i: client.get("/api/search", params={"q": QUERIES[i % len(QUERIES)], "sort": "relevance"})
        .raise_for_status(), args.queries))
    since = lambda i: (end - timedelta(days=30 + i % 7)).date().isoformat()  # noqa: E731 - moving windows
    report("GET /api/stats (30 days, 1d buckets)", timed(
        lambda i: client.get("/api/stats", params={"since": since(i), "until": end.date().isoformat()})
        .raise_for_status(), max(10, args.queries // 3)))
    report("GET /api/share-of-voice (30 days)", timed(
        lambda i: client.get("/api/share-of-voice", params={"since": since(i), "until": end.date().isoformat()})
        .raise_for_status(), max(10, args.queries // 3)))
    ids = [hit["mention"]["id"] for hit in client.get("/api/search", params={"limit": 50}).json()["hits"]]
    report("GET /api/mentions/{id} (with its thread)", timed(
        lambda i: client.get(f"/api/mentions/{ids[i % len(ids)]}").raise_for_status(), args.queries))
    report("GET /overview (page: chart, breakdowns, share of voice; 30 days)", timed(
        lambda i: client.get("/overview", params={"since": since(i), "until": end.date().isoformat()})
        .raise_for_status(), max(10, args.queries // 6)))
    users.close()
    store.close()
    shutil.rmtree(tmp)  # --db is kept: it is not inside tmp


if __name__ == "__main__":
    main()

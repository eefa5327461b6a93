"""Benchmark: Reddit items/s through the real client (PRAW) against the local Reddit server, and through the
unscored pipeline into SQLite.

Three runs, each a first (full) pass and then a second pass that must find nothing:
- listings: watched subreddits with many posts and comments whose threads match no brand (no trees);
- trees: matched threads with many comments each (comment trees, `more` children via /api/morechildren);
- pipeline: both of the above, handed to `listener.pipeline` (brand matching, dedupe) and stored.
Not a test: numbers go in the closing notes.
    python bench/bench_reddit.py [--posts 3000] [--threads 100] [--comments 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from listener.config import Brand, Settings  # noqa: E402
from demo.servers.reddit import RedditServer, make_comment, make_submission  # noqa: E402
from listener.pipeline import BatchReport, BrandMatcher, PipelineContext  # noqa: E402
from listener.store import open_store  # noqa: E402
from spiders.checkpoint import CheckpointStore  # noqa: E402
from spiders.reddit import RedditSource  # noqa: E402
from spiders.sources import pipeline_sink  # noqa: E402

ENV = {"LISTENER_REDDIT_CLIENT_ID": "bench", "LISTENER_REDDIT_CLIENT_SECRET": "bench"}
WORDS = ("the app is slow again and my transfer is still pending support never answers love the new card "
         "fees are too high login code never arrives great update thanks").split()


def text(i: int, n: int = 24) -> str:
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(n))


def listing_world(posts: int, subs: int, now: float) -> list[dict]:
    things = []
    per_sub = posts // subs
    for s in range(subs):
        for i in range(per_sub):
            pid = f"l{s}x{i}"
            things.append(make_submission(pid, f"sub{s}", f"post {i} {text(i, 6)}", text(i),
                                          created_utc=now - 86400 + i * 10 + s))
            things.append(make_comment(f"{pid}c", pid, text(i + 1), created_utc=now - 86000 + i * 10 + s))
    return things


def tree_world(threads: int, comments: int, now: float) -> list[dict]:
    things = []
    for t in range(threads):
        tid = f"t{t}"
        things.append(make_submission(tid, "fintech", f"Nimbus thread {t}", text(t), created_utc=now - 80000 + t))
        for c in range(comments):
            parent = f"t1_{tid}c{c // 3}" if c % 3 and c >= 3 else None  # some nesting
            things.append(make_comment(f"{tid}c{c}", tid, text(t + c), parent_id=parent,
                                       created_utc=now - 70000 + t * 100 + c))
    return things


def run(name: str, things: list[dict], brand: Brand, tree_limit: int, sink_factory=None) -> dict:
    with RedditServer(things, tree_limit=tree_limit) as server, tempfile.TemporaryDirectory() as tmp:
        checkpoints = CheckpointStore(Path(tmp) / "state.db")
        settings = Settings.from_env({"LISTENER_REDDIT_URL": server.base_url, "LISTENER_DATA": tmp})
        matcher = BrandMatcher([(brand.name, brand.query)])
        store = open_store(f"sqlite:///{tmp}/bench.db") if sink_factory else None
        total = BatchReport()
        collected: list = []
        sink = pipeline_sink(PipelineContext(store, matcher=matcher), total) if store else collected.extend
        source = RedditSource.from_settings(settings, checkpoints, matcher.match, environ=ENV)
        started = time.perf_counter()
        first = source.poll([brand], sink)
        elapsed = time.perf_counter() - started
        started2 = time.perf_counter()
        second = source.poll([brand], sink)
        elapsed2 = time.perf_counter() - started2
        if store:
            store.close()
        checkpoints.close()
    return {"run": name, "items": first.new, "requests": first.requests, "seconds": elapsed,
            "items_per_s": first.new / elapsed, "requests_per_s": first.requests / elapsed,
            "second_pass_new": second.new, "second_pass_requests": second.requests, "second_pass_s": elapsed2,
            "stored": total.inserted if store else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=3000, help="posts in watched subreddits (each with a comment)")
    parser.add_argument("--subs", type=int, default=3, help="watched subreddits (a listing stops at 1000)")
    parser.add_argument("--threads", type=int, default=100, help="matched threads whose trees are read")
    parser.add_argument("--comments", type=int, default=60, help="comments per matched thread")
    parser.add_argument("--tree-limit", type=int, default=20, help="comments per tree answer; the rest via `more`")
    args = parser.parse_args()
    now = time.time()
    subs = [f"sub{s}" for s in range(args.subs)]
    watcher = Brand(name="Nimbus", query="nimbus", sources={"subreddits": subs, "reddit_search": False})
    searcher = Brand(name="Nimbus", query="nimbus", sources={"reddit_search": True})
    both = Brand(name="Nimbus", query="nimbus", sources={"subreddits": subs, "reddit_search": True})
    listings = listing_world(args.posts, args.subs, now)
    trees = tree_world(args.threads, args.comments, now)
    results = [
        run("listings", listings, watcher, args.tree_limit),
        run("trees", trees, searcher, args.tree_limit),
        run("pipeline (unscored, SQLite)", listings + trees, both, args.tree_limit, sink_factory=True),
    ]
    print(f"Reddit client (PRAW {__import__('praw').__version__}) against the local server, first pass then "
          f"a second pass; posts={args.posts} in {args.subs} subreddits, {args.threads} matched threads x "
          f"{args.comments} comments, tree_limit={args.tree_limit}")
    print(f"{'run':30} {'items':>7} {'requests':>8} {'seconds':>8} {'items/s':>9} {'req/s':>7} "
          f"{'2nd pass: new':>14} {'req':>4} {'s':>6}")
    for r in results:
        print(f"{r['run']:30} {r['items']:7d} {r['requests']:8d} {r['seconds']:8.2f} {r['items_per_s']:9.0f} "
              f"{r['requests_per_s']:7.0f} {r['second_pass_new']:14d} {r['second_pass_requests']:4d} "
              f"{r['second_pass_s']:6.2f}" + (f"   stored {r['stored']}" if r["stored"] is not None else ""))


if __name__ == "__main__":
    main()

"""Run the spiders' parsers on real pages recorded by other projects and print what they extract.

    python scripts/check_real_pages.py [DATA_FOLDER]     (default: ../shared/data beside the repository)

Uses DATA_FOLDER/reviews/amazon-com_product-url.html (a real Amazon product page with 13 customer reviews,
"21,200 global ratings") and DATA_FOLDER/reviews/app1.html + app1.json (a real Google Play app page and
the expected parse published with it). Development only: the pages are not part of the project and the
tests use fixtures written for it. Exits 1 when an expectation stated here does not hold.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spiders.parse.googleplay import parse_play_page  # noqa: E402
from spiders.parse.review_html import parse_without_schema  # noqa: E402
from spiders.parse.schemaorg import parse_html, parse_review_page  # noqa: E402
from spiders.parse.text import decode_body  # noqa: E402

problems: list[str] = []


def expect(label: str, got, wanted) -> None:
    ok = got == wanted
    print(f"  {'ok  ' if ok else 'DIFF'} {label}: {got!r}" + ("" if ok else f" (expected {wanted!r})"))
    if not ok:
        problems.append(label)


def show(mention) -> str:
    extra = {k: v for k, v in mention.extra.items() if k not in ("app_id",)}
    return (f"{mention.published_at:%Y-%m-%d} {mention.rating if mention.rating is not None else '-'}★ "
            f"{(mention.author_name or '?')[:22]:22} | {(mention.title or '')[:40]:40} | "
            f"{mention.text[:60].replace(chr(10), ' ')!r} | votes={mention.score} {extra}")


def amazon(folder: Path) -> None:
    path = folder / "reviews" / "amazon-com_product-url.html"
    text, encoding = decode_body(path.read_bytes(), "text/html")
    url = "https://www.amazon.com/dp/B0011UCPM4"
    print(f"\n== {path.name} ({len(text):,} characters, {encoding})")
    started = time.perf_counter()
    schema = parse_review_page(text, url)
    print(f"  schema.org (JSON-LD, microdata, RDFa): {len(schema.mentions)} reviews")
    result = parse_without_schema(parse_html(text), url, source="review", brands=[])
    elapsed = time.perf_counter() - started
    print(f"  markup profile: {len(result.mentions)} reviews, {len(result.skipped)} skipped, {elapsed:.2f} s")
    expect("reviews", len(result.mentions), 13)
    expect("aggregate", result.info.get("aggregate"), {"rating": 4.4, "count": 21200})
    expect("every review has rating, date, author, text",
           all(m.rating and m.published_at and m.author_name and m.text for m in result.mentions), True)
    for mention in result.mentions:
        print("   ", show(mention))


def google_play(folder: Path) -> None:
    path = folder / "reviews" / "app1.html"
    wanted = json.loads((folder / "reviews" / "app1.json").read_text("utf-8"))
    text, encoding = decode_body(path.read_bytes(), "text/html")
    print(f"\n== {path.name} ({len(text):,} characters, {encoding}) against app1.json")
    started = time.perf_counter()
    result = parse_play_page(text, wanted["url"], package=wanted["id"])
    elapsed = time.perf_counter() - started
    info = result.info
    expect("title", info.get("title"), wanted["title"])
    expect("developer", info.get("developer"), wanted["author"])
    expect("rating (1 decimal)", round(info["rating"], 1) if info.get("rating") else None, wanted["rating"])
    expect("votes", info.get("votes"), wanted["votes"])
    expect("updated", info.get("updated"), wanted["last_updated"])
    expect("installs", info.get("installs"), wanted["downloads"])
    expect("version", info.get("version"), wanted["version"])
    expect("requires Android", info.get("requires_android"), wanted["supported_os"])
    expect("content rating", info.get("content_rating"), wanted["content_rating"])
    dates = sorted(m.published_at for m in result.mentions)
    print(f"  reviews: {len(result.mentions)} ({len(result.skipped)} skipped), "
          f"{sum(1 for m in result.mentions if m.company_reply)} with a developer reply, "
          f"{dates[0]:%Y-%m-%d} .. {dates[-1]:%Y-%m-%d}, {elapsed:.2f} s" if dates else "  reviews: none")
    expect("reviews found", len(result.mentions) > 0, True)
    for mention in result.mentions[:5]:
        print("   ", show(mention))
    if len(result.mentions) > 5:
        print(f"    … {len(result.mentions) - 5} more")


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "data"
    if not (folder / "reviews").is_dir():
        print(f"no reviews/ folder in {folder}; pass the data folder as the first argument", file=sys.stderr)
        return 2
    amazon(folder)
    google_play(folder)
    print(f"\n{'all expectations hold' if not problems else 'differences: ' + ', '.join(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Check the saved-page parsers (listener seo import) against real result pages.

    python scripts/check_serp_pages.py ../shared/data/serp

The expected counts and positions are the ones the pages' origin tests state (SOURCES.md, "Facts worth
knowing"). Prints one line per check and exits 1 when any fails. Development only: the pages are never
copied into the project; tests use fixtures the project writes, shaped like them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listener.seo.model import BlockedError  # noqa: E402
from listener.seo.providers import importer_class  # noqa: E402

# (file, engine, check name, function of the organic results -> the value, expected value)
CHECKS = [
    ("google-nojs.html", "google", "organic count", lambda o: len(o), 10),
    ("google-nojs.html", "google", "organic[1].title", lambda o: o[1].title, "Google Account"),
    ("google-nojs.html", "google", "organic[7].url", lambda o: o[7].url, "https://maps.google.com/"),
    ("google100-nojs.html", "google", "organic count", lambda o: len(o), 99),
    ("google100-nojs.html", "google", "organic[2].url", lambda o: o[2].url, "https://www.google.com/maps"),
    ("no-results-nojs.html", "bing", "organic count", lambda o: len(o), 0),
    ("bing-nojs.html", "bing", "organic count", lambda o: len(o), 10),
    ("bing-nojs.html", "bing", "organic[1] host", lambda o: o[1].url.split("/")[2], "www.malavida.com"),
    ("duckduckgo_test_keyword_page1.html", "duckduckgo", "organic count", lambda o: len(o), 10),
    ("duckduckgo_test_keyword_page1.html", "duckduckgo", "every result has a snippet",
     lambda o: all(r.snippet for r in o), True),
]


def main(folder: str) -> int:
    root = Path(folder)
    failures = 0
    for name, engine, label, get, expected in CHECKS:
        page = importer_class(engine)().parse((root / name).read_bytes(), query="(saved page)")
        value = get(page.organic)
        ok = value == expected
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} {label}: {value!r}" + ("" if ok else f" (expected {expected!r})"))
    for name, engine in (("google-recaptcha.html", "google"),):
        try:
            importer_class(engine)().parse((root / name).read_bytes(), query="(saved page)")
        except BlockedError as err:
            print(f"ok   {name}: blocked ({err})")
        else:
            failures += 1
            print(f"FAIL {name}: parsed as results, expected a CAPTCHA error")
    print(f"{len(CHECKS) + 1 - failures} of {len(CHECKS) + 1} checks pass")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/check_serp_pages.py PATH/TO/serp")
    sys.exit(main(sys.argv[1]))

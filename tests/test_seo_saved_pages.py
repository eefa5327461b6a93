"""Saved result pages (listener seo import): the project's own fixtures, shaped like Google's no-JavaScript
page, Bing's and DuckDuckGo's (scripts/check_serp_pages.py checks the parsers on real ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.seo.imports import import_saved_page
from listener.seo.model import BlockedError
from listener.seo.providers import PROVIDERS, load_builtins

FIXTURES = Path(__file__).parent / "fixtures" / "serp"
REDDIT = "https://www.reddit.com/r/nimbuswallet/comments/abc123/cant_reset_password/"
#: every saved-page engine with a fixture here; the meta-test fails when one is missing
PAGES = {"google": "google_nojs.html", "bing": "bing.html", "duckduckgo": "duckduckgo.html"}


def test_every_saved_page_engine_has_a_fixture():
    load_builtins()
    assert sorted(cls.import_engine for cls in PROVIDERS.values() if cls.import_engine) == sorted(PAGES)


def test_google_organic_results_skip_the_local_pack_and_unwrap_redirects():
    page = import_saved_page(FIXTURES / "google_nojs.html", "google", "nimbus reset password")
    urls = [r.url for r in page.organic]
    assert urls == ["https://help.nimbus.example/articles/reset-password", REDDIT,
                    "https://www.trustpilot.com/review/nimbus.example",
                    "https://forum.example.org/t/nimbus-password-loop/5120"]
    assert [r.position for r in page.organic] == [1, 2, 3, 4]
    assert page.organic[1].title.startswith("Can't reset my Nimbus password")
    assert page.organic[1].snippet == "Third day now, the verification code never comes."
    assert page.features == ["people_also_ask"] and page.engine == "google"


def test_bing_results_leave_deep_links_out():
    page = import_saved_page(FIXTURES / "bing.html", "bing", "nimbus reset password")
    assert [r.url for r in page.organic] == [REDDIT, "https://help.nimbus.example/articles/reset-password",
                                             "https://www.youtube.com/watch?v=n1mbus"]
    assert page.organic[2].snippet == "A 3 minute walkthrough."
    assert page.features == ["people_also_ask"]


def test_bing_no_results_page_is_zero_results():
    assert import_saved_page(FIXTURES / "bing_no_results.html", "bing", "zzqx").results == []


def test_duckduckgo_leaves_ads_out():
    page = import_saved_page(FIXTURES / "duckduckgo.html", "duckduckgo", "nimbus reset password")
    assert [r.url for r in page.organic][:2] == ["https://help.nimbus.example/articles/reset-password", REDDIT]
    assert len(page.organic) == 3 and all("ads.example" not in r.url for r in page.results)


def test_captcha_page_is_an_error_not_zero_results():
    with pytest.raises(BlockedError, match="unusual traffic"):
        import_saved_page(FIXTURES / "google_sorry.html", "google", "nimbus reset password")


def test_unknown_engine_and_missing_file_are_clear():
    from listener.config import ConfigError

    with pytest.raises(ValueError, match="known: bing, duckduckgo, google"):
        import_saved_page(FIXTURES / "bing.html", "yahoo", "q")
    with pytest.raises(ConfigError, match="cannot read"):
        import_saved_page(FIXTURES / "missing.html", "bing", "q")

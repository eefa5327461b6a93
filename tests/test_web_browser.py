"""The web app in a real browser: Playwright drives Debian's chromium (never a downloaded browser) against the
app served by uvicorn on 127.0.0.1, on tests/web_support.py's data (EN/FA/AR mentions, a thread, an alert, an
SEO report, XSS payloads). A screenshot of each page is kept under tests/artifacts/ (git-ignored).

The whole walk is one test: log in, search in English and Persian, filter, open a mention, correct its
sentiment, see the chart and the alert. Any dialog (alert/confirm/prompt) fails it: only a payload that ran
could open one.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LISTENER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture()
def served(tmp_path):
    """The app under a real uvicorn server in a thread, on a free port of 127.0.0.1."""
    import uvicorn

    from tests.web_support import build

    if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    pytest.importorskip("playwright")
    fixture = build(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fixture.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield fixture, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        fixture.close()


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's chromium; no sandbox (CI runs as root in a container); no background calls to Google.
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-background-networking"])
        context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        try:
            yield page
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_payload_ran(page) -> None:
    assert page.dialogs == [], f"a dialog opened: {page.dialogs}"
    assert page.evaluate("() => window.__xss") is None


def test_brand_manager_walk_through_in_chromium(served, page):
    web, base = served
    # Nothing before login: the app sends the browser to the login form.
    page.goto(base + "/overview")
    assert page.url.endswith("/login")
    shot(page, "01-login")
    page.fill("input[name=name]", "ed")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")

    # Search in English: highlighted matches, the query kept in the URL.
    page.fill("input[name=q]", "refund AND failed")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**/?q=refund+AND+failed*")
    assert page.locator("li.mention").count() == 40
    assert page.locator("li.mention mark").first.inner_text().lower() in ("refund", "failed")
    no_payload_ran(page)
    shot(page, "02-search-en")

    # Search in Persian: found with either letter form, shown right to left.
    page.fill("input[name=q]", "بازپرداخت")
    page.click("form.search button[type=submit]")
    page.wait_for_load_state()
    persian = page.locator("li.mention", has_text="دو هفته طول کشید")
    assert persian.count() == 1
    assert persian.locator("p.snippet").evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert page.locator("li.mention mark").first.inner_text() == "بازپرداخت"
    shot(page, "03-search-fa")

    # Filter: the hostile post is among the English negatives; its payloads stay text and its link is no link.
    page.fill("input[name=q]", "nimbus refund")
    page.fill("input[name=lang]", "en")
    page.select_option("select[name=sentiment]", "negative")
    page.select_option("select[name=brand]", "Nimbus")  # the project's brands and competitors to choose from
    page.click("form.search button[type=submit]")
    page.wait_for_url("**brand=Nimbus*sentiment=negative*")
    hits = page.locator("li.mention")
    assert hits.count() > 0
    assert all(s == "negative" for s in page.locator("li.mention .sentiment").all_inner_texts())
    hostile = page.locator("li.mention", has_text="Mallory")
    assert hostile.count() == 1 and "<img src=x" in hostile.inner_text()
    assert hostile.locator("a[href^='javascript']").count() == 0
    no_payload_ran(page)
    shot(page, "04-search-filtered")

    # Open the hostile mention (payloads everywhere on its page), then a mention in a thread.
    hostile.locator("a.open").click()
    page.wait_for_url("**/mentions/**")
    assert "<script>" in page.locator("article.current h2").inner_text()
    no_payload_ran(page)
    shot(page, "05-mention-hostile")
    page.goto(f"{base}/mentions/{web.thread_reply}")
    thread = page.locator("ul.thread")
    assert thread.first.locator("article").count() == 3
    assert page.locator("ul.thread ul.thread ul.thread article", has_text="Same here").count() == 1

    # Correct its sentiment: saved, shown, and kept for training.
    page.check("input[name=sentiment][value=positive]")
    page.check("input[name=topic][value=payments]")
    page.click("section.correct button[type=submit]")
    page.wait_for_url("**saved=1")
    assert "Correction saved" in page.locator("p.saved").inner_text()
    assert "positive" in page.locator("dl.facts").inner_text()
    correction = web.corrections.get(web.thread_reply)
    assert correction.sentiment == "positive" and correction.corrected_by == "ed"
    assert web.store.get(web.thread_reply).sentiment.label == "positive"
    shot(page, "06-mention-corrected")

    # The overview: the chart with the alert window and the spike, the breakdowns, share of voice.
    page.goto(base + "/overview")
    chart = page.locator("svg#volume")
    assert chart.locator("g.bar").count() > 10
    assert chart.locator("rect.alert-band").count() == 1 and chart.locator("path.spike").count() >= 1
    assert page.locator("table.share tbody tr").count() == 3
    assert "Orbit <b>Pay</b>" in page.locator("table.share").inner_text()  # shown as typed, not as markup
    no_payload_ran(page)
    shot(page, "07-overview")

    # The alert: listed, opened from the chart's band, explained, with its own chart; then acknowledged.
    page.goto(base + "/alerts")
    assert page.locator("table.alerts tbody tr").count() == 1
    no_payload_ran(page)
    shot(page, "08-alerts")
    page.goto(base + "/overview")
    page.locator("svg#volume a").first.click()
    page.wait_for_url(f"**/alerts/{web.alert_id}")
    assert page.locator("svg#alert-chart rect.alert-band").count() == 1
    assert "Observed 40" in page.locator("p.why").inner_text()
    page.click("text=Acknowledge")
    page.wait_for_url(f"**/alerts/{web.alert_id}")
    assert page.locator(".status").first.inner_text() == "acknowledged"
    no_payload_ran(page)
    shot(page, "09-alert")

    page.goto(base + "/seo")
    assert page.locator("section.question").count() == 1
    assert page.locator("a[href^='javascript']").count() == 0
    no_payload_ran(page)
    shot(page, "10-seo")


def test_admin_page_in_chromium(served, page):
    web, base = served
    page.goto(base + "/login")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.goto(base + "/admin")
    page.select_option("form[action='/admin/tokens'] select[name=name]", "vera")
    page.fill("form[action='/admin/tokens'] input[name=label]", "export script")
    page.click("form[action='/admin/tokens'] button[type=submit]")
    token = page.locator("code.token").inner_text()
    assert web.users.token_session(token).name == "vera"
    no_payload_ran(page)
    shot(page, "11-admin")


def test_a_viewer_makes_and_revokes_their_own_token_in_chromium(served, page):
    web, base = served
    console_errors = []  # e.g. "Failed to load resource" for a missing /favicon.ico on every page
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto(base + "/login")
    page.fill("input[name=name]", "vera")  # a viewer: no admin page, but her own tokens
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    page.click("nav a[href='/tokens']")
    page.wait_for_url(base + "/tokens")
    page.fill("form[action='/tokens'] input[name=label]", "<img src=x onerror=alert(1)> cron")
    page.click("form[action='/tokens'] button[type=submit]")
    token = page.locator("code.token").inner_text()
    assert web.users.token_session(token).name == "vera"
    [info] = web.users.tokens("vera")
    row = page.locator("table#tokens tbody tr")
    assert row.count() == 1 and f"{info.prefix}…" in row.inner_text() and "<img src=x" in row.inner_text()
    no_payload_ran(page)
    shot(page, "12-own-tokens")
    page.goto(base + "/tokens")
    assert page.locator("code.token").count() == 0 and token not in page.content()  # shown once only
    page.click(f"form[action='/tokens/{info.id}/revoke'] button[type=submit]")
    page.wait_for_url(base + "/tokens")
    assert "No tokens." in page.locator("table#tokens").inner_text()
    assert web.users.token_session(token) is None
    assert console_errors == []

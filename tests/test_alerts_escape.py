"""Escaping scraped text for each sink an alert writes to."""

from __future__ import annotations

import pytest

from listener.alerts import escape


@pytest.mark.parametrize("title", ["Hi\r\nBcc: x@evil.example", "Hi\nSubject: x", "Hi\u2028Bcc: x", "Hi\x85To: y",
                                   "Hi\rBcc:x"])
def test_header_is_always_one_line(title):
    value = escape.header(title)
    assert not any(c in value for c in "\r\n\u2028\u2029\x85") and value.startswith("Hi ")


def test_header_drops_controls_and_bidi_overrides_and_is_bounded():
    assert escape.header("a\x00b\u202ec\u2066d") == "abcd"
    assert len(escape.header("x" * 1000)) == 180


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
                                 "data:text/html,<script>", "vbscript:x", "//evil.example/x", "http://",
                                 'https://ok.example/"onmouseover="x', "https://ok.example/<x>", "ftp://x.example"])
def test_only_plain_http_urls_become_links(url):
    assert escape.safe_url(url) is None
    assert "href" not in escape.html_link(url, "label")
    assert escape.slack_link(url, "label") == escape.slack("label")
    assert escape.markdown_link(url, "label") == escape.markdown("label")


def test_http_links_survive():
    assert escape.html_link("https://ok.example/a?b=1&c=2", "x") == \
        '<a href="https://ok.example/a?b=1&amp;c=2" rel="noopener noreferrer nofollow"><bdi>x</bdi></a>'
    assert escape.slack_link("https://ok.example/a|b", "l|m") == "<https://ok.example/a%7Cb|l¦m>"


def test_mass_mentions_are_defused_everywhere():
    text = "@channel @HERE @everyone <!everyone> <!subteam^S1> <@U123> <https://x.example|y>"
    for render in (escape.plain, escape.html_text, escape.slack, escape.markdown):
        out = render(text)
        assert "@channel" not in out and "@HERE" not in out and "@everyone" not in out
        assert "<!everyone>" not in out and "<@U123>" not in out and "<https://x.example|" not in out


def test_markup_is_escaped_per_format():
    text = "<script>x</script> *bold* [a](https://x.example) `code`"
    assert "&lt;script&gt;" in escape.html_text(text)
    slack = escape.slack(text)
    assert "&lt;script&gt;" in slack and "*bold*" not in slack and "`code`" not in slack
    md = escape.markdown(text)
    assert "&lt;script" in md and "\\[a\\]\\(https" in md and "\\*bold\\*" in md


def test_rtl_text_is_isolated():
    persian = "سلام دنیا"
    assert escape.plain(persian) == f"\u2068{persian}\u2069"
    assert escape.html_text(persian) == f"<bdi>{persian}</bdi>"

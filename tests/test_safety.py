"""Scraped text is hostile: links, terminal output and spreadsheet cells are made safe at every sink."""

import pytest

from listener.safety import safe_link, spreadsheet_cell, terminal_text


@pytest.mark.parametrize("url", [
    "https://www.trustpilot.com/review/nimbus.example", "http://127.0.0.1:8080/a?b=1#c", "HTTPS://EXAMPLE.COM/",
])
def test_web_links_are_offered(url):
    assert safe_link(url) == url


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "jav\nascript:alert(1)", "\x01javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "file:///etc/passwd", "/relative/path", "//evil.example/x", "https:evil.example",
    "https://a.example/\x1b]8;;https://evil\x07", "https://a.example/ spaced", "", None,
])
def test_anything_else_is_never_a_link(url):
    assert safe_link(url) is None


def test_browser_ignored_characters_do_not_hide_a_scheme():
    assert safe_link("\thttps://ok.example/\n") == "https://ok.example/"


@pytest.mark.parametrize("hostile, shown", [
    ("before\x1b[2J\x1b[Hafter", "beforeafter"),  # clear screen, cursor home
    ("a\x1b]52;c;ZXZpbA==\x07b", "ab"),  # OSC 52: write the clipboard
    ("a\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\b", "aclickb"),  # OSC 8 hyperlink
    ("x\x9b31my", "xy"),  # 8-bit CSI
    ("bell\x07 back\x08space\rcr", "bell backspacecr"),
    ("line one\nline two\ttab", "line one\nline two\ttab"),
    ("evil\u202egnp.exe", "evil<U+202E>gnp.exe"),
    ("نیمبوس\u200cها", "نیمبوس\u200cها"),  # ZWNJ is a letter joiner in Persian, not a control
])
def test_terminal_text_strips_controls_and_shows_bidi_overrides(hostile, shown):
    assert terminal_text(hostile) == shown


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
                                  "\t=1", "\r=1", "\uff1dSUM(A1)"])
def test_formula_cells_are_neutralised(cell):
    assert spreadsheet_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["plain text", "نیمبوس", "", 5, -3, 4.5, "a=b"])
def test_other_cells_are_left_alone(cell):
    assert spreadsheet_cell(cell) == cell

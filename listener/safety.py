"""Making scraped text safe for where it is shown: links, terminals and spreadsheets.

Everything a source gives us is written by strangers, and some of it is written to attack whoever reads
it: a `javascript:` link in an alert e-mail, an escape sequence that rewrites the clipboard of the support
lead who runs `listener search`, a `=HYPERLINK(...)` cell that Excel runs when the CSV export is opened.
The store keeps what was said as it was said; these helpers are applied at the edge, by every sink.
"""

from __future__ import annotations

import re

# Schemes that open a web page. Anything else (javascript:, data:, vbscript:, file:, a relative path) is
# kept in the store as text but never offered as something to click.
LINK_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# Browsers drop ASCII tab and newlines anywhere in a URL and C0 controls and spaces at its ends
# (WHATWG URL standard), so "java\tscript:" is javascript: to them; look at the URL the way they do.
_URL_IGNORED = re.compile(r"[\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_link(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) link that is safe to offer as a link, else None."""
    if not url:
        return None
    browser_view = _URL_IGNORED.sub("", url.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
                                                 "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
    if _CONTROL.search(browser_view) or any(c.isspace() for c in browser_view):
        return None  # a control character or space cannot be in a real link; it can end a terminal's OSC 8
    scheme = _SCHEME.match(browser_view)
    if not scheme or scheme.group(1).lower() not in LINK_SCHEMES or not browser_view[scheme.end():].startswith("//"):
        return None
    return browser_view


# Terminal control sequences: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \: clipboard writes,
# hyperlinks, window titles), the other ESC-introduced strings (DCS, SOS, PM, APC), and two-byte escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x9d\x90\x98\x9e\x9f].*?(?:\x07|\x9c|\x1b\\|$)"
    r"|\x1b[ -~]?",
    re.DOTALL,
)
# C0 controls except tab and newline, DEL, and the C1 controls: a terminal obeys them, a reader never needs them.
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides and isolates reorder what follows them ("Trojan Source"): a name ending in
# U+202E shows its text backwards. Make them visible instead of letting the terminal obey them.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str | None) -> str:
    """`text` with escape sequences and control characters removed and bidi overrides shown as <U+202E>."""
    if not text:
        return ""
    text = _ESCAPE_SEQUENCE.sub("", text.replace("\r\n", "\n"))
    text = _TERMINAL_CONTROL.sub("", text)
    return _BIDI_CONTROL.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value: object) -> object:
    """A text cell that a spreadsheet shows as text, never runs: a leading formula character gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value

"""Bytes to text and HTML to plain text, robust to wrong or missing charsets and broken markup."""

from __future__ import annotations

import codecs
import html
import re

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# Encodings that servers and templates declare by default while the bytes are often UTF-8.
_SINGLE_BYTE_DEFAULTS = {"ascii", "latin_1", "iso8859_1", "cp1252", "iso8859_15"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name.replace("-", "_")
    except LookupError:
        return None


def _plausible(encoding: str | None, body: bytes) -> str | None:
    """`encoding`, unless the bytes cannot be in it. UTF-16 and UTF-32 put a NUL byte beside every ASCII
    character of the markup, so a body without NULs is not in them, whatever a misconfigured server says
    (browsers decode such pages as UTF-8 too: a <meta> naming UTF-16 means UTF-8 in the HTML standard)."""
    if encoding and encoding.startswith(("utf_16", "utf_32")) and b"\x00" not in body[:4096]:
        return None
    return encoding


def declared_encoding(body: bytes, content_type: str | None = None) -> str | None:
    """The charset a page claims and its bytes allow: the Content-Type header first, then <meta charset> /
    http-equiv."""
    header = _plausible(_codec(http_content_type_encoding(content_type or "")), body)
    return header or _plausible(_codec(html_body_declared_encoding(body)), body)


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used). A byte-order mark wins; a declared single-byte charset (latin-1, cp1252,
    ascii) loses to UTF-8 when the bytes are valid UTF-8 with non-ASCII in them (a latin-1 page almost
    never forms valid UTF-8 sequences by chance); a declared charset that fails falls back to UTF-8,
    then cp1252, which decodes any byte."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return body[len(bom):].decode(bom_encoding, errors="replace"), _codec(bom_encoding) or bom_encoding
    declared = declared_encoding(body, content_type)
    if declared is None or declared in _SINGLE_BYTE_DEFAULTS:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if declared is None or not body.isascii():
                return text, "utf_8"
    if declared:
        try:
            return body.decode(declared), declared
        except (UnicodeDecodeError, LookupError):
            try:
                return body.decode("utf-8"), "utf_8"
            except UnicodeDecodeError:
                pass
    return body.decode("cp1252", errors="replace"), "cp1252"


_BLOCK_END = re.compile(r"(?i)<\s*(?:br\s*/?|/p|/div|/li|/h[1-6]|/tr|/blockquote)\s*>")
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"(?is)<(script|style|noscript)\b.*?</\1\s*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")


def html_to_text(fragment: object) -> str:
    """Plain text of an HTML fragment: tags removed, line breaks kept at <br> and block ends,
    entities decoded, runs of spaces squashed. Plain text passes through (entities decoded)."""
    if not fragment or not isinstance(fragment, str):
        return clean_text(fragment)
    text = _SCRIPT.sub(" ", fragment)
    text = _BLOCK_END.sub("\n", text)
    text = _TAG.sub(" ", text)
    return clean_text(html.unescape(text))


def clean_text(text: object) -> str:
    """Squash spaces inside lines, drop blank-line runs, strip the ends. A number becomes its text;
    anything else that is not a string (a JSON object where a site changed its shape) becomes ""."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = str(text)
    if not text or not isinstance(text, str):
        return ""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def first(*values):
    """The first value that is not None or empty."""
    for value in values:
        if value not in (None, "", [], {}):
            return value
    return None

"""Scraped text made safe for each place an alert puts it. Mentions are written by strangers: a title may
hold `<script>`, a `javascript:` link, a Markdown link, `@channel` or `<!everyone>`, CR/LF meant for an
e-mail header, or bidi control characters that make text read differently than it is.

One function per sink; every channel calls the one for its format on every piece of scraped text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

from listener.safety import safe_link

# Bidi embeddings/overrides/isolates in scraped text could reorder what surrounds them: dropped, and our
# own isolates put around each scraped piece instead (FSI ... PDI in text, <bdi>/dir=auto in HTML).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MASS_MENTION = re.compile(r"@(channel|here|everyone|all|group|room)\b", re.IGNORECASE)
_DANGEROUS_SCHEME = re.compile(r"\b(javascript|vbscript|data|file)\s*:", re.IGNORECASE)
FSI, PDI = "\u2068", "\u2069"
WORD_JOINER = "\u2060"


def clean(text: str | None) -> str:
    """Scraped text without control characters and bidi overrides (newlines and tabs kept)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    return _CONTROLS.sub("", _BIDI_CONTROLS.sub("", text))


def defuse(text: str) -> str:
    """Mass mentions and script-like URL schemes lose their power, still readable:
    "@channel" -> "@\u2060channel", "<!everyone>" -> "<\u2060!everyone>" (Slack's special mentions, also when
    a plain-text webhook is forwarded to Slack), "javascript:" -> "javascript\u2060:"."""
    text = _MASS_MENTION.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)
    # <!everyone>, <@U123>, and <https://x|label> (a link whose label lies) are Slack syntax
    text = re.sub(r"<([!@#^]|[a-zA-Z][a-zA-Z0-9+.-]*:)", "<" + WORD_JOINER + r"\1", text)
    return _DANGEROUS_SCHEME.sub(lambda m: m.group(1) + WORD_JOINER + ":", text)


def header(text: str | None, limit: int = 180) -> str:
    """One line for an e-mail header: CR, LF, U+2028/9 and every control character become spaces."""
    text = clean(re.sub(r"[\r\n\u2028\u2029\x85\t\v\f]+", " ", text or ""))
    text = re.sub(r"\s{2,}", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str | None) -> str:
    """Plain text (the text part of an e-mail, generic webhooks), direction-isolated."""
    text = defuse(clean(text))
    return f"{FSI}{text}{PDI}" if text else ""


def html_text(text: str | None) -> str:
    """Text for an HTML body: escaped, mass mentions defused, in a <bdi> so RTL text keeps its order."""
    text = defuse(clean(text))
    return f"<bdi>{html.escape(text, quote=True)}</bdi>" if text else ""


def safe_url(url: str | None) -> str | None:
    """The URL if listener.safety offers it as a link at all (http(s) only, as every sink decides) and it has a
    host and no character that could close an HTML attribute or a chat format's link syntax."""
    link = safe_link(url)
    if not link:
        return None
    try:
        host = urlsplit(link).netloc
    except ValueError:
        return None
    if not host or re.search(r"[<>\"'`]", link):
        return None
    return link


def html_link(url: str | None, label: str | None) -> str:
    """An <a> for http(s) URLs; anything else (javascript:, data:, a broken URL) is shown as text only."""
    safe = safe_url(url)
    shown = html_text(label or url or "")
    if not safe:
        return shown
    return f'<a href="{html.escape(safe, quote=True)}" rel="noopener noreferrer nofollow">{shown}</a>'


def slack(text: str | None) -> str:
    """Slack mrkdwn: &, < and > escaped as Slack requires (so <!everyone> or <url|label> is shown, not
    acted on), @channel/@here/@everyone defused, formatting characters neutralised."""
    text = defuse(clean(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # *bold*, _italic_, ~strike~, `code`: a zero-width joiner beside each keeps them literal
    return re.sub(r"([*_~`])", lambda m: m.group(1) + WORD_JOINER, text)


def slack_link(url: str | None, label: str | None) -> str:
    safe = safe_url(url)
    shown = slack(label or url or "")
    if not safe:
        return shown
    return f"<{safe.replace('|', '%7C')}|{shown.replace('|', '¦')}>"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown(text: str | None) -> str:
    """Markdown (Teams, Discord, Matrix): every Markdown character backslash-escaped and HTML characters
    as entities (Markdown passes raw HTML through), mass mentions defused."""
    text = defuse(clean(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def markdown_link(url: str | None, label: str | None) -> str:
    safe = safe_url(url)
    shown = markdown(label or url or "")
    if not safe:
        return shown
    return f"[{shown}](<{safe.replace('>', '%3E').replace(' ', '%20')}>)"

"""Recognise a CAPTCHA or "unusual traffic" page, so it is reported as blocked, never parsed as zero results."""

from __future__ import annotations

import re

# Phrases and markup of the block pages of Google (/sorry/), Bing, DuckDuckGo (its "anomaly" challenge),
# SearXNG's upstream engines and the common bot walls (reCAPTCHA, hCaptcha, Cloudflare). Matched on the raw
# page, lower-cased; a normal result page contains none of them (scripts/check_serp_pages.py checks that on
# real pages).
_SIGNS = [
    ("unusual traffic from your computer network", "Google's 'unusual traffic' page"),
    ('action="/sorry/index"', "Google's /sorry/ CAPTCHA page"),
    ('id="captcha-form"', "a CAPTCHA form"),
    ("class=\"g-recaptcha\"", "a reCAPTCHA challenge"),
    ("h-captcha", "an hCaptcha challenge"),
    ("anomaly-modal", "DuckDuckGo's bot challenge"),
    ("bots use duckduckgo too", "DuckDuckGo's bot challenge"),
    ('id="challenge-form"', "a Cloudflare challenge"),
    ("cf-chl-", "a Cloudflare challenge"),
    ("please verify you are a human", "a 'verify you are a human' page"),
    ("verify you are a human", "a 'verify you are a human' page"),
    ('id="b_captcha', "Bing's CAPTCHA page"),
]
_TITLE = re.compile(r"<title[^>]*>([^<]*)</title>", re.I)


def block_reason(body: str | bytes) -> str | None:
    """What kind of block page this is, or None when it looks like an ordinary page."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    head = text[:200_000].lower()
    for sign, reason in _SIGNS:
        if sign in head:
            return reason
    title = _TITLE.search(text[:5000])
    if title and re.search(r"\b(captcha|robot check|access denied|attention required)\b", title.group(1), re.I):
        return f"a block page titled {title.group(1).strip()[:60]!r}"
    return None

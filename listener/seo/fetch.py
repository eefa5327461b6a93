"""The one place SEO does HTTP: build a provider, send its requests with a timeout, and turn every way a
search can fail (no key, 429, a CAPTCHA page, HTML instead of JSON, a hang) into one clear SerpError."""

from __future__ import annotations

import logging

import requests

from listener.seo.blocked import block_reason
from listener.seo.model import (
    BadResponseError, BlockedError, MissingKeyError, ProviderTimeout, QuotaError, SerpError, SerpPage,
)
from listener.seo.providers import Provider, provider_class
from listener.seo.settings import SeoSettings

log = logging.getLogger(__name__)
USER_AGENT = "listener-seo/0.1 (+https://github.com/listener-project/listener)"
MAX_PAGES = 10


def build_provider(settings: SeoSettings, name: str | None = None) -> Provider:
    """The configured provider; MissingKeyError when it needs a key the environment does not hold."""
    cls = provider_class(name or settings.provider)
    key = None
    if cls.about.key_env:
        key = settings.keys.get(cls.about.key_env)
        if not key:
            raise MissingKeyError(f"{cls.name}: no API key; set {cls.about.key_env} (see {cls.about.docs}) or "
                                  "choose another provider with LISTENER_SERP_PROVIDER")
    return cls(base_url=settings.url, key=key)


def fetch_page(provider: Provider, query: str, lang: str, country: str, page: int, *, timeout: float,
               session: requests.Session | None = None) -> SerpPage:
    """One result page from the provider, or a SerpError saying what went wrong and what to do."""
    req = provider.request(query, lang, country, page)
    http = session or requests
    try:
        response = http.request(req.method, req.url, params=req.params,
                                headers={"User-Agent": USER_AGENT, **req.headers}, timeout=timeout,
                                allow_redirects=True)
    except requests.Timeout:
        raise ProviderTimeout(f"{provider.name}: no answer from {provider.base_url} within {timeout:g} s "
                              "(LISTENER_SERP_TIMEOUT); the provider hangs or is overloaded") from None
    except requests.ConnectionError as err:
        raise SerpError(f"{provider.name}: cannot connect to {provider.base_url} ({type(err).__name__}); check "
                        "LISTENER_SERP_URL and that the service is running") from None
    body = response.content
    specific = provider.error_of(response.status_code, body) if response.status_code >= 400 else None
    if specific is not None:
        raise specific
    if response.status_code == 429:
        wait = response.headers.get("Retry-After")
        raise QuotaError(f"{provider.name}: 429 Too Many Requests" + (f", retry after {wait} s" if wait else "")
                         + "; lower the schedule or raise the plan's quota")
    if response.status_code in (401, 403):
        reason = block_reason(body)
        if reason:
            raise BlockedError(f"{provider.name}: {response.status_code} with {reason}; slow down or use an API")
        raise MissingKeyError(f"{provider.name}: {response.status_code} {response.reason}: the key or access was "
                              f"refused; check {provider.about.key_env or 'the instance settings'}")
    if response.status_code >= 400:
        reason = block_reason(body)
        if reason:
            raise BlockedError(f"{provider.name}: {response.status_code} with {reason}; slow down or use an API")
        raise BadResponseError(f"{provider.name}: HTTP {response.status_code} {response.reason} from "
                               f"{provider.base_url}")
    if provider.about.format == "JSON" and body.lstrip()[:1] == b"<":
        reason = block_reason(body)
        if reason:
            raise BlockedError(f"{provider.name}: answered with {reason} instead of JSON; slow down or try later")
    return provider.parse(body, query, lang, country, page)


def search(provider: Provider, query: str, lang: str, country: str, depth: int, *, timeout: float,
           session: requests.Session | None = None, on_request=None) -> SerpPage:
    """The top `depth` results, fetching further pages where the provider allows; `on_request()` is called
    before every request (the quota counter)."""
    pages = 1 if not provider.about.pages else min(MAX_PAGES, -(-depth // provider.page_size))
    combined: SerpPage | None = None
    for page in range(pages):
        if on_request is not None:
            on_request()
        current = fetch_page(provider, query, lang, country, page, timeout=timeout, session=session)
        if combined is None:
            combined = current
        else:
            known = {r.url for r in combined.results}
            combined.results.extend(r for r in current.results if r.url not in known)
            combined.features = sorted(set(combined.features) | set(current.features))
        if len(current.organic) < provider.page_size:
            break  # the last page
    assert combined is not None
    organic = [r for r in combined.results if r.feature == "organic"][:depth]
    for number, result in enumerate(organic, 1):
        result.position = number
    combined.results = organic + [r for r in combined.results if r.feature != "organic"]
    return combined

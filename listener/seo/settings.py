"""SEO settings from the environment: which provider, its URL and key, timeouts, quota and check interval."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from listener.config import ConfigError, parse_duration


@dataclass(frozen=True)
class SeoSettings:
    provider: str
    url: str | None  # the provider's base URL (a SearXNG instance; tests and the demo point others at 127.0.0.1)
    keys: dict[str, str]  # env var -> value, for the providers that need one
    timeout: float  # seconds per request: a provider that hangs fails with a clear error, never blocks a run
    daily_quota: int | None  # requests per provider per UTC day; None = no limit of our own
    min_interval: timedelta  # a question is searched again only after this long (the cache)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "SeoSettings":
        env = os.environ if environ is None else environ
        keys = {name: env[name] for name in ("LISTENER_SERPAPI_KEY", "LISTENER_BRAVE_KEY") if env.get(name)}
        provider = env.get("LISTENER_SERP_PROVIDER") or _default_provider(env, keys)
        try:
            timeout = float(env.get("LISTENER_SERP_TIMEOUT") or 20)
            quota = int(env["LISTENER_SERP_DAILY_QUOTA"]) if env.get("LISTENER_SERP_DAILY_QUOTA") else None
            interval = parse_duration(env.get("LISTENER_SERP_INTERVAL") or "20h")
        except ValueError as err:
            raise ConfigError(f"LISTENER_SERP_TIMEOUT / _DAILY_QUOTA / _INTERVAL: {err} (e.g. 20, 100, 20h)") from None
        return cls(provider=provider, url=env.get("LISTENER_SERP_URL") or None, keys=keys, timeout=timeout,
                   daily_quota=quota, min_interval=interval)


def _default_provider(env, keys) -> str:
    """The best provider the environment allows: a SearXNG URL, then the keyed APIs, then keyless DuckDuckGo."""
    if env.get("LISTENER_SERP_URL"):
        return "searxng"
    if "LISTENER_SERPAPI_KEY" in keys:
        return "serpapi"
    if "LISTENER_BRAVE_KEY" in keys:
        return "brave"
    return "duckduckgo"

"""The SERP provider registry: name -> Provider subclass. Built-ins register exactly as an outside one would.

    from listener.seo.providers import register, Provider
    @register
    class MyProvider(Provider): name = "mine"; ...
"""

from __future__ import annotations

import importlib

from listener.seo.model import UnknownProviderError
from listener.seo.providers.base import About, HttpRequest, Provider

__all__ = ["About", "HttpRequest", "Provider", "PROVIDERS", "register", "provider_class", "importer_class",
           "load_builtins"]

PROVIDERS: dict[str, type[Provider]] = {}
_BUILTINS = ("searxng", "serpapi", "brave", "duckduckgo", "saved_google", "saved_bing")


def register(cls: type[Provider]) -> type[Provider]:
    if not cls.name or cls.name != cls.name.lower():
        raise ValueError(f"{cls.__name__}: a provider needs a unique lower-case name")
    PROVIDERS[cls.name] = cls
    return cls


def load_builtins() -> dict[str, type[Provider]]:
    for module in _BUILTINS:
        importlib.import_module(f"listener.seo.providers.{module}")
    return PROVIDERS


def live_names() -> list[str]:
    return [name for name, cls in load_builtins().items() if cls.about.live]


def provider_class(name: str) -> type[Provider]:
    load_builtins()
    cls = PROVIDERS.get(name)
    if cls is None or not cls.about.live:
        raise UnknownProviderError(f"unknown SERP provider {name!r}; known: {', '.join(live_names())}")
    return cls


def importer_class(engine: str) -> type[Provider]:
    """The parser of saved result pages of this engine (google, bing, duckduckgo)."""
    engines = {cls.import_engine: cls for cls in load_builtins().values() if cls.import_engine}
    try:
        return engines[engine]
    except KeyError:
        raise UnknownProviderError(f"--engine: no parser for saved {engine!r} pages; known: "
                         f"{', '.join(sorted(engines))}") from None

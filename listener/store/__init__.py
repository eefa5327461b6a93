"""Where mentions are kept: one interface (base.Store), back ends registered by URL scheme.

`open_store("sqlite:///path/to/listener.db")` or `open_store("elasticsearch://127.0.0.1:9200")`.
A back end registers itself the same way an outside one would: `@register("scheme")`.
"""

from __future__ import annotations

import importlib
import re
from typing import Callable

from listener.store.base import Filters, Hit, Page, Store, StoreConfigError, StoreError, UpsertResult

__all__ = ["Filters", "Hit", "Page", "Store", "StoreError", "UpsertResult", "BACKENDS", "register", "open_store",
           "redact_url"]

#: scheme -> factory taking the URL
BACKENDS: dict[str, Callable[[str], Store]] = {}

# Built-in back ends, imported on first use so the embedded runtime never imports a network client.
_BUILTIN_MODULES = {"sqlite": "listener.store.sqlite", "elasticsearch": "listener.store.elastic",
                    "elasticsearchs": "listener.store.elastic"}


def register(scheme: str):
    def decorate(factory):
        BACKENDS[scheme] = factory
        return factory

    return decorate


def open_store(url: str) -> Store:
    scheme = url.split(":", 1)[0]
    if scheme not in BACKENDS and scheme in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[scheme])
    try:
        factory = BACKENDS[scheme]
    except KeyError:
        known = ", ".join(sorted(set(BACKENDS) | set(_BUILTIN_MODULES)))
        raise StoreConfigError(f"unknown store URL scheme {scheme!r} in {redact_url(url)!r} (LISTENER_STORE); "
                               f"known: {known}") from None
    return factory(url)


def redact_url(url: str) -> str:
    """The URL with any password in it replaced by ***, for messages and logs."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)

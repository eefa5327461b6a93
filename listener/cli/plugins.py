"""The one hook through which command groups join the `listener` CLI: the `listener.commands` entry points.

Each entry point names a `register(app)` function. The library's own groups (model) use it just like the
gathering commands (`spiders`), the demo (`demo`) and the workers (`workers`) do, so the library never imports
those packages: they plug themselves in, as an outside plugin would (datasette registers its built-ins the
same way). An editable install keeps the entry points it was installed with; when `listener` runs from a
checkout whose pyproject.toml declares newer ones, the checkout's list wins, so a new command works before
anyone re-installs.
"""

from __future__ import annotations

import importlib
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

GROUP = "listener.commands"
DISTRIBUTION = "listener"


def _checkout_entry_points() -> dict[str, str] | None:
    """name -> "module:attr" from the pyproject.toml beside the package, when running from a checkout."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.is_file():
        return None
    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    if data.get("project", {}).get("name") != DISTRIBUTION:
        return None
    return dict(data["project"].get("entry-points", {}).get(GROUP, {}))


def declared() -> dict[str, str]:
    """Every command plug-in: name -> "module:attr", the installed distributions' first, the checkout's last."""
    checkout = _checkout_entry_points()
    found: dict[str, str] = {}
    for entry in metadata.entry_points(group=GROUP):
        if checkout is not None and entry.dist is not None and entry.dist.name == DISTRIBUTION:
            continue  # this distribution's installed list may be older than the checkout's
        found[entry.name] = entry.value
    found.update(checkout or {})
    return found


def load(value: str) -> Callable | None:
    """The register function behind "module:attr"; None when its package is not installed (an optional part
    such as the demo left out of a slim image). Any other import error is a bug and propagates."""
    module_name, _, attr = value.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name.split(".")[0] == err.name.split(".")[0]:
            return None
        raise
    return getattr(module, attr or "register")


def register_all(app, plugins: Iterable[str] | None = None) -> list[str]:
    """Call every plug-in's register(app); returns the names registered."""
    registered = []
    for name, value in (declared().items() if plugins is None else ((p, p) for p in plugins)):
        register = load(value)
        if register is not None:
            register(app)
            registered.append(name)
    return registered

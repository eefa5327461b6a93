"""The `about` record every source module opens with (SearXNG's engines do the same): what it reads, how."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class About:
    """What a source is, in one glance."""

    site: str  # home page of the site, or what kind of page a generic spider reads
    source: str  # the Mention.source of what it yields
    official_api: bool
    key_needed: str  # the environment variables it needs, "" when none
    format: str  # "HTML", "JSON", "RSS/Atom", ...
    docs: str = ""  # the API's documentation, when there is one
    brand_specific: bool = False  # its items are about the brand whose page it is (brands=[brand.name])

"""Pure parse helpers shared by the spiders: bytes or text in, plain values or Mentions out, no network.

Every site module here takes a response body (and the facts a spider knows: its URL, the brand) and
returns a `ParseResult`; the spiders in `spiders/` only build requests and hand bodies to these, so each
parser is tested on fixture files without a server (STYLE.md 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from listener.model import Mention


@dataclass
class ParseResult:
    """What one page gave: the mentions, why some items were skipped, where to go next, page facts."""

    mentions: list[Mention] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one reason per item that could not be used
    next_url: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # page-level facts: aggregate rating, app details

    @property
    def empty(self) -> bool:
        return not self.mentions and not self.skipped


class MalformedPage(ValueError):
    """The page is not what the parser expects (broken JSON, truncated, wrong kind); skip it and log why."""

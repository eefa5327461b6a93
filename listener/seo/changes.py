"""What changed between checks of a question: the own page's position moving, a third-party page overtaking
it, the own page leaving (or reaching) page one. `metric = "serp"` alert rules raise them (listener.alerts.serp)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from listener.seo.classify import classify_page
from listener.seo.ctr import PAGE_ONE
from listener.seo.history import Check
from listener.seo.model import SerpPage
from listener.seo.questions import Question


@dataclass
class Change:
    at: datetime
    kind: str  # own_moved, own_left_page_one, own_reached_page_one, third_party_overtook
    message: str
    url: str | None = None
    before: int | None = None
    after: int | None = None


def _own_position(page: SerpPage) -> tuple[int | None, str | None]:
    for result in page.organic:
        if result.category == "own_self_service":
            return result.position, result.url
    return None, None


def _shown(position: int | None) -> str:
    return f"#{position}" if position else "not in the results"


def changes_between(question: Question, old: Check, new: Check) -> list[Change]:
    before_page, after_page = classify_page(question, old.page), classify_page(question, new.page)
    before, _ = _own_position(before_page)
    after, own_url = _own_position(after_page)
    at = after_page.fetched_at
    found: list[Change] = []
    if before != after:
        found.append(Change(at, "own_moved", f"own page {_shown(before)} -> {_shown(after)}", own_url, before, after))
    was_on, is_on = before is not None and before <= PAGE_ONE, after is not None and after <= PAGE_ONE
    if was_on and not is_on:
        found.append(Change(at, "own_left_page_one", f"own page left page one ({_shown(before)} -> {_shown(after)})",
                            own_url, before, after))
    elif is_on and not was_on:
        found.append(Change(at, "own_reached_page_one", f"own page reached page one ({_shown(after)})",
                            own_url, before, after))
    old_positions = {r.url: r.position for r in before_page.organic if r.category == "third_party"}
    for result in after_page.organic:
        if result.category != "third_party" or (after is not None and result.position >= after):
            continue
        previous = old_positions.get(result.url)
        was_above = previous is not None and before is not None and previous < before
        if not was_above and (before is not None or previous is None):
            found.append(Change(at, "third_party_overtook",
                                f"{result.domain or result.url} now #{result.position}, above the own page "
                                f"({_shown(after)}); before: {_shown(previous)}", result.url, previous,
                                result.position))
    return found


def question_changes(question: Question, checks: list[Check]) -> list[Change]:
    """Every change over a question's checks (oldest first), in time order."""
    found: list[Change] = []
    for old, new in zip(checks, checks[1:]):
        found.extend(changes_between(question, old, new))
    return found

"""SEO rank changes as alerts (`metric = "serp"`): what changed between two checks of a question
(listener.seo.changes) becomes one alert per question, event kind and check.

The rank history is the source, not the mention store: each pair of consecutive checks whose newer check was
recorded within the rule's window (default two days for serp rules) is compared, and the events the rule
asks for are raised. The alert's window is the two checks (start = the older, end = the newer), so its
de-duplication key is question + event + check and the alert state raises it exactly once however often the
check runs. The pages that overtook the own page are described from the store (their stored mentions'
negativity, sentiment and topics; listener.seo.report.describe_pages) so the alert says how bad they are.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Iterator

from listener.alerts.detectors import Score
from listener.config import parse_duration
from listener.seo.changes import Change, changes_between
from listener.safety import safe_link
from listener.seo.classify import classify_page, registrable_domain
from listener.seo.ctr import ctr
from listener.seo.history import Check, RankHistory
from listener.seo.questions import Question, find_question, questions_of
from listener.seo.report import OutrankingPage, describe_pages
from listener.store.base import Store

#: the change kinds a serp rule can raise (AlertRule.events)
SERP_KINDS = ("third_party_overtook", "own_left_page_one", "own_reached_page_one", "own_moved")
CHECKS_READ = 50  # checks per question read from the history (the window keeps only the recent ones anyway)


def rule_questions(rule, project, brand: str) -> list[Question]:
    """The brand's [[serp]] questions that a rule watches: all of them, or the one it names (every market)."""
    mine = [q for q in questions_of(project) if q.brand == brand]
    return find_question(mine, rule.question) if rule.question else mine


def _title(brand: str, question: Question, kind: str, found: list[Change], own_after: int | None) -> str:
    where = f"{brand}, '{question.text}' [{question.lang}-{question.country}]"
    first = found[0]
    if kind == "third_party_overtook":
        # The site's name, never the scraped URL itself: a SERP can hold any scheme, and titles reach
        # e-mail subjects and chat titles, where only escaping stands between a URL and a link.
        site = registrable_domain(first.url) if safe_link(first.url) else "a page with no web address"
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        shown = f"#{own_after}" if own_after else "not in the results"
        return f"{where}: {site} now #{first.after}, above the own page ({shown}){more}"
    return f"{where}: {first.message}"


def _pages(new: Check, question: Question, found: list[Change], brand: str, store: Store | None) -> list[dict]:
    """The pages that overtook the own page, as the outrank report describes them, plus where they were."""
    page = classify_page(question, new.page)
    by_url = {r.url: r for r in page.organic}
    pages, before = [], {}
    for change in found:
        result = by_url.get(change.url or "")
        if result is None:
            continue
        pages.append(OutrankingPage(position=result.position, url=result.url, domain=result.domain,
                                    kind=result.kind, title=result.title, click_share=ctr(result.position)))
        before[result.url] = change.before
    describe_pages(pages, brand, store)
    return [{**asdict(p), "before": before[p.url]} for p in pages]


def rank_changes(history: RankHistory, store: Store | None, project, subject, now: datetime) -> Iterator:
    """Candidates (listener.alerts.check.Candidate) for the rank changes the subject's rule asks for."""
    from listener.alerts.check import Candidate

    rule = subject.rule
    since = now - parse_duration(rule.window)
    for question in rule_questions(rule, project, subject.brand):
        checks = history.checks(question.key, limit=CHECKS_READ)
        for old, new in zip(checks, checks[1:]):
            if not since < new.page.fetched_at <= now:
                continue
            by_kind: dict[str, list[Change]] = {}
            for change in changes_between(question, old, new):
                if change.kind in rule.events:
                    by_kind.setdefault(change.kind, []).append(change)
            (own_before, old_url), (own_after, new_url) = _own(question, old), _own(question, new)
            for kind, found in by_kind.items():
                details = {"serp": {
                    "event": kind, "question": question.text, "lang": question.lang, "country": question.country,
                    "engine": new.page.engine, "check_id": new.id, "previous_check_id": old.id,
                    "checked_at": new.page.fetched_at.isoformat(), "previous_checked_at": old.page.fetched_at.isoformat(),
                    "own_url": new_url or old_url or question.own_page,
                    "own_before": own_before, "own_after": own_after,
                    "changes": [c.message for c in found],
                    "pages": _pages(new, question, found, subject.brand, store)
                    if kind == "third_party_overtook" else [],
                }}
                # A rank change is a fact, not a probability: observed / expected carry the own page's position
                # after / before (0: not in the results) for `alerts list --json`, and p is 0.
                score = Score(t=new.page.fetched_at.timestamp(), observed=float(own_after or 0),
                              expected=float(own_before or 0), p=0.0, z=0.0, window=1, ready=True)
                yield Candidate(score, old.page.fetched_at, new.page.fetched_at, kind,
                                split=f"question={question.key}|event={kind}",
                                title=_title(subject.brand, question, kind, found, own_after), extra=details)


def _own(question: Question, check: Check) -> tuple[int | None, str | None]:
    """The own self-service page's best position and URL in a check (classified with today's project)."""
    for result in classify_page(question, check.page).organic:
        if result.category == "own_self_service":
            return result.position, result.url
    return None, None

"""`listener seo check`: search every question once per interval with the configured provider, classify the
results and record them in the rank history. One failing question is reported and the others go on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import requests

from listener.model import utcnow
from listener.seo.classify import classify_page
from listener.seo.fetch import build_provider, search
from listener.seo.history import RankHistory, start_of_day
from listener.seo.model import QuotaError, SerpError
from listener.seo.questions import Question
from listener.seo.settings import SeoSettings

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    provider: str
    checked: list[str] = field(default_factory=list)  # question keys searched now
    cached: list[str] = field(default_factory=list)  # searched within the interval: the stored check stands
    failed: dict[str, str] = field(default_factory=dict)  # question key -> "kind: message"
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


def check_questions(questions: list[Question], history: RankHistory, settings: SeoSettings, *,
                    force: bool = False, now: datetime | None = None,
                    session: requests.Session | None = None) -> CheckReport:
    """Search each question (unless checked within settings.min_interval, or force), store the classified
    results. A missing key fails at once for all; quota, block and timeout errors fail one question each."""
    now = now or utcnow()
    provider = build_provider(settings)
    report = CheckReport(provider=provider.name)
    session = session or requests.Session()

    def count_request() -> None:
        if settings.daily_quota is not None:
            used = history.requests_since(provider.name, start_of_day(now))
            if used >= settings.daily_quota:
                raise QuotaError(f"{provider.name}: the daily quota of {settings.daily_quota} requests is used "
                                 "(LISTENER_SERP_DAILY_QUOTA); the next check runs tomorrow")
        history.count_request(provider.name, now)
        report.requests += 1

    for question in questions:
        if not force and history.latest(question.key, newer_than=now - settings.min_interval) is not None:
            report.cached.append(question.key)
            continue
        try:
            page = search(provider, question.text, question.lang, question.country, question.depth,
                          timeout=settings.timeout, session=session, on_request=count_request)
        except SerpError as err:
            report.failed[question.key] = f"{err.kind}: {err}"
            log.warning("%s: %s", question.key, err)
            continue
        page.fetched_at = now
        history.record(question.key, question.brand, classify_page(question, page))
        report.checked.append(question.key)
    return report

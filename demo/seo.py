"""The demo's SEO part: a local search provider answers the example project's questions, and the demo prints
the outrank report.

The answers are built from what the demo gathered: for each question, the Reddit and forum threads in the
store that a search engine would plausibly rank for it (the store's own relevance ranking of the question's
words) go above the brand's help-center page, a competitor's page and a neutral page below. So the report
shows real stored sentiment and topics for the third-party pages, from the same local-only run.
"""

from __future__ import annotations

from typing import Any, Callable

from demo.servers.serp import SerpServer, serp_item
from listener.config import Settings
from listener.seo.check import check_questions
from listener.seo.history import RankHistory
from listener.seo.questions import Question, questions_of
from listener.seo.report import QuestionReport, outrank_report
from listener.seo.settings import SeoSettings
from listener.store.base import Filters, Store

#: what each question is about, in the query language, to pick the threads that would rank for it
TOPIC_QUERIES = {
    "nimbus reset password": 'password OR login OR "verification code" OR locked OR otp',
    "nimbus transfer pending": "transfer OR pending OR stuck OR sent",
    "بازیابی رمز نیمبوس": "رمز OR ورود OR کد OR تایید",
}
THREADS_ABOVE = 4


def ranking_threads(store: Store, question: Question, limit: int = THREADS_ABOVE) -> list[tuple[str, str]]:
    """(url, title) of the stored Reddit and forum threads that match the question best, most relevant first."""
    query = TOPIC_QUERIES.get(question.text, question.text)
    page = store.search(Filters(query=query, brands=(question.brand,), sources=("reddit", "forum"),
                                langs=(question.lang,)), sort="relevance", limit=100)
    threads: dict[str, str] = {}
    for hit in page.hits:
        mention = hit.mention
        if mention.title and mention.url:  # a thread's opening post (a Reddit submission, a forum topic)
            threads.setdefault(mention.url.split("#", 1)[0], mention.title)
        if len(threads) >= limit:
            break
    return list(threads.items())


def serp_answers(store: Store, questions: list[Question]) -> dict[str, list[dict[str, str]]]:
    answers = {}
    for question in questions:
        above = [serp_item(url, title, "") for url, title in ranking_threads(store, question)]
        answers[question.text] = above[:2] + [
            serp_item("https://orbitpay.example/help/account", "Orbit help: account access")] + above[2:] + [
            serp_item(question.own_page or "https://help.nimbus.example", "Nimbus Help Center"),
            serp_item("https://en.wikipedia.org/wiki/Password", "Password - Wikipedia")]
    return answers


def run_seo(settings: Settings, store: Store, project, say: Callable[..., Any]) -> list[QuestionReport]:
    """Serve the answers on 127.0.0.1 in SearXNG's shape, check every question through the real provider code
    into the rank history, and return (and print) the outrank report."""
    questions = questions_of(project)
    with SerpServer(serp_answers(store, questions)) as server:
        seo = SeoSettings.from_env({"LISTENER_SERP_PROVIDER": "searxng", "LISTENER_SERP_URL": server.base_url})
        with RankHistory.open(settings) as history:
            report = check_questions(questions, history, seo, force=True)
            rows = outrank_report(questions, history, store)
    if report.failed:
        say(f"[red]SEO check failed[/red]: {report.failed}")
    return rows

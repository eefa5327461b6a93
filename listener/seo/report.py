"""The outrank report: per question, the brand's best self-service position and every third-party page above
it, with what the store knows those pages say (sentiment, topics), and a visibility-weighted negative exposure.

Negative exposure of a question = the sum, over the third-party pages ranking above the own page, of the
click share of the page's position (listener.seo.ctr) times how negative the page is (the mean over its stored
mentions of the negative probability: the model's score when it labelled a mention negative, else 0). It
reads as "the share of searchers expected to click a negative third-party answer before reaching ours".
Pages with no scored mention in the store add their click share to `unscored_weight` instead: fetch them
(`listener seo fetch`) to know.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from listener.model import Mention
from listener.seo.classify import classify_page
from listener.seo.ctr import PAGE_ONE, ctr
from listener.seo.history import RankHistory
from listener.seo.questions import Question
from listener.store.base import Filters, Store


@dataclass
class OutrankingPage:
    position: int
    url: str
    domain: str | None
    kind: str | None
    title: str
    click_share: float  # the CTR weight of its position
    mentions: int = 0  # stored mentions of this page (a thread's posts count one each)
    # "page": mentions gathered from this page; "site": a review site's company page, read as the brand's
    # latest reviews on that site (review sites give each review a URL of its own); None: nothing stored
    matched_by: str | None = None
    scored: int = 0
    negativity: float | None = None  # mean negative probability of its scored mentions; None = not known
    sentiment: str | None = None  # the most common label among its mentions
    topics: list[str] = field(default_factory=list)  # its most common topics


@dataclass
class QuestionReport:
    question: str
    brand: str
    lang: str
    country: str
    status: str  # "ok" or "not checked"
    engine: str | None = None
    checked_at: datetime | None = None
    own_position: int | None = None  # best organic position of a self-service page; None = not in the results
    own_url: str | None = None
    own_on_page_one: bool = False
    depth: int = 0  # how many organic results the check read
    features: list[str] = field(default_factory=list)
    outranking: list[OutrankingPage] = field(default_factory=list)
    negative_exposure: float = 0.0
    unscored_weight: float = 0.0


def page_key(url: str) -> str:
    """A URL compared loosely: host without www., path without trailing slash, query kept, no fragment."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def mentions_of_pages(store: Store, urls: list[str]) -> dict[str, list[Mention]]:
    """The stored mentions of each page: mentions whose URL (or native id) is the page or a post on it."""
    found: dict[str, list[Mention]] = {url: [] for url in urls}
    by_host: dict[str, list[str]] = {}
    for url in urls:
        host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        if host:
            by_host.setdefault(host, []).append(url)
    for host, host_urls in by_host.items():
        keys = {url: page_key(url) for url in host_urls}
        for mention in store.iter_mentions(Filters(query=f'site:"{host}"', include_duplicates=True)):
            # The mention's own URL (a post's permalink sits under its thread's), else a URL-shaped native id.
            address = mention.url or (mention.native_id if "://" in (mention.native_id or "") else None)
            if not address:
                continue
            key = page_key(address.split("#", 1)[0])
            for url, wanted in keys.items():
                if key == wanted or key.startswith(wanted + "/"):
                    found[url].append(mention)
    # A thread's first post may carry its canonical URL rather than the one that ranks; its replies name it.
    for url, mentions in found.items():
        have = {m.id for m in mentions}
        for thread_id in dict.fromkeys(m.thread_id for m in mentions if m.thread_id and m.thread_id not in have):
            root = store.get(thread_id)
            if root is not None:
                mentions.append(root)
                have.add(thread_id)
    return found


def _describe(page: OutrankingPage, mentions: list[Mention]) -> None:
    page.mentions = len(mentions)
    scored = [m for m in mentions if m.sentiment is not None]
    page.scored = len(scored)
    if scored:
        page.negativity = round(sum(m.sentiment.score if m.sentiment.label == "negative" else 0.0
                                    for m in scored) / len(scored), 4)
        page.sentiment = Counter(m.sentiment.label for m in scored).most_common(1)[0][0]
    page.topics = [topic for topic, _ in Counter(t for m in mentions for t in m.topics).most_common(3)]


def _rank(question: Question, history: RankHistory) -> QuestionReport:
    """The question's latest check: own position and the third-party pages above it (not yet described)."""
    row = QuestionReport(question=question.text, brand=question.brand, lang=question.lang,
                         country=question.country, status="not checked")
    check = history.latest(question.key)
    if check is None:
        return row
    # Classified again with today's project file, so a newly listed own page or competitor counts at once.
    page = classify_page(question, check.page)
    organic = page.organic
    own = [r for r in organic if r.category == "own_self_service"]
    row.status, row.engine, row.checked_at = "ok", page.engine, page.fetched_at
    row.features, row.depth = list(page.features), len(organic)
    if own:
        row.own_position, row.own_url = own[0].position, own[0].url
        row.own_on_page_one = own[0].position <= PAGE_ONE
    limit = row.own_position or (max((r.position for r in organic), default=0) + 1)
    row.outranking = [OutrankingPage(position=r.position, url=r.url, domain=r.domain, kind=r.kind, title=r.title,
                                     click_share=ctr(r.position))
                      for r in organic if r.category == "third_party" and r.position < limit]
    return row


#: how many of a brand's latest reviews on a review site stand for its company page there
SITE_REVIEWS = 50


def brand_reviews_on_site(store: Store, url: str, brand: str, limit: int = SITE_REVIEWS) -> list[Mention]:
    """The brand's latest mentions on the review site of `url`, newest first."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if not host:
        return []
    page = store.search(Filters(query=f'site:"{host}"', brands=(brand,)), sort="date", limit=limit)
    return [hit.mention for hit in page.hits]


def describe_pages(pages: list[OutrankingPage], brand: str, store: Store | None,
                   mentions: dict[str, list[Mention]] | None = None) -> None:
    """Fill in what the store knows each page says (mentions, negativity, sentiment, topics), in place.
    `mentions`: the pages' stored mentions when already read (mentions_of_pages), else they are read here."""
    if mentions is None:
        urls = list(dict.fromkeys(page.url for page in pages))
        mentions = mentions_of_pages(store, urls) if store is not None and urls else {}
    for item in pages:
        found = mentions.get(item.url, [])
        if found:
            item.matched_by = "page"
        elif item.kind == "review" and store is not None:
            found = brand_reviews_on_site(store, item.url, brand)
            item.matched_by = "site" if found else None
        _describe(item, found)


def _weigh(row: QuestionReport, mentions: dict[str, list[Mention]], store: Store | None) -> None:
    describe_pages(row.outranking, row.brand, store, mentions)
    for item in row.outranking:
        if item.negativity is None:
            row.unscored_weight += item.click_share
        else:
            row.negative_exposure += item.click_share * item.negativity
    row.negative_exposure = round(row.negative_exposure, 4)
    row.unscored_weight = round(row.unscored_weight, 4)


def outrank_report(questions: list[Question], history: RankHistory, store: Store | None) -> list[QuestionReport]:
    """The report for every question, the most exposed first. The store is read once per site for all
    questions together (many questions share the same Reddit threads and review pages)."""
    rows = [_rank(q, history) for q in questions]
    urls = list(dict.fromkeys(page.url for row in rows for page in row.outranking))
    mentions = mentions_of_pages(store, urls) if store is not None and urls else {}
    for row in rows:
        _weigh(row, mentions, store)
    return sorted(rows, key=lambda r: (r.status != "ok", -r.negative_exposure, -r.unscored_weight, r.question))


def question_report(question: Question, history: RankHistory, store: Store | None) -> QuestionReport:
    return outrank_report([question], history, store)[0]

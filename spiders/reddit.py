"""Reddit through PRAW: brand searches, watched subreddits (new posts and new comments), and the comment trees
of matched threads, incrementally.

API: https://www.reddit.com/dev/api (OAuth2, a read-only "script" app: https://www.reddit.com/prefs/apps),
through PRAW (https://praw.readthedocs.io), which owns the session, the token and Reddit's rate limit.

Streams and checkpoints (`spiders.sources`): every stream is a newest-first listing read down to where the
last pass stopped, by creation time, with a small overlap and a seen-set of fullnames so nothing is yielded
twice; checkpoints are written only after the pipeline accepted the pass's mentions.

- `reddit:search:<brand>:<hash>`: /r/all/search, sort=new, for each Reddit query made from the brand's query;
- `reddit:new:<subreddit>` and `reddit:comments:<subreddit>`: every subreddit the project lists;
- `reddit:threads`: threads that matched a brand (by the project's matcher, or by the brand's search when no
  matcher is given), followed for `follow_days`: their comment tree is read when first matched
  (`replace_more(limit=more_limit)`), and, outside watched subreddits (whose comment streams cover them),
  again when Reddit's comment count for them grows (one /api/info request per 100 followed threads). Comments in a matched thread carry the thread's brands,
  since replies rarely repeat the brand's name; that includes its comments in watched subreddits' streams.
  A tree whose reading fails half-way (a failed "more comments" fetch) keeps the comments already read and is
  read again next pass, in watched subreddits too.

Limits (Reddit's, not ours): a listing ends after about 1000 items, so a stream that gains more than
~1000 items between two passes loses the oldest of them; the pass logs a warning when a listing ran out
before reaching its checkpoint. Poll busy subreddits often enough (r/all search for a common word: every
few minutes). Search covers submissions only (comments are found through watched subreddits and matched
threads), and Reddit's search index can lag new posts by minutes: searches overlap the previous pass by
`search_overlap` seconds. Threads larger than the first tree page plus `more_limit` /api/morechildren
calls (about 100 comments each) are read only in part.

Rate limits: PRAW sleeps as Reddit's x-ratelimit-* headers ask; each stream logs what is left (INFO, and a
WARNING under 10 %). 429 answers and server errors are retried with capped backoff (Retry-After honoured);
a stream that still fails keeps its old checkpoint and the pass goes on with the others, except that 429s
that outlast the retries end the pass (what it gathered so far is kept and checkpointed).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

import praw
import prawcore
import requests

import listener
from listener.config import Brand, ConfigError, Settings
from listener.model import Mention, stable_hash
from spiders.about import About
from spiders.checkpoint import CheckpointStore
from spiders.sources import (
    Checkpoints, Matcher, PassReport, PollingSource, Retry, Sink, SourceError, Walk,
    retry_after_seconds, take_new,
)

log = logging.getLogger(__name__)

about = About(
    source="reddit",
    site="https://www.reddit.com",
    docs="https://www.reddit.com/dev/api",
    official_api=True,
    key_needed="LISTENER_REDDIT_CLIENT_ID, LISTENER_REDDIT_CLIENT_SECRET (LISTENER_REDDIT_USER_AGENT optional)",
    format="JSON listings through PRAW",
)

SITE = "https://www.reddit.com"  # permalinks are made absolute against the public site, whatever the API base
SEEN_SCOPE = "reddit"
THREADS_KEY = "reddit:threads"
MAX_QUERY_LENGTH = 512  # Reddit rejects longer search queries
_GONE = ("[deleted]", "[removed]")


# ================================================================ parse: PRAW objects or raw dicts -> Mentions


def thing_data(thing: Any) -> tuple[str, dict]:
    """(kind, data) of a raw `{"kind", "data"}` thing, a bare data dict, or a PRAW Submission/Comment.

    PRAW objects are read through `vars()`, never attribute access, so a missing field cannot trigger a
    hidden network fetch; their Redditor/Subreddit objects become plain names."""
    if isinstance(thing, dict):
        if "kind" in thing and isinstance(thing.get("data"), dict):
            return thing["kind"], thing["data"]
        return ("t3" if "title" in thing else "t1"), thing
    raw = vars(thing)
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith("_") or key in ("comment_limit", "comment_sort"):
            continue
        if key == "author":
            value = "[deleted]" if value is None else str(value)
        elif key == "subreddit":
            value = str(value)
        data[key] = value
    if "_replies" in raw:
        data["replies"] = raw["_replies"]
    kind = "t3" if "title" in data else "t1"
    return kind, data


def _utc(stamp: Any) -> datetime:
    return datetime.fromtimestamp(float(stamp), tz=timezone.utc)


def _author(data: dict) -> str | None:
    author = data.get("author")
    return None if not author or author in _GONE else str(author)


def _permalink(data: dict) -> str | None:
    link = data.get("permalink")
    if link:
        return link if link.startswith("http") else SITE + link
    return None


def _reply_count(replies: Any) -> int | None:
    if replies is None:
        return None
    if replies == "":
        return 0
    if isinstance(replies, dict):
        return sum(1 for child in replies.get("data", {}).get("children", []) if child.get("kind") == "t1")
    return sum(1 for child in replies if hasattr(child, "body") or (isinstance(child, dict) and "body" in child))


def parse_submission(thing: Any, brands: Iterable[str] = ()) -> Mention:
    """A submission (self post or link post) as a Mention: fullname id, permalink URL, title and selftext."""
    _, data = thing_data(thing)
    selftext = data.get("selftext") or ""
    extra: dict[str, Any] = {"kind": "submission", "subreddit": data.get("subreddit")}
    if selftext in _GONE or data.get("removed_by_category"):
        extra["removed"] = data.get("removed_by_category") or selftext.strip("[]")
        selftext = "" if selftext in _GONE else selftext
    if not data.get("is_self", True) and data.get("url"):
        extra["link_url"] = data["url"]
    if _author(data) is None:
        extra["author_deleted"] = True
    for key in ("link_flair_text", "over_18", "upvote_ratio", "distinguished"):
        if data.get(key) not in (None, False):
            extra[key] = data[key]
    if data.get("edited"):
        extra["edited"] = data["edited"]
    fullname = data.get("name") or f"t3_{data['id']}"
    return Mention(
        source="reddit", native_id=fullname,
        url=_permalink(data) or f"{SITE}/comments/{data['id']}/",
        author_name=_author(data), title=data.get("title") or None, text=selftext,
        published_at=_utc(data["created_utc"]), thread_id=fullname, parent_id=None,
        score=data.get("score"), replies=data.get("num_comments"), brands=list(dict.fromkeys(brands)),
        extra=extra,
    )


def parse_comment(thing: Any, brands: Iterable[str] = (), thread_title: str | None = None) -> Mention | None:
    """A comment as a Mention (None when deleted or removed: nothing left to read)."""
    _, data = thing_data(thing)
    body = (data.get("body") or "").strip()
    if not body or body in _GONE:
        return None
    link_id = data.get("link_id")
    extra: dict[str, Any] = {"kind": "comment", "subreddit": data.get("subreddit")}
    title = thread_title or data.get("link_title")
    if title:
        extra["thread_title"] = title
    if _author(data) is None:
        extra["author_deleted"] = True
    if data.get("is_submitter"):
        extra["is_submitter"] = True
    if data.get("distinguished"):
        extra["distinguished"] = data["distinguished"]
    if data.get("edited"):
        extra["edited"] = data["edited"]
    url = _permalink(data)
    if url is None and link_id:  # old tree answers carry no permalink; this form redirects to the comment
        url = f"{SITE}/comments/{link_id.removeprefix('t3_')}/_/{data['id']}/"
    return Mention(
        source="reddit", native_id=data.get("name") or f"t1_{data['id']}", url=url,
        author_name=_author(data), text=body, published_at=_utc(data["created_utc"]),
        thread_id=link_id, parent_id=data.get("parent_id"), score=data.get("score"),
        replies=_reply_count(data.get("replies")), brands=list(dict.fromkeys(brands)), extra=extra,
    )


def parse_thing(thing: Any, brands: Iterable[str] = ()) -> Mention | None:
    kind, _ = thing_data(thing)
    if kind == "t3":
        return parse_submission(thing, brands)
    if kind == "t1":
        return parse_comment(thing, brands)
    return None  # "more" placeholders and other kinds


def parse_listing(body: dict, brands: Iterable[str] = ()) -> list[Mention]:
    """Every submission and comment of a raw `Listing` answer (/new, /comments, /search, /api/info)."""
    brands = list(brands)
    mentions = (parse_thing(child, brands) for child in body.get("data", {}).get("children", []))
    return [m for m in mentions if m is not None]


def parse_comment_tree(body: list, brands: Iterable[str] = ()) -> list[Mention]:
    """A raw /comments/ID/ answer ([submission listing, comment listing]): the submission, then every comment
    of the nested tree (depth first); `more` placeholders are left out."""
    brands = list(brands)
    submission = body[0]["data"]["children"][0]
    title = submission["data"].get("title")
    out = [parse_submission(submission, brands)]

    def walk(children: list[dict]) -> Iterator[Mention]:
        for child in children:
            if child.get("kind") != "t1":
                continue
            mention = parse_comment(child, brands, thread_title=title)
            if mention is not None:
                yield mention
            replies = child["data"].get("replies")
            if isinstance(replies, dict):
                yield from walk(replies["data"]["children"])

    out.extend(walk(body[1]["data"]["children"]))
    return out


# ================================================================ brand query -> Reddit search queries


def search_queries(query: str, max_length: int = MAX_QUERY_LENGTH) -> list[str]:
    """Reddit search queries that together find every post the brand query can match.

    Reddit search is the recall step; precision is the project's own matcher, run on every result. So the
    translation keeps what can make the query true and drops what can only narrow it:
    - words and "phrases" stay (normalised as `listener.query` reads them; a word with the Persian letters
      ی or ک is searched in its Arabic spelling too, ي and ك, since Reddit does not fold them), a prefix
      `cloud*` stays a prefix, `title:` stays `title:`; AND, OR and brackets stay;
    - negations (`-"nimbus 2000"`, `NOT x`) and the metadata filters (`lang:`, `source:`, `author:`,
      `site:`) are left out of an AND: the matcher applies them;
    - `a NEAR/3 b` becomes `a AND b`.
    One query when it fits Reddit's 512 characters; otherwise it is split at its OR alternatives (an AND
    over an OR is multiplied out), and the alternatives are packed into as few queries as fit.
    A query with an alternative Reddit cannot narrow (`nimbus OR lang:fa`, `-cloud`) would mean reading
    all of Reddit: that raises ValueError, and the brand is then followed through its subreddits only.
    """
    from listener.query import parse

    pending, parts = [parse(query)], []
    while pending:
        node = pending.pop(0)
        rendered = _render(node)
        if rendered is None:
            raise ValueError("the query has an alternative that only excludes or filters by metadata "
                             f"({query!r}); Reddit search needs words to look for in every alternative")
        pieces = _split(node) if len(rendered[0]) > max_length else None
        if pieces:
            pending[:0] = pieces
        else:
            parts.append(rendered)
    return _pack(parts, max_length)


_ARABIC_SPELLING = str.maketrans({"\u06cc": "\u064a", "\u06a9": "\u0643"})  # ی -> ي, ک -> ك


def _spellings(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The spellings Reddit needs for one normalised word or phrase: Reddit folds none of the letter
    variants `listener.text.normalise` folds, so the normalised form alone misses posts written in the
    Arabic way (ي, ك), with a hamza on an initial alef (أوربت, إيران) or a final teh marbuta (محفظة)."""
    spellings = [tokens]
    arabic = tuple(token.translate(_ARABIC_SPELLING) for token in tokens)
    if arabic != tokens:
        spellings.append(arabic)
    marbuta = tuple(t[:-1] + "\u0629" if t.endswith("\u0647") and len(t) > 2 else t for t in arabic)
    if marbuta != arabic:
        spellings.append(marbuta)
    for hamza in ("\u0623", "\u0625"):  # أ, إ
        for spelling in list(spellings[:2]):
            varied = tuple(hamza + t[1:] if t.startswith("\u0627") else t for t in spelling)
            if varied != spelling and varied not in spellings:
                spellings.append(varied)
    return spellings


def _render(node: Any) -> tuple[str, bool] | None:
    """(Reddit query text, whether it is an OR at the top) for `node`; None = it does not narrow anything."""
    from listener.query import And, Filter, Near, Not, Or, Term

    if isinstance(node, Term):
        spellings = _spellings(node.tokens)
        texts = [("title:" if node.field == "title" else "")
                 + (words[0] if len(words) == 1 else '"' + " ".join(words) + '"') + ("*" if node.prefix else "")
                 for words in spellings]
        return " OR ".join(texts), len(texts) > 1
    if isinstance(node, Near):
        return _render(And((Or.of(*node.left), Or.of(*node.right))))
    if isinstance(node, (Not, Filter)):
        return None
    if isinstance(node, Or):
        texts = []
        for child in node.children:
            rendered = _render(child)
            if rendered is None:
                return None
            texts.append(rendered[0] if rendered[1] or " AND " not in rendered[0] else f"({rendered[0]})")
        return " OR ".join(texts), True
    if isinstance(node, And):
        rendered_children = [r for r in (_render(child) for child in node.children) if r is not None]
        if not rendered_children:
            return None
        if len(rendered_children) == 1:
            return rendered_children[0]
        return " AND ".join(f"({text})" if is_or else text for text, is_or in rendered_children), False
    raise TypeError(f"not a query node: {node!r}")


def _split(node: Any) -> list[Any] | None:
    """Alternatives whose OR is `node` (None when it has none): an OR's children; for an AND, its largest
    OR child multiplied out over the other children."""
    from listener.query import And, Near, Or

    if isinstance(node, Or):
        return list(node.children)
    if isinstance(node, Near):
        return _split(And((Or.of(*node.left), Or.of(*node.right))))
    if isinstance(node, And):
        ors = [child for child in node.children if isinstance(child, Or)]
        if not ors:
            return None
        biggest = max(ors, key=lambda child: len(child.children))
        rest = [child for child in node.children if child is not biggest]
        return [And.of(alternative, *rest) for alternative in biggest.children]
    return None


def _pack(parts: Sequence[tuple[str, bool]], max_length: int) -> list[str]:
    """Join rendered alternatives (text, is an OR) with OR into as few queries as fit in max_length (an
    alternative longer than that on its own is kept whole: Reddit may cut it, but guessing which part to
    drop would be worse)."""
    queries: list[list[str]] = []
    length = 0
    for text, is_or in dict.fromkeys(parts):
        piece = text if is_or or " AND " not in text else f"({text})"
        if queries and length + 4 + len(piece) <= max_length:
            queries[-1].append(piece)
            length += 4 + len(piece)
        else:
            queries.append([piece])
            length = len(piece)
    return [" OR ".join(_unwrap(group)) for group in queries]


def _unwrap(group: list[str]) -> list[str]:
    """A query that is one AND alternative on its own needs no brackets around it."""
    only = group[0]
    if len(group) == 1 and only.startswith("(") and only.endswith(")") and _balanced(only[1:-1]):
        return [only[1:-1]]
    return group


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


# ================================================================ the client: PRAW at the edge


class RateLimitWatch:
    """Reads Reddit's x-ratelimit-* headers off every response (a requests hook), for the logs and reports."""

    def __init__(self) -> None:
        self.requests = 0
        self.remaining: float | None = None
        self.used: int | None = None
        self.reset: int | None = None

    def attach(self, session: requests.Session) -> requests.Session:
        session.hooks["response"].append(self._hook)
        return session

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests += 1
        headers = response.headers
        if "x-ratelimit-remaining" in headers:
            try:
                self.remaining = float(headers["x-ratelimit-remaining"])
                self.used = int(float(headers.get("x-ratelimit-used", 0)))
                self.reset = int(float(headers.get("x-ratelimit-reset", 0)))
            except ValueError:
                pass

    def snapshot(self) -> dict[str, Any]:
        return {"remaining": self.remaining, "used": self.used, "reset_seconds": self.reset}


def reddit_credentials(environ: dict[str, str] | None = None) -> tuple[str, str, str | None]:
    env = os.environ if environ is None else environ
    client_id = env.get("LISTENER_REDDIT_CLIENT_ID", "").strip()
    secret = env.get("LISTENER_REDDIT_CLIENT_SECRET", "").strip()
    missing = [name for name, value in (("LISTENER_REDDIT_CLIENT_ID", client_id),
                                        ("LISTENER_REDDIT_CLIENT_SECRET", secret)) if not value]
    if missing:
        raise ConfigError(f"Reddit needs a read-only 'script' app's credentials: set {' and '.join(missing)} "
                          "(create the app at https://www.reddit.com/prefs/apps)")
    return client_id, secret, env.get("LISTENER_REDDIT_USER_AGENT", "").strip() or None


def connect(settings: Settings, environ: dict[str, str] | None = None,
            watch: RateLimitWatch | None = None) -> praw.Reddit:
    """A read-only PRAW client from the environment; LISTENER_REDDIT_URL points every Reddit URL at one base."""
    client_id, secret, user_agent = reddit_credentials(environ)
    user_agent = user_agent or f"python:listener:{listener.__version__} (+{settings.user_agent_contact})"
    session = requests.Session()
    if watch is not None:
        watch.attach(session)
    urls: dict[str, str] = {}
    if settings.reddit_url:
        base = settings.reddit_url.rstrip("/")
        urls = {"oauth_url": base, "reddit_url": base, "short_url": base}
    reddit = praw.Reddit(client_id=client_id, client_secret=secret, user_agent=user_agent,
                         check_for_updates=False, requestor_kwargs={"session": session}, **urls)
    reddit.read_only = True
    return reddit


class _RateLimited(Exception):
    """429s outlasted the retries: the pass stops, keeping what it has."""


def _transient(err: Exception) -> float | None:
    """Retry 429 (honouring Retry-After) and server/connection errors; nothing else."""
    if isinstance(err, prawcore.TooManyRequests):
        return retry_after_seconds(err.retry_after)
    if isinstance(err, (prawcore.ServerError, prawcore.RequestException)):
        return 0.0
    return None


class RedditSource(PollingSource):
    """One incremental pass over Reddit for some brands (see the module docstring)."""

    name = "reddit"
    seen_scope = SEEN_SCOPE
    followed_key = THREADS_KEY
    about = about

    def __init__(self, reddit: praw.Reddit, checkpoints: CheckpointStore, matcher: Matcher | None = None, *,
                 watch: RateLimitWatch | None = None, more_limit: int = 16, follow_days: float = 7.0,
                 listing_cap: int = 1000, search_overlap: float = 3600.0, listing_overlap: float = 300.0,
                 retry: Retry | None = None, clock: Callable[[], float] = time.time):
        self.reddit = reddit
        self.checkpoints = checkpoints
        self.matcher = matcher
        self.watch = watch
        self.more_limit = more_limit
        self.follow_days = follow_days
        self.listing_cap = listing_cap
        self.search_overlap = search_overlap
        self.listing_overlap = listing_overlap
        self.retry = retry or Retry()
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, checkpoints: CheckpointStore, matcher: Matcher | None = None,
                      environ: dict[str, str] | None = None, **options: Any) -> "RedditSource":
        watch = RateLimitWatch()
        return cls(connect(settings, environ, watch), checkpoints, matcher, watch=watch, **options)

    # ------------------------------------------------------------ the pass

    def poll(self, brands: Sequence[Brand], sink: Sink) -> PassReport:
        started = time.monotonic()
        requests_before = self.watch.requests if self.watch else 0
        report = PassReport(self.name)
        cp = Checkpoints(self.checkpoints)
        threads: dict[str, dict] = dict(cp.get(THREADS_KEY, {}))
        found: list[Mention] = []
        new_threads: dict[str, list[str]] = {}  # fullname -> brands, matched in this pass
        watched = {s.lower(): s for brand in brands for s in [*brand.sources.subreddits, *brand.sources.own_subreddits]}
        own: dict[str, list[str]] = {}  # an own subreddit -> the brands whose everything posted there is
        for brand in brands:
            for sub in brand.sources.own_subreddits:
                own.setdefault(sub.lower(), []).append(brand.name)

        def note_thread(mention: Mention, brands_: list[str]) -> None:
            if not brands_:
                return
            mention.brands = list(dict.fromkeys([*mention.brands, *brands_]))
            entry = threads.setdefault(mention.native_id, {"brands": [], "created": mention.published_at.timestamp(),
                                                           "subreddit": mention.extra.get("subreddit"),
                                                           "comments": 0})
            entry["brands"] = list(dict.fromkeys([*entry["brands"], *mention.brands]))
            if mention.replies:
                new_threads[mention.native_id] = entry["brands"]

        try:
            # 1. each brand's search of all of Reddit
            for brand in brands:
                if not brand.sources.reddit_search:
                    continue
                for query in self._queries(brand, report):
                    key = f"reddit:search:{brand.name}:{stable_hash(query, size=6)}"
                    for thing in self._read(key, cp, report, self.search_overlap,
                                            lambda q=query: self.reddit.subreddit("all").search(
                                                q, sort="new", time_filter="all", limit=None)):
                        mention = parse_submission(thing)
                        found.append(mention)
                        note_thread(mention, self._brands_of(mention, brand.name))
            # 2. new submissions in watched subreddits
            for lower, sub in sorted(watched.items()):
                for thing in self._read(f"reddit:new:{lower}", cp, report, self.listing_overlap,
                                        lambda s=sub: self.reddit.subreddit(s).new(limit=None)):
                    mention = parse_submission(thing)
                    found.append(mention)
                    note_thread(mention, [*self._brands_of(mention, None), *own.get(lower, ())])
            # 3. new comments in watched subreddits (tagged with their thread's brands)
            for lower, sub in sorted(watched.items()):
                for thing in self._read(f"reddit:comments:{lower}", cp, report, self.listing_overlap,
                                        lambda s=sub: self.reddit.subreddit(s).comments(limit=None)):
                    _, data = thing_data(thing)
                    thread = threads.get(data.get("link_id", ""))
                    brands_ = dict.fromkeys([*(thread["brands"] if thread else ()), *own.get(lower, ())])
                    mention = parse_comment(thing, list(brands_))
                    if mention is None:
                        report.skipped += 1
                    else:
                        found.append(mention)
            # 4. comment trees: new matched threads, and followed threads whose comment count grew
            to_read = dict(new_threads)
            to_read.update(self._grown_threads(threads, set(new_threads), watched, report))
            for fullname, brands_ in to_read.items():
                found.extend(self._tree(fullname, brands_, threads[fullname], cp, report))
        except _RateLimited as err:
            report.stopped = f"rate limited: {err}"
            log.error("reddit: stopping this pass early, Reddit keeps answering 429: %s", err)

        # 5. hand over, then remember
        horizon = self.clock() - self.follow_days * 86400
        threads = {name: entry for name, entry in threads.items() if entry["created"] >= horizon}
        return self.finish_pass(sink, cp, report, found, threads, started=started,
                                requests=(self.watch.requests - requests_before) if self.watch else 0,
                                rate_limit=self._limits())

    # ------------------------------------------------------------ pieces

    def _queries(self, brand: Brand, report: PassReport) -> list[str]:
        try:
            return search_queries(brand.query)
        except Exception as err:  # a query the translation cannot handle must not stop the other streams
            report.errors.append(f"reddit search for {brand.name}: cannot translate the query: {err}")
            log.error("reddit: cannot make a Reddit search of %s's query %r: %s", brand.name, brand.query, err)
            return []

    def _brands_of(self, mention: Mention, searched_for: str | None) -> list[str]:
        """Which brands a thread is about: the project's matcher decides; without one, the brand whose
        search found it."""
        if self.matcher is not None:
            return list(self.matcher(mention))
        return [searched_for] if searched_for else []

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        """Every PRAW call goes through here: transient errors retried, persistent 429 and bad credentials
        turned into the errors that end a pass (other PRAW errors end only the stream at hand)."""
        try:
            return self.retry.call(fn, _transient, what)
        except prawcore.TooManyRequests as err:
            raise _RateLimited(str(err)) from err
        except prawcore.OAuthException as err:
            raise SourceError(f"Reddit refused the credentials ({err}); check LISTENER_REDDIT_CLIENT_ID and "
                              "LISTENER_REDDIT_CLIENT_SECRET") from err
        except prawcore.ResponseException as err:
            if err.response.status_code == 401:
                raise SourceError("Reddit refused the credentials (401 Unauthorized); check "
                                  "LISTENER_REDDIT_CLIENT_ID and LISTENER_REDDIT_CLIENT_SECRET") from err
            raise

    def _iterate(self, listing: Iterator[Any], what: str) -> Iterator[Any]:
        end = object()
        while True:
            item = self._call(lambda: next(listing, end), what)
            if item is end:
                return
            yield item

    def _read(self, key: str, cp: Checkpoints, report: PassReport, overlap: float,
              listing: Callable[[], Iterator[Any]]) -> list[Any]:
        """The new things of one newest-first listing; advances the stream's (pending) checkpoint.
        A stream that fails is logged, keeps its checkpoint, and yields nothing this pass."""
        stream = report.stream(key)
        state = cp.get(key) or {}
        since = state.get("newest")
        walk = Walk()
        things: list[Any] = []
        try:
            for thing in take_new(self._iterate(listing(), key), since=since, overlap=overlap,
                                  when=lambda t: float(thing_data(t)[1]["created_utc"]), limit=self.listing_cap,
                                  walk=walk):
                things.append(thing)
        except (prawcore.PrawcoreException, praw.exceptions.PRAWException) as err:
            stream.error = f"{type(err).__name__}: {err}"
            report.errors.append(f"{key}: {stream.error}")
            log.error("reddit %s: failed, keeping the old checkpoint: %s", key, stream.error)
            return []
        if since is not None and not walk.reached_checkpoint and walk.read >= self.listing_cap * 0.9:
            log.warning("reddit %s: the listing ended after %d items before reaching the last checkpoint "
                        "(%s): items in between may be missed (Reddit listings stop at ~1000); poll more often",
                        key, walk.read, _utc(since).isoformat())
        names = [thing_data(t)[1].get("name") or f"{thing_data(t)[0]}_{thing_data(t)[1]['id']}" for t in things]
        fresh = set(cp.unseen(SEEN_SCOPE, names))
        things = [t for t, name in zip(things, names) if name in fresh]
        if walk.newest is not None and (since is None or walk.newest > since):
            cp.set(key, {**state, "newest": walk.newest})
        stream.read, stream.new = walk.read, len(things)
        self._log_stream(key, stream.new, walk.read)
        return things

    def _grown_threads(self, threads: dict[str, dict], skip: set[str], watched: dict[str, str],
                       report: PassReport) -> dict[str, list[str]]:
        """Followed threads (outside watched subreddits, whose comment streams cover them) whose comment
        count grew since their tree was read: one /api/info request per 100."""
        horizon = self.clock() - self.follow_days * 86400
        current = [name for name, entry in threads.items() if name not in skip and entry["created"] >= horizon]
        # a tree that failed last time is read again wherever it is: a watched subreddit's comment stream
        # only brings comments newer than its checkpoint, not the ones behind the failed "more" link
        grown: dict[str, list[str]] = {name: threads[name]["brands"] for name in current
                                       if threads[name].get("retry")}
        followed = [name for name in current if name not in grown
                    and (threads[name].get("subreddit") or "").lower() not in watched]
        if not followed:
            return grown
        try:
            for thing in self._iterate(iter(self.reddit.info(fullnames=followed)), "reddit info"):
                _, data = thing_data(thing)
                entry = threads.get(data.get("name", ""))
                if entry is not None and (data.get("num_comments") or 0) > entry.get("comments", 0):
                    grown[data["name"]] = entry["brands"]
        except (prawcore.PrawcoreException, praw.exceptions.PRAWException) as err:
            report.errors.append(f"reddit:follow: {type(err).__name__}: {err}")
            log.error("reddit: could not check followed threads: %s", err)
        self._log_stream("follow", len(grown), len(followed))
        return grown

    def _tree(self, fullname: str, brands: list[str], entry: dict, cp: Checkpoints,
              report: PassReport) -> list[Mention]:
        """The unseen comments of a thread's tree, tagged with the thread's brands."""
        stream = report.stream(f"reddit:tree:{fullname}")
        submission = self.reddit.submission(id=fullname.removeprefix("t3_"))
        submission.comment_sort = "new"
        try:
            forest = self._call(lambda: submission.comments, f"reddit tree {fullname}")
        except (prawcore.PrawcoreException, praw.exceptions.PRAWException) as err:
            self._tree_failed(fullname, entry, stream, report, err)
            return []
        left = []
        try:
            left = self._call(lambda: forest.replace_more(limit=self.more_limit), f"reddit more {fullname}")
        except (prawcore.PrawcoreException, praw.exceptions.PRAWException) as err:
            # One failed "more comments" fetch (PRAW's DuplicateReplaceException, a known PRAW issue with
            # some threads) must not cost the comments already read: keep them, read the thread again later.
            self._tree_failed(fullname, entry, stream, report, err)
        else:
            entry.pop("retry", None)
        comments = [c for c in forest.list() if hasattr(c, "body")]
        if left:
            log.info("reddit tree %s: %d comments behind 'more' links left unread (more_limit=%d)", fullname,
                     sum(m.count for m in left), self.more_limit)
        _, data = thing_data(submission)
        title = data.get("title")
        names = [thing_data(c)[1]["name"] for c in comments]
        fresh = set(cp.unseen(SEEN_SCOPE, names))
        out = []
        for comment in comments:
            if thing_data(comment)[1]["name"] not in fresh:
                continue
            mention = parse_comment(comment, brands, thread_title=title)
            if mention is None:
                report.skipped += 1
            else:
                out.append(mention)
        entry["comments"] = max(int(data.get("num_comments") or 0), entry.get("comments", 0))
        stream.read, stream.new = len(comments), len(out)
        self._log_stream(f"tree {fullname}", len(out), len(comments))
        return out

    def _tree_failed(self, fullname: str, entry: dict, stream, report: PassReport, err: Exception) -> None:
        """Note a tree that was read in part or not at all; the next pass reads it again (see _grown_threads)."""
        stream.error = f"{type(err).__name__}: {err}"
        report.errors.append(f"reddit:tree:{fullname}: {stream.error}")
        log.error("reddit tree %s: failed, keeping what was read and trying again next pass: %s", fullname,
                  stream.error)
        entry["retry"] = True

    def _limits(self) -> dict[str, Any]:
        limits: dict[str, Any] = {}
        try:
            limits.update({k: v for k, v in self.reddit.auth.limits.items() if v is not None})
        except Exception:  # before the first request PRAW has no core yet
            pass
        if self.watch is not None and self.watch.reset is not None:
            limits["reset_seconds"] = self.watch.reset
        return limits

    def _log_stream(self, what: str, new: int, read: int) -> None:
        limits = self._limits()
        remaining, used = limits.get("remaining"), limits.get("used")
        log.info("reddit %s: %d new of %d read; rate limit: %s remaining, %s used, resets in %ss", what, new, read,
                 remaining, used, limits.get("reset_seconds", "?"))
        if remaining is not None and used is not None and remaining < 0.1 * (remaining + used):
            log.warning("reddit: rate limit nearly used up (%s of %s left, resets in %ss); PRAW will wait",
                        remaining, remaining + used, limits.get("reset_seconds", "?"))


# ================================================================ one pass into the pipeline (the CLI's entry)


def run_reddit(settings: Settings, project_path: str | None = None, brand: str | None = None,
               score: bool = True, environ: dict[str, str] | None = None, **options: Any) -> PassReport:
    """`listener reddit`: one incremental pass over the project's brands, into the store."""
    from spiders.sources import run_source

    return run_source(RedditSource, settings, project_path, brand, score, environ, **options)

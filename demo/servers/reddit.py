"""A local Reddit API server: answers PRAW from submissions and comments you give it, in Reddit's real shapes.

The shapes follow Reddit's recorded traffic (PRAW's test cassettes): `Listing` objects of `t3` (submission)
and `t1` (comment) things, at most 100 children a page with an `after` fullname to page on; comment trees
as `[submission listing, comment listing]` with `more` placeholders; `/api/morechildren` answering
`{"json": {"errors": [], "data": {"things": [...]}}}`; `x-ratelimit-*` headers on every answer.

    server = RedditServer([make_submission("abc", "nimbuswallet", "Nimbus is down?"),
                           make_comment("c1", "abc", "same here")])
    base_url = server.start()      # point praw's oauth_url, reddit_url and short_url at it
    ...
    server.stop()

Endpoints: POST /api/v1/access_token; GET /r/SUB/new, /r/SUB/comments, /r/SUB/search (q, sort, t,
restrict_sr, after/before/limit), /r/all/..., /r/A+B/... (several subreddits), /comments/ID/ (limit, depth,
sort; /comments/ID/_/COMMENT for "continue this thread"), /api/info (id=fullnames), POST /api/morechildren.
Requests are matched by method and path, with the query string read order-independently. It is a test
double, not Reddit: search is a small Lucene-like matcher over title and selftext.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from demo.servers.base import LocalApiServer, Request, Response

MAX_PAGE = 100  # children per listing page, as on Reddit
LISTING_CAP = 1000  # Reddit's listings end after about 1000 items
TREE_LIMIT = 500  # comments in one /comments/ID/ answer at most (Reddit: 500)
MORECHILDREN_LIMIT = 100  # comments in one /api/morechildren answer at most
TREE_DEPTH = 10  # deeper replies become "continue this thread"
SITE = "https://www.reddit.com"


# ---------------------------------------------------------------- builders: things in Reddit's shape


def make_submission(id: str, subreddit: str, title: str, selftext: str = "", *, author: str | None = "someone",
                    created_utc: float | None = None, url: str | None = None, score: int = 1,
                    **extra: Any) -> dict:
    """A `t3` thing as Reddit's listings show it. `url` set = a link post; author None = deleted account."""
    created = float(created_utc if created_utc is not None else time.time())
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"
    permalink = f"/r/{subreddit}/comments/{id}/{slug}/"
    is_self = url is None
    data = {
        "id": id, "name": f"t3_{id}", "subreddit": subreddit, "subreddit_name_prefixed": f"r/{subreddit}",
        "subreddit_id": "t5_" + _b36(zlib.crc32(subreddit.lower().encode())), "subreddit_type": "public",
        "title": title, "selftext": selftext, "selftext_html": None, "author": author or "[deleted]",
        "author_fullname": None if author is None else "t2_" + _b36(zlib.crc32(author.encode())),
        "created": created, "created_utc": created, "edited": False, "score": score, "ups": score, "downs": 0,
        "upvote_ratio": 1.0, "num_comments": 0, "permalink": permalink,
        "url": f"{SITE}{permalink}" if is_self else url, "is_self": is_self,
        "domain": f"self.{subreddit}" if is_self else _domain(url), "over_18": False, "spoiler": False,
        "locked": False, "stickied": False, "archived": False, "distinguished": None, "link_flair_text": None,
        "removed_by_category": None, "thumbnail": "self" if is_self else "default", "gilded": 0, "likes": None,
        "saved": False, "hidden": False, "media": None, "media_embed": {}, "user_reports": [], "mod_reports": [],
        "num_reports": None, "banned_by": None, "approved_by": None, "removal_reason": None, "quarantine": False,
    }
    data.update(extra)
    return {"kind": "t3", "data": data}


def make_comment(id: str, submission_id: str, body: str, *, parent_id: str | None = None,
                 author: str | None = "someone", created_utc: float | None = None, score: int = 1,
                 **extra: Any) -> dict:
    """A `t1` thing. `parent_id` is a fullname (t1_… or t3_…); the default is the submission (a top-level comment)."""
    created = float(created_utc if created_utc is not None else time.time())
    data = {
        "id": id, "name": f"t1_{id}", "link_id": f"t3_{submission_id}", "parent_id": parent_id or f"t3_{submission_id}",
        "body": body, "body_html": None, "author": author or "[deleted]",
        "author_fullname": None if author is None else "t2_" + _b36(zlib.crc32(author.encode())),
        "created": created, "created_utc": created, "edited": False, "score": score, "ups": score, "downs": 0,
        "score_hidden": False, "controversiality": 0, "distinguished": None, "stickied": False, "is_submitter": False,
        "collapsed": False, "collapsed_reason": None, "gilded": 0, "likes": None, "saved": False, "archived": False,
        "locked": False, "no_follow": True, "user_reports": [], "mod_reports": [], "num_reports": None,
        "banned_by": None, "approved_by": None, "removal_reason": None, "replies": "",
    }
    data.update(extra)
    return {"kind": "t1", "data": data}


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _domain(url: str) -> str:
    host = re.sub(r"^[a-z]+://", "", url).split("/", 1)[0]
    return host.removeprefix("www.")


# ---------------------------------------------------------------- search: a small Lucene-like matcher

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')


def compile_search(query: str) -> Callable[[dict], bool]:
    """Reddit's default search syntax, enough for tests: words, "phrases", AND/OR/NOT, parentheses, implicit
    AND, word* prefixes, and title:/selftext:/author:/subreddit: fields. Case-insensitive whole words."""
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(query):
        if match.group(1):
            tokens.append(("(", "("))
        elif match.group(2):
            tokens.append((")", ")"))
        elif match.group(3) is not None:
            tokens.append(("phrase", match.group(3)))
        elif match.group(4) in ("AND", "OR", "NOT"):
            tokens.append((match.group(4), match.group(4)))
        elif match.group(4):
            tokens.append(("word", match.group(4)))
    position = 0

    def peek():
        return tokens[position][0] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def parse_or():
        left = parse_and()
        while peek() == "OR":
            take()
            right = parse_and()
            left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def parse_and():
        left = parse_not()
        while peek() not in (None, "OR", ")"):
            if peek() == "AND":
                take()
            right = parse_not()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
        return left

    def parse_not():
        if peek() == "NOT":
            take()
            inner = parse_not()
            return lambda doc: not inner(doc)
        return parse_atom()

    def parse_atom():
        if peek() == "(":
            take()
            inner = parse_or()
            if peek() == ")":
                take()
            return inner
        if peek() is None:
            return lambda doc: True
        kind, value = take()
        if kind == ")":  # stray bracket: ignore it, as Reddit does
            return lambda doc: True
        field = None
        if kind == "word" and ":" in value and value.split(":", 1)[0] in ("title", "selftext", "author",
                                                                            "subreddit"):
            field, value = value.split(":", 1)
        return _term(value, field)

    return parse_or() if tokens else (lambda doc: False)


def _term(value: str, field: str | None) -> Callable[[dict], bool]:
    words = re.findall(r"\w+", value.lower())
    if not words:
        return lambda doc: False
    prefix = value.endswith("*")
    body = r"\W+".join(re.escape(w) for w in words)
    pattern = re.compile(r"(?<!\w)" + body + (r"" if prefix else r"(?!\w)"), re.IGNORECASE)

    def match(doc: dict) -> bool:
        if field in ("author", "subreddit"):
            return str(doc.get(field, "")).lower() == value.lower()
        fields = (field,) if field else ("title", "selftext")
        return any(pattern.search(doc.get(name) or "") for name in fields)

    return match


_TIME_FILTERS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 31 * 86400, "year": 366 * 86400}


# ---------------------------------------------------------------- the server


@dataclass
class _Thing:
    kind: str  # t1 or t3
    data: dict


class RedditServer(LocalApiServer):
    """A Reddit-compatible API on 127.0.0.1 serving the things it was given (and any added later).

    `tree_limit` caps the comments one /comments/ID/ answer holds (the rest become `more` objects, fetched
    through /api/morechildren); `listing_cap` is where listings end (Reddit: about 1000 items);
    `rate_limit` requests per `rate_window` seconds are announced in x-ratelimit-* headers (generous by
    default so tests and the demo never wait; Reddit's own budget is about 1000 per 600 s), and answered
    with 429 once used up. `credentials` = (client_id, secret) makes the token endpoint check them.
    """

    name = "reddit"

    def __init__(self, things: Iterable[dict] = (), *, tree_limit: int = TREE_LIMIT, listing_cap: int = LISTING_CAP,
                 rate_limit: int = 1_000_000, rate_window: int = 60,
                 credentials: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.tree_limit = tree_limit
        self.listing_cap = listing_cap
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.credentials = credentials
        self._things: dict[str, _Thing] = {}
        self._children: dict[str, list[str]] = {}  # parent fullname -> child comment fullnames
        self._tokens: set[str] = set()
        self._window_start = 0.0
        self._used = 0
        self.add(*things)

    # ------------------------------------------------------------ data

    def add(self, *things: dict) -> None:
        """Add submissions and comments: `{"kind": "t3"|"t1", "data": {...}}` or bare data dicts (a dict with
        `title` is a submission, one with `body` a comment); missing fields get Reddit's defaults."""
        with self.lock:
            for thing in things:
                kind, data = _unwrap(thing)
                if kind == "t3":
                    full = make_submission(data["id"], data["subreddit"], data.get("title", ""),
                                           data.get("selftext", ""))["data"]
                else:
                    link = data["link_id"].removeprefix("t3_")
                    full = make_comment(data["id"], link, data.get("body", ""))["data"]
                full.update(data)
                name = f"{kind}_{full['id']}"
                full["name"] = name
                if name in self._things and kind == "t1":
                    self._children[self._things[name].data["parent_id"]].remove(name)
                self._things[name] = _Thing(kind, full)
                if kind == "t1":
                    self._children.setdefault(full["parent_id"], []).append(name)

    def delete(self, fullname: str, removed: bool = False) -> None:
        """Make a thing look deleted by its author ("[deleted]") or removed by a moderator ("[removed]")."""
        with self.lock:
            data = self._things[fullname].data
            marker = "[removed]" if removed else "[deleted]"
            if fullname.startswith("t3_"):
                data["selftext"] = marker
            else:
                data["body"] = marker
            if not removed:
                data["author"], data["author_fullname"] = "[deleted]", None

    @property
    def things(self) -> dict[str, dict]:
        with self.lock:
            return {name: thing.data for name, thing in self._things.items()}

    # ------------------------------------------------------------ dispatch

    def prepare(self, request: Request) -> tuple[dict[str, str], Response | None]:
        """Count the request against the rate-limit window; announce the budget; 429 once it is used up."""
        if request.path.startswith("/api/v1/access_token"):
            return {}, None
        now = time.time()
        with self.lock:
            start = now - (now % self.rate_window)
            if start != self._window_start:
                self._window_start, self._used = start, 0
            self._used += 1
            used = self._used
        headers = {
            "x-ratelimit-remaining": f"{max(self.rate_limit - used, 0):.1f}",
            "x-ratelimit-used": str(min(used, self.rate_limit)),
            "x-ratelimit-reset": str(max(math.ceil(start + self.rate_window - now), 1)),
        }
        if used > self.rate_limit:
            return headers, Response(429, {"message": "Too Many Requests", "error": 429})
        return headers, None

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/api/v1/access_token" and request.method == "POST":
            return self._access_token(request)
        if not self._authorized(request):
            return Response(401, {"message": "Unauthorized", "error": 401})
        if request.method == "POST" and path == "/api/morechildren":
            return self._morechildren(request)
        if request.method != "GET":
            return Response(405, {"message": "Method Not Allowed", "error": 405})
        if path == "/api/info":
            return self._info(request)
        # Reddit's ids are base36; any id of letters, digits, "_", "." and "-" is served (the demo's are not).
        match = re.fullmatch(r"/comments/([\w.-]+)(?:/([^/]+)(?:/([\w.-]+))?)?", path)
        if match:
            return self._tree(request, match.group(1), match.group(3))
        match = re.fullmatch(r"/r/([A-Za-z0-9_+]+)(?:/(new|comments|search|hot|top|rising|controversial))?", path)
        if match:
            return self._subreddit_listing(request, match.group(1), match.group(2) or "hot")
        return Response(404, {"message": "Not Found", "error": 404})

    def _access_token(self, request: Request) -> Response:
        if request.get("grant_type") not in ("client_credentials", "password",
                                             "https://oauth.reddit.com/grants/installed_client"):
            return Response(400, {"error": "unsupported_grant_type"})
        if self.credentials is not None:
            auth = request.headers.get("authorization", "")
            try:
                given = base64.b64decode(auth.removeprefix("Basic ")).decode()
            except Exception:
                given = ""
            if given != f"{self.credentials[0]}:{self.credentials[1]}":
                return Response(401, {"message": "Unauthorized", "error": 401})
        token = secrets.token_urlsafe(16)
        with self.lock:
            self._tokens.add(token)
        return Response(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    def _authorized(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").removeprefix("bearer ").removeprefix("Bearer ")
        with self.lock:
            return token in self._tokens

    # ------------------------------------------------------------ listings

    def _subreddit_listing(self, request: Request, subreddits: str, kind: str) -> Response:
        names = {s.lower() for s in subreddits.split("+")}
        everywhere = "all" in names
        with self.lock:
            if kind == "comments":
                items = [t for t in self._things.values() if t.kind == "t1"
                         and (everywhere or self._subreddit_of(t).lower() in names)]
            else:
                items = [t for t in self._things.values() if t.kind == "t3"]
                restrict = kind != "search" or request.get("restrict_sr", "").lower() in ("1", "true", "on")
                if not everywhere and restrict:
                    items = [t for t in items if t.data["subreddit"].lower() in names]
                elif not everywhere and kind != "search":
                    items = []
                if kind == "search":
                    matches = compile_search(request.get("q", ""))
                    items = [t for t in items if matches(t.data)]
                    window = _TIME_FILTERS.get(request.get("t", "all"))
                    if window:
                        items = [t for t in items if t.data["created_utc"] >= time.time() - window]
            sort = request.get("sort", "new") if kind == "search" else ("top" if kind in ("top", "hot") else "new")
            if sort == "top":
                items.sort(key=lambda t: (t.data["score"], t.data["created_utc"]), reverse=True)
            else:  # new (and a stand-in for relevance, hot, comments)
                items.sort(key=lambda t: (t.data["created_utc"], t.data["id"]), reverse=True)
            page = self._page(items[:self.listing_cap], request)
            return Response(200, self._listing([self._render(t) for t in page[0]], page[1], page[2]))

    def _page(self, items: list[_Thing], request: Request) -> tuple[list[_Thing], str | None, str | None]:
        try:
            limit = int(request.get("limit") or 25)
        except ValueError:
            limit = 25
        limit = max(1, min(limit, MAX_PAGE))
        names = [f"{t.kind}_{t.data['id']}" for t in items]
        after, before = request.get("after"), request.get("before")
        if after:
            if after not in names:
                return [], None, None
            start = names.index(after) + 1
        elif before:
            if before not in names:
                return [], None, None
            start = max(names.index(before) - limit, 0)
            end = names.index(before)
            chunk = items[start:end]
            return chunk, (names[end - 1] if chunk and end < len(items) else None), (names[start] if chunk and start > 0 else None)
        else:
            start = 0
        chunk = items[start:start + limit]
        end = start + len(chunk)
        return (chunk, names[end - 1] if chunk and end < len(items) else None,
                names[start] if chunk and start > 0 else None)

    @staticmethod
    def _listing(children: list[dict], after: str | None = None, before: str | None = None) -> dict:
        return {"kind": "Listing", "data": {"after": after, "dist": len(children), "modhash": "", "geo_filter": "",
                                            "children": children, "before": before}}

    def _info(self, request: Request) -> Response:
        wanted = [name for name in (request.get("id") or "").split(",") if name][:MAX_PAGE]
        with self.lock:
            found = [self._render(self._things[name]) for name in wanted if name in self._things]
        return Response(200, self._listing(found))

    # ------------------------------------------------------------ rendering

    def _subreddit_of(self, thing: _Thing) -> str:
        if thing.kind == "t3":
            return thing.data["subreddit"]
        submission = self._things.get(thing.data["link_id"])
        return submission.data["subreddit"] if submission else thing.data.get("subreddit", "")

    def _count_descendants(self, name: str) -> int:
        return sum(1 + self._count_descendants(child) for child in self._children.get(name, ()))

    def _render(self, thing: _Thing, replies: Any = "", depth: int | None = None) -> dict:
        data = dict(thing.data)
        if thing.kind == "t3":
            data["num_comments"] = self._count_descendants(data["name"])
            return {"kind": "t3", "data": data}
        submission = self._things.get(data["link_id"])
        if submission is not None:
            sub = submission.data
            data.setdefault("subreddit", sub["subreddit"])
            data.setdefault("subreddit_name_prefixed", f"r/{sub['subreddit']}")
            data.setdefault("subreddit_id", sub["subreddit_id"])
            data.setdefault("link_title", sub["title"])
            data.setdefault("link_author", sub["author"])
            data.setdefault("link_permalink", f"{SITE}{sub['permalink']}")
            data.setdefault("link_url", sub["url"])
            data.setdefault("num_comments", self._count_descendants(sub["name"]))
            data.setdefault("permalink", f"{sub['permalink']}{data['id']}/")
            data["is_submitter"] = data["author"] == sub["author"] and data["author"] != "[deleted]"
        data["replies"] = replies
        if depth is not None:
            data["depth"] = depth
        return {"kind": "t1", "data": data}

    def _sorted_children(self, parent: str, sort: str) -> list[_Thing]:
        children = [self._things[name] for name in self._children.get(parent, ())]
        if sort == "new":
            children.sort(key=lambda t: (t.data["created_utc"], t.data["id"]), reverse=True)
        elif sort == "old":
            children.sort(key=lambda t: (t.data["created_utc"], t.data["id"]))
        else:  # confidence, top, best, controversial, q&a: by score, then age
            children.sort(key=lambda t: (-t.data["score"], t.data["created_utc"], t.data["id"]))
        return children

    def _more(self, parent: str, missing: list[_Thing], depth: int) -> dict:
        ids = [t.data["id"] for t in missing]
        count = sum(1 + self._count_descendants(f"t1_{i}") for i in ids)
        return {"kind": "more", "data": {"count": count, "name": f"t1_{ids[0]}", "id": ids[0],
                                         "parent_id": parent, "depth": depth, "children": ids}}

    @staticmethod
    def _continue_thread(parent: str, depth: int) -> dict:
        return {"kind": "more", "data": {"count": 0, "name": "t1__", "id": "_", "parent_id": parent,
                                         "depth": depth, "children": []}}

    def _forest(self, parent: str, sort: str, budget: list[int], depth: int, max_depth: int,
                roots: list[_Thing] | None = None) -> list[dict]:
        """Nested things under `parent` while the budget lasts; what does not fit becomes `more` objects."""
        out: list[dict] = []
        children = roots if roots is not None else self._sorted_children(parent, sort)
        for index, child in enumerate(children):
            if budget[0] <= 0:
                out.append(self._more(parent, children[index:], depth))
                break
            budget[0] -= 1
            name = f"t1_{child.data['id']}"
            if self._children.get(name) and depth + 1 >= max_depth:
                replies = self._listing([self._continue_thread(name, depth + 1)])
            else:
                nested = self._forest(name, sort, budget, depth + 1, max_depth)
                replies = self._listing(nested) if nested else ""
            out.append(self._render(child, replies, depth))
        return out

    def _tree(self, request: Request, submission_id: str, focus: str | None) -> Response:
        sort = request.get("sort", "confidence")
        try:
            limit = min(int(request.get("limit") or self.tree_limit), self.tree_limit)
            max_depth = min(int(request.get("depth") or TREE_DEPTH), TREE_DEPTH)
        except ValueError:
            return Response(400, {"message": "Bad Request", "error": 400})
        with self.lock:
            submission = self._things.get(f"t3_{submission_id}")
            if submission is None:
                return Response(404, {"message": "Not Found", "error": 404})
            budget = [max(limit, 1)]
            if focus:  # "continue this thread": the focused comment with its replies
                comment = self._things.get(f"t1_{focus}")
                if comment is None or comment.data["link_id"] != f"t3_{submission_id}":
                    return Response(404, {"message": "Not Found", "error": 404})
                comments = self._forest(comment.data["parent_id"], sort, budget, 0, max_depth, roots=[comment])
            else:
                comments = self._forest(f"t3_{submission_id}", sort, budget, 0, max_depth)
            return Response(200, [self._listing([self._render(submission)]), self._listing(comments)])

    def _morechildren(self, request: Request) -> Response:
        link = request.get("link_id") or ""
        sort = request.get("sort", "confidence")
        wanted = [i for i in (request.get("children") or "").split(",") if i]
        with self.lock:
            requested = [self._things[f"t1_{i}"] for i in wanted
                         if f"t1_{i}" in self._things and self._things[f"t1_{i}"].data["link_id"] == link]
            if link not in self._things:
                return Response(200, {"json": {"errors": [["INVALID_LINK", "no such link", "link_id"]],
                                               "data": {"things": []}}})
            flat: list[dict] = []
            budget = [MORECHILDREN_LIMIT]
            by_parent: dict[str, list[_Thing]] = {}
            for thing in requested:
                by_parent.setdefault(thing.data["parent_id"], []).append(thing)
            for parent, roots in by_parent.items():
                nested = self._forest(parent, sort, budget, 0, TREE_DEPTH, roots=roots)
                flat.extend(_flatten(nested))
            return Response(200, {"json": {"errors": [], "data": {"things": flat}}})


def _flatten(things: list[dict]) -> list[dict]:
    """A nested forest as /api/morechildren returns it: parents before children, `replies` emptied."""
    out = []
    for thing in things:
        replies = thing["data"].get("replies") if thing["kind"] == "t1" else None
        if thing["kind"] == "t1":
            thing = {"kind": "t1", "data": {**thing["data"], "replies": ""}}
        out.append(thing)
        if isinstance(replies, dict):
            out.extend(_flatten(replies["data"]["children"]))
    return out


def _unwrap(thing: dict) -> tuple[str, dict]:
    if "kind" in thing and "data" in thing:
        kind, data = thing["kind"], dict(thing["data"])
    else:
        data = dict(thing)
        kind = "t3" if "title" in data else "t1"
    if kind not in ("t1", "t3"):
        raise ValueError(f"only t1 (comment) and t3 (submission) things are served, got {kind!r}")
    if "id" not in data:
        raise ValueError(f"a {kind} thing needs an 'id': {data!r:.200}")
    if kind == "t1" and "link_id" not in data:
        raise ValueError(f"a comment needs 'link_id' (t3_<submission id>): {data!r:.200}")
    if kind == "t3" and "subreddit" not in data:
        raise ValueError(f"a submission needs 'subreddit': {data!r:.200}")
    return kind, data

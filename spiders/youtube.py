"""YouTube: comments (and replies) on videos found by searching each brand, through the YouTube Data API v3.

API: https://developers.google.com/youtube/v3/docs (an API key, LISTENER_YOUTUBE_KEY; the base URL is
LISTENER_YOUTUBE_URL, default https://www.googleapis.com/youtube/v3). Plain `requests`, one session.

A pass, per brand and each of its `youtube_searches`:
1. search.list (type=video, order=date, publishedAfter = the stream's checkpoint minus an overlap; on the
   first pass, `follow_days` back), up to `search_pages` pages of 50; a video whose title and description
   match the brand (the project's matcher, or the search itself when there is none) is followed for
   `follow_days`;
2. videos.list (statistics, 50 ids a request) tells which followed videos have more comments than last
   time; only those are read;
3. commentThreads.list (part=snippet,replies, order=time, 100 a page, nextPageToken) newest first, until
   as many new comments as the count grew by were found; a thread with more replies than shown inline
   (the API shows a few) and more than last time has them read through comments.list?parentId=.
Comments carry their video's brands (replies rarely repeat the brand's name). Nothing is yielded twice: a
seen-set of comment ids, and checkpoints written after the pipeline accepted the pass.

Quota: the API gives 10,000 units a day by default; search.list costs 100, the other calls 1. The pass
logs the units it spent. On 403 quotaExceeded it stops, keeps what it gathered (checkpointed), and reports
"quota exceeded" with when it resets. 429 and 5xx answers are retried with capped backoff (Retry-After
honoured); a video with comments disabled or gone is skipped and not followed further.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import requests

import listener
from listener.config import Brand, ConfigError, Settings
from listener.model import Mention, stable_hash
from spiders.about import About
from spiders.checkpoint import CheckpointStore
from spiders.sources import (
    Checkpoints, Matcher, PassReport, PollingSource, Retry, Sink, SourceError,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

about = About(
    source="youtube",
    site="https://www.youtube.com",
    docs="https://developers.google.com/youtube/v3/docs",
    official_api=True,
    key_needed="LISTENER_YOUTUBE_KEY",
    format="JSON",
)

API_URL = "https://www.googleapis.com/youtube/v3"
SEEN_SCOPE = "youtube"
VIDEOS_KEY = "youtube:videos"
COSTS = {"search": 100, "videos": 1, "commentThreads": 1, "comments": 1}  # quota units per call


# ================================================================ parse: API bodies -> plain values and Mentions


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def rfc3339(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_search(body: dict) -> tuple[list[dict], str | None]:
    """Videos of a search.list answer as {"id", "title", "description", "channel", "published"} (epoch s),
    and the next page token."""
    videos = []
    for item in body.get("items", []):
        ident = item.get("id") or {}
        snippet = item.get("snippet") or {}
        if ident.get("kind") != "youtube#video" or not ident.get("videoId"):
            continue  # channels and playlists, if a search returns them
        videos.append({"id": ident["videoId"], "title": snippet.get("title", ""),
                       "description": snippet.get("description", ""), "channel": snippet.get("channelTitle"),
                       "published": _time(snippet["publishedAt"]).timestamp()})
    return videos, body.get("nextPageToken")


def parse_video_counts(body: dict) -> dict[str, int | None]:
    """videos.list statistics: video id -> comment count (None when comments are disabled)."""
    out: dict[str, int | None] = {}
    for item in body.get("items", []):
        count = (item.get("statistics") or {}).get("commentCount")
        out[item["id"]] = int(count) if count is not None else None
    return out


def parse_comment(resource: dict, video: dict, brands: Sequence[str] = (), replies: int | None = None) -> Mention | None:
    """One youtube#comment as a Mention (None when it has no text). `video` = {"id", "title", "channel"}."""
    snippet = resource.get("snippet") or {}
    text = (snippet.get("textOriginal") or snippet.get("textDisplay") or "").strip()
    if not text:
        return None
    video_id = snippet.get("videoId") or video["id"]
    parent = snippet.get("parentId")
    extra: dict[str, Any] = {"kind": "reply" if parent else "comment", "video_id": video_id}
    if video.get("title"):
        extra["video_title"] = video["title"]
    if video.get("channel"):
        extra["channel"] = video["channel"]
    if snippet.get("updatedAt") and snippet.get("updatedAt") != snippet.get("publishedAt"):
        extra["edited"] = snippet["updatedAt"]
    return Mention(
        source="youtube", native_id=resource["id"],
        url=f"https://www.youtube.com/watch?v={video_id}&lc={resource['id']}",
        author_name=(snippet.get("authorDisplayName") or None), text=text,
        published_at=_time(snippet["publishedAt"]), thread_id=video_id, parent_id=parent or video_id,
        score=snippet.get("likeCount"), replies=replies, brands=list(dict.fromkeys(brands)), extra=extra,
    )


def parse_comment_threads(body: dict, video: dict, brands: Sequence[str] = ()) -> tuple[list[Mention], dict[str, tuple[int, int]], str | None]:
    """A commentThreads.list answer: the mentions (each top-level comment, then its inline replies),
    thread id -> (total replies, replies shown inline), and the next page token."""
    mentions: list[Mention] = []
    threads: dict[str, tuple[int, int]] = {}
    for item in body.get("items", []):
        snippet = item.get("snippet") or {}
        total = int(snippet.get("totalReplyCount") or 0)
        inline = (item.get("replies") or {}).get("comments") or []
        top = parse_comment(snippet.get("topLevelComment") or {}, video, brands, replies=total)
        if top is not None:
            mentions.append(top)
        mentions.extend(m for m in (parse_comment(r, video, brands) for r in inline) if m is not None)
        threads[item["id"]] = (total, len(inline))
    return mentions, threads, body.get("nextPageToken")


def parse_comments(body: dict, video: dict, brands: Sequence[str] = ()) -> tuple[list[Mention], str | None]:
    """A comments.list answer (the replies of one thread) and the next page token."""
    mentions = [m for m in (parse_comment(r, video, brands) for r in body.get("items", [])) if m is not None]
    return mentions, body.get("nextPageToken")


def api_error(body: Any) -> tuple[str | None, str]:
    """(reason, message) of a Google API error body, e.g. ("quotaExceeded", "The request cannot …")."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, ""
    reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
    return (reasons[0] if reasons else error.get("status")), str(error.get("message") or "")


# ================================================================ the client: HTTP at the edge


class QuotaExceeded(SourceError):
    """The API key's daily quota is used up."""


class YouTubeError(Exception):
    """An API error about one request (a video with comments disabled, a video gone, a bad parameter)."""

    def __init__(self, status: int, reason: str | None, message: str):
        super().__init__(f"{status} {reason or ''}: {message}".strip())
        self.status, self.reason, self.message = status, reason, message


class _Transient(Exception):
    def __init__(self, status: int, retry_after: float, message: str):
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        self.status, self.retry_after = status, retry_after


def youtube_key(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    key = env.get("LISTENER_YOUTUBE_KEY", "").strip()
    if not key:
        raise ConfigError("YouTube needs an API key: set LISTENER_YOUTUBE_KEY (Google Cloud console → APIs & "
                          "Services → Credentials, with the YouTube Data API v3 enabled)")
    return key


def api_root(url: str | None) -> str:
    """The API root from LISTENER_YOUTUBE_URL: a bare origin gets /youtube/v3 added."""
    if not url:
        return API_URL
    url = url.rstrip("/")
    return url if url.endswith("/youtube/v3") else url + "/youtube/v3"


class YouTubeClient:
    """GET calls to the API with the key, retries, quota accounting and clear errors."""

    def __init__(self, key: str, base_url: str = API_URL, session: requests.Session | None = None,
                 retry: Retry | None = None, user_agent: str | None = None, timeout: float = 30.0):
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if user_agent:
            self.session.headers["User-Agent"] = user_agent
        self.retry = retry or Retry()
        self.timeout = timeout
        self.requests = 0
        self.units = 0  # quota units spent by this client

    def get(self, endpoint: str, **params: Any) -> dict:
        params = {k: v for k, v in params.items() if v is not None}
        return self.retry.call(lambda: self._get_once(endpoint, params), self._transient, f"youtube {endpoint}")

    @staticmethod
    def _transient(err: Exception) -> float | None:
        if isinstance(err, _Transient):
            return err.retry_after
        if isinstance(err, (requests.ConnectionError, requests.Timeout)):
            return 0.0
        return None

    def _get_once(self, endpoint: str, params: dict) -> dict:
        self.requests += 1
        response = self.session.get(f"{self.base_url}/{endpoint}", params={**params, "key": self.key},
                                    timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            self.units += COSTS.get(endpoint, 1)
            return body
        reason, message = api_error(body)
        status = response.status_code
        if status == 429 or status >= 500 or (status == 403 and reason in ("rateLimitExceeded",
                                                                           "userRateLimitExceeded")):
            raise _Transient(status, retry_after_seconds(response.headers.get("retry-after")), message)
        if status == 403 and reason in ("quotaExceeded", "dailyLimitExceeded"):
            raise QuotaExceeded("YouTube API quota exceeded (403 quotaExceeded): the key's daily units are "
                                "used up (10,000 by default; search costs 100, comment pages 1). The quota "
                                "resets at midnight Pacific time; what was gathered so far is kept and the "
                                "next pass continues from there. To get more, request a quota increase in the "
                                "Google Cloud console or search less often.")
        if reason in ("keyInvalid", "keyExpired", "accessNotConfigured", "ipRefererBlocked") or (
                status == 400 and "API key" in message):
            raise SourceError(f"YouTube rejected the API key ({status} {reason}: {message}); check "
                              "LISTENER_YOUTUBE_KEY and that the YouTube Data API v3 is enabled for it")
        if status == 200:
            raise YouTubeError(status, "badJson", f"expected a JSON object from {endpoint}")
        raise YouTubeError(status, reason, message or response.text[:200])


# ================================================================ the source


class YouTubeSource(PollingSource):
    """One incremental pass over YouTube for some brands (see the module docstring)."""

    name = "youtube"
    seen_scope = SEEN_SCOPE
    followed_key = VIDEOS_KEY
    about = about

    def __init__(self, client: YouTubeClient, checkpoints: CheckpointStore, matcher: Matcher | None = None, *,
                 search_pages: int = 2, comment_pages: int = 20, follow_days: float = 30.0,
                 search_overlap: float = 3600.0, clock: Callable[[], float] = time.time):
        self.client = client
        self.checkpoints = checkpoints
        self.matcher = matcher
        self.search_pages = search_pages
        self.comment_pages = comment_pages
        self.follow_days = follow_days
        self.search_overlap = search_overlap
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, checkpoints: CheckpointStore, matcher: Matcher | None = None,
                      environ: dict[str, str] | None = None, retry: Retry | None = None,
                      **options: Any) -> "YouTubeSource":
        user_agent = f"listener/{listener.__version__} (+{settings.user_agent_contact})"
        client = YouTubeClient(youtube_key(environ), api_root(settings.youtube_url), retry=retry,
                               user_agent=user_agent)
        return cls(client, checkpoints, matcher, **options)

    # ------------------------------------------------------------ the pass

    def poll(self, brands: Sequence[Brand], sink: Sink) -> PassReport:
        started = time.monotonic()
        requests_before, units_before = self.client.requests, self.client.units
        report = PassReport(self.name)
        cp = Checkpoints(self.checkpoints)
        videos: dict[str, dict] = dict(cp.get(VIDEOS_KEY, {}))
        found: list[Mention] = []
        try:
            for brand in brands:
                for query in brand.sources.youtube_searches:
                    self._search(brand, query, videos, cp, report)
            for video_id in self._grown(videos, report):
                self._read_video(videos[video_id], cp, report, found)
        except QuotaExceeded as err:
            report.stopped = "quota exceeded"
            report.errors.append(str(err))
            log.error("youtube: %s", err)

        horizon = self.clock() - self.follow_days * 86400
        videos = {vid: v for vid, v in videos.items() if v["published"] >= horizon and not v.get("dead")}
        return self.finish_pass(sink, cp, report, found, videos, started=started,
                                requests=self.client.requests - requests_before,
                                rate_limit={"quota_units": self.client.units - units_before})

    def _brands_of(self, video: dict, searched_for: str) -> list[str]:
        if self.matcher is None:
            return [searched_for]
        probe = Mention(source="youtube", native_id=video["id"], title=video["title"] or None,
                        text=video["description"] or "", published_at=_utc(video["published"]),
                        url=f"https://www.youtube.com/watch?v={video['id']}")
        return list(self.matcher(probe))

    def _search(self, brand: Brand, query: str, videos: dict[str, dict], cp: Checkpoints,
                report: PassReport) -> None:
        key = f"youtube:search:{brand.name}:{stable_hash(query, size=6)}"
        stream = report.stream(key)
        state = cp.get(key) or {}
        since = state.get("newest")
        # The first pass looks back as far as videos are followed; later ones from the checkpoint.
        after = rfc3339(since - self.search_overlap if since is not None
                        else self.clock() - self.follow_days * 86400)
        newest, token, pages = since, None, 0
        try:
            while pages < self.search_pages:
                body = self.client.get("search", part="snippet", q=query, type="video", order="date",
                                       publishedAfter=after, maxResults=50, pageToken=token)
                pages += 1
                found, token = parse_search(body)
                stream.read += len(found)
                for video in found:
                    newest = max(newest or 0.0, video["published"])
                    if video["id"] in videos:
                        videos[video["id"]]["brands"] = list(dict.fromkeys([*videos[video["id"]]["brands"],
                                                                             *self._brands_of(video, brand.name)]))
                        continue
                    matched = self._brands_of(video, brand.name)
                    if not matched:
                        continue
                    videos[video["id"]] = {**video, "brands": matched, "comments": 0, "threads": {}}
                    stream.new += 1
                if not token:
                    break
        except YouTubeError as err:
            stream.error = str(err)
            report.errors.append(f"{key}: {err}")
            log.error("youtube %s: search failed, keeping the old checkpoint: %s", key, err)
            return
        if token:
            log.warning("youtube %s: more results than %d search pages (%d videos); older ones are skipped "
                        "(raise search_pages or search more often)", key, self.search_pages, stream.read)
        if newest is not None and (since is None or newest > since):
            cp.set(key, {"newest": newest, "query": query})
        log.info("youtube %s: %d new videos of %d found; %d quota units spent so far", key, stream.new,
                 stream.read, self.client.units)

    def _grown(self, videos: dict[str, dict], report: PassReport) -> list[str]:
        """Followed videos whose comment count grew (videos.list, 50 ids a call)."""
        horizon = self.clock() - self.follow_days * 86400
        followed = [vid for vid, v in videos.items() if v["published"] >= horizon and not v.get("dead")]
        grown: list[str] = []
        for start in range(0, len(followed), 50):
            chunk = followed[start:start + 50]
            try:
                counts = parse_video_counts(self.client.get("videos", part="statistics", id=",".join(chunk)))
            except YouTubeError as err:
                report.errors.append(f"youtube:videos: {err}")
                log.error("youtube: could not read comment counts: %s", err)
                continue
            for vid in chunk:
                count = counts.get(vid, "gone")
                if count == "gone" or count is None:  # deleted, private, or comments turned off
                    videos[vid]["dead"] = True
                    log.info("youtube video %s: %s; no longer followed", vid,
                             "gone" if count == "gone" else "comments disabled")
                elif count > videos[vid].get("comments", 0):
                    videos[vid]["target"] = count
                    grown.append(vid)
        return grown

    def _read_video(self, video: dict, cp: Checkpoints, report: PassReport, out: list[Mention]) -> None:
        """Add the new comments of one video to `out` (as they come, so a quota stop keeps them): thread
        pages newest first until as many new comments as the count grew by were found."""
        stream = report.stream(f"youtube:video:{video['id']}")
        wanted = video.get("target", 0) - video.get("comments", 0)
        known_threads: dict[str, int] = video.setdefault("threads", {})
        before = len(out)
        token, pages = None, 0
        try:
            while pages < self.comment_pages:
                body = self.client.get("commentThreads", part="snippet,replies", videoId=video["id"],
                                       order="time", maxResults=100, textFormat="plainText", pageToken=token)
                pages += 1
                mentions, threads, token = parse_comment_threads(body, video, video["brands"])
                stream.read += len(mentions)
                out.extend(self._unseen(mentions, cp))
                for thread_id, (total, inline) in threads.items():
                    if total > inline and total > known_threads.get(thread_id, 0):
                        out.extend(self._replies(thread_id, video, cp, stream))
                    known_threads[thread_id] = total
                if not token or len(out) - before >= wanted:
                    break
        except YouTubeError as err:
            if err.reason in ("commentsDisabled", "videoNotFound", "forbidden"):
                video["dead"] = True
                log.info("youtube video %s: %s; no longer followed", video["id"], err.reason)
            else:
                stream.error = str(err)
                report.errors.append(f"youtube:video:{video['id']}: {err}")
                log.error("youtube video %s: failed, will try again next pass: %s", video["id"], err)
            return
        video["comments"] = video.pop("target", video.get("comments", 0))
        stream.new = len(out) - before
        log.info("youtube video %s: %d new comments (%d pages); %d quota units spent so far", video["id"],
                 stream.new, pages, self.client.units)

    def _replies(self, thread_id: str, video: dict, cp: Checkpoints, stream) -> list[Mention]:
        out: list[Mention] = []
        token, pages = None, 0
        while pages < self.comment_pages:
            body = self.client.get("comments", part="snippet", parentId=thread_id, maxResults=100,
                                   textFormat="plainText", pageToken=token)
            pages += 1
            mentions, token = parse_comments(body, video, video["brands"])
            stream.read += len(mentions)
            out.extend(self._unseen(mentions, cp))
            if not token:
                break
        return out

    @staticmethod
    def _unseen(mentions: list[Mention], cp: Checkpoints) -> list[Mention]:
        fresh = set(cp.unseen(SEEN_SCOPE, [m.native_id for m in mentions]))
        return [m for m in mentions if m.native_id in fresh]


def _utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, tz=timezone.utc)


# ================================================================ one pass into the pipeline (the CLI's entry)


def run_youtube(settings: Settings, project_path: str | None = None, brand: str | None = None,
                score: bool = True, environ: dict[str, str] | None = None, **options: Any) -> PassReport:
    """`listener youtube`: one incremental pass over the project's brands, into the store."""
    from spiders.sources import run_source

    youtube_key(environ)  # fail before loading the model when the key is missing
    return run_source(YouTubeSource, settings, project_path, brand, score, environ, **options)

"""A local YouTube Data API v3 server: search.list, videos.list, commentThreads.list and comments.list, in the
API's real shapes, from videos and comments you give it.

    server = YouTubeServer(videos=[make_video("vid1", "Nimbus wallet review")],
                           comments=[make_yt_comment("c1", "vid1", "mine too")])
    api_url = server.start()          # http://127.0.0.1:PORT/youtube/v3, for LISTENER_YOUTUBE_URL
    ...
    server.stop()

Resources follow https://developers.google.com/youtube/v3/docs (youtube#searchListResponse,
youtube#commentThreadListResponse with `replies.comments`, youtube#commentListResponse,
youtube#videoListResponse with `statistics.commentCount` as a string); errors are Google's
`{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}` with the real reasons:
quotaExceeded (403, once `quota` units are spent: search costs 100, the others 1), commentsDisabled (403),
videoNotFound (404), keyInvalid (400). Pages are `nextPageToken` strings. Search is a small word matcher
over title and description (the real ranking is not reproduced; order=date is newest first).
"""

from __future__ import annotations

import base64
import re
import time
from datetime import datetime, timezone
from typing import Any, Iterable

from demo.servers.base import LocalApiServer, Request, Response
from demo.servers.reddit import compile_search

COSTS = {"search": 100, "videos": 1, "commentThreads": 1, "comments": 1}
INLINE_REPLIES = 5  # commentThreads.list shows a few replies; comments.list?parentId= has them all


def rfc3339(value: Any) -> str:
    """An epoch number, a datetime or an RFC 3339 string, as the API writes times: 2026-11-01T09:00:00Z."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def make_video(id: str, title: str, description: str = "", *, channel: str = "Some Channel",
               published: Any = None, comments_disabled: bool = False, **extra: Any) -> dict:
    """A video as this server keeps it (rendered into API resources on the way out)."""
    return {"id": id, "title": title, "description": description, "channel": channel,
            "channel_id": "UC" + re.sub(r"[^A-Za-z0-9]", "", channel)[:20].ljust(22, "x"),
            "published": rfc3339(published if published is not None else time.time()),
            "comments_disabled": comments_disabled, **extra}


def make_yt_comment(id: str, video_id: str, text: str, *, author: str = "@someone", published: Any = None,
                    likes: int = 0, parent_id: str | None = None, **extra: Any) -> dict:
    """A comment: top-level (a thread, whose id is its own) or, with `parent_id` = the thread id, a reply."""
    return {"id": id, "video_id": video_id, "text": text, "author": author,
            "published": rfc3339(published if published is not None else time.time()), "likes": likes,
            "parent_id": parent_id, **extra}


def _error(code: int, reason: str, message: str, domain: str = "youtube.api") -> Response:
    return Response(code, {"error": {"code": code, "message": message,
                                     "errors": [{"message": message, "domain": domain, "reason": reason}]}})


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(raw.removeprefix("o:")) if raw.startswith("o:") else None
    except Exception:
        return None


class YouTubeServer(LocalApiServer):
    """YouTube Data API v3 on 127.0.0.1. `keys`: accepted API keys (None = any non-empty key);
    `quota`: units before every request answers 403 quotaExceeded."""

    name = "youtube"
    prefix = "/youtube/v3"

    def __init__(self, videos: Iterable[dict] = (), comments: Iterable[dict] = (), *,
                 keys: Iterable[str] | None = None, quota: int = 1_000_000):
        super().__init__()
        self.keys = set(keys) if keys is not None else None
        self.quota = quota
        self.units_used = 0
        self._video_data: dict[str, dict] = {}
        self._comment_data: dict[str, dict] = {}
        self.add(videos=videos, comments=comments)

    def url_for(self, origin: str) -> str:
        return origin + self.prefix

    def add(self, videos: Iterable[dict] = (), comments: Iterable[dict] = ()) -> None:
        with self.lock:
            for video in videos:
                self._video_data[video["id"]] = dict(video)
            for comment in comments:
                if comment["video_id"] not in self._video_data:
                    raise ValueError(f"comment {comment['id']} is on unknown video {comment['video_id']}")
                self._comment_data[comment["id"]] = dict(comment)

    # ------------------------------------------------------------ dispatch

    def handle(self, request: Request) -> Response:
        if request.method != "GET" or not request.path.startswith(self.prefix + "/"):
            return _error(404, "notFound", "Not Found", "global")
        endpoint = request.path[len(self.prefix) + 1:].strip("/")
        if endpoint not in COSTS:
            return _error(404, "notFound", "Not Found", "global")
        key = request.get("key")
        if not key or (self.keys is not None and key not in self.keys):
            return _error(400, "keyInvalid", "API key not valid. Please pass a valid API key.", "global")
        with self.lock:
            if self.units_used + COSTS[endpoint] > self.quota:
                return _error(403, "quotaExceeded", "The request cannot be completed because you have exceeded "
                              'your <a href="/youtube/v3/getting-started#quota">quota</a>.', "youtube.quota")
            self.units_used += COSTS[endpoint]
            if not request.get("part"):
                return _error(400, "required", "Required parameter: part", "global")
            return getattr(self, "_api_" + endpoint.lower())(request)

    def _page(self, items: list, request: Request, default: int, most: int) -> tuple[list, str | None] | Response:
        try:
            size = int(request.get("maxResults") or default)
        except ValueError:
            return _error(400, "invalidParameter", "Invalid value for maxResults", "youtube.parameter")
        if not 0 <= size <= most:
            return _error(400, "invalidParameter", f"maxResults must be between 0 and {most}", "youtube.parameter")
        start = _offset(request.get("pageToken"))
        if start is None:
            return _error(400, "invalidPageToken", "The request specifies an invalid page token.",
                          "youtube.parameter")
        chunk = items[start:start + size]
        return chunk, (_token(start + size) if start + size < len(items) else None)

    # ------------------------------------------------------------ endpoints

    def _api_search(self, request: Request) -> Response:
        if request.get("type", "video") != "video":
            return _error(400, "invalidParameter", "only type=video is served here", "youtube.parameter")
        matches = compile_search(request.get("q") or "")
        videos = [v for v in self._video_data.values()
                  if matches({"title": v["title"], "selftext": v["description"]})]
        after, before = request.get("publishedAfter"), request.get("publishedBefore")
        try:
            if after:
                videos = [v for v in videos if _epoch(v["published"]) >= _epoch(after)]
            if before:
                videos = [v for v in videos if _epoch(v["published"]) < _epoch(before)]
        except ValueError:
            return _error(400, "invalidPublishedAfter", "The publishedAfter parameter value has an invalid format.",
                          "youtube.search")
        videos.sort(key=lambda v: (_epoch(v["published"]), v["id"]), reverse=True)
        page = self._page(videos, request, 5, 50)
        if isinstance(page, Response):
            return page
        chunk, next_token = page
        body = {
            "kind": "youtube#searchListResponse", "etag": f"s{len(videos)}", "regionCode": "US",
            "pageInfo": {"totalResults": len(videos), "resultsPerPage": len(chunk)},
            "items": [{"kind": "youtube#searchResult", "etag": f"e{v['id']}",
                       "id": {"kind": "youtube#video", "videoId": v["id"]},
                       "snippet": self._video_snippet(v)} for v in chunk],
        }
        if next_token:
            body["nextPageToken"] = next_token
        return Response(200, body)

    def _video_snippet(self, video: dict) -> dict:
        thumb = f"https://i.ytimg.com/vi/{video['id']}/default.jpg"
        return {"publishedAt": video["published"], "channelId": video["channel_id"], "title": video["title"],
                "description": video["description"][:160],
                "thumbnails": {"default": {"url": thumb, "width": 120, "height": 90}},
                "channelTitle": video["channel"], "liveBroadcastContent": "none", "publishTime": video["published"]}

    def _api_videos(self, request: Request) -> Response:
        wanted = [i for i in (request.get("id") or "").split(",") if i]
        if len(wanted) > 50:
            return _error(400, "invalidParameter", "at most 50 ids", "youtube.parameter")
        items = []
        for video_id in wanted:
            video = self._video_data.get(video_id)
            if video is None:
                continue
            count = sum(1 for c in self._comment_data.values() if c["video_id"] == video_id)
            stats = {"viewCount": str(video.get("views", 0)), "likeCount": str(video.get("likes", 0)),
                     "favoriteCount": "0"}
            if not video.get("comments_disabled"):
                stats["commentCount"] = str(count)
            items.append({"kind": "youtube#video", "etag": f"v{video_id}", "id": video_id,
                          "snippet": self._video_snippet(video), "statistics": stats})
        return Response(200, {"kind": "youtube#videoListResponse", "etag": "v",
                              "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                              "items": items})

    def _comment_resource(self, comment: dict, request: Request) -> dict:
        author = comment["author"]
        snippet = {
            "channelId": self._video_data[comment["video_id"]]["channel_id"], "videoId": comment["video_id"],
            "textDisplay": comment["text"] if request.get("textFormat") == "plainText" else
            comment["text"].replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>"),
            "textOriginal": comment["text"], "authorDisplayName": author,
            "authorProfileImageUrl": "https://yt3.ggpht.com/a/default-user=s48",
            "authorChannelUrl": f"http://www.youtube.com/{author}",
            "authorChannelId": {"value": "UC" + re.sub(r"[^A-Za-z0-9]", "", author)[:20].ljust(22, "y")},
            "canRate": True, "viewerRating": "none", "likeCount": comment["likes"],
            "publishedAt": comment["published"], "updatedAt": comment.get("updated", comment["published"]),
        }
        if comment.get("parent_id"):
            snippet["parentId"] = comment["parent_id"]
        return {"kind": "youtube#comment", "etag": f"c{comment['id']}", "id": comment["id"], "snippet": snippet}

    def _api_commentthreads(self, request: Request) -> Response:
        video_id = request.get("videoId")
        video = self._video_data.get(video_id or "")
        if video is None:
            return _error(404, "videoNotFound", "The video identified by the videoId parameter could not be found.",
                          "youtube.commentThread")
        if video.get("comments_disabled"):
            return _error(403, "commentsDisabled", "The video identified by the videoId parameter has disabled "
                          "comments.", "youtube.commentThread")
        threads = [c for c in self._comment_data.values() if c["video_id"] == video_id and not c.get("parent_id")]
        if request.get("order", "time") == "relevance":
            threads.sort(key=lambda c: (c["likes"], _epoch(c["published"])), reverse=True)
        else:
            threads.sort(key=lambda c: (_epoch(c["published"]), c["id"]), reverse=True)
        page = self._page(threads, request, 20, 100)
        if isinstance(page, Response):
            return page
        chunk, next_token = page
        with_replies = "replies" in (request.get("part") or "")
        items = []
        for top in chunk:
            replies = self._replies(top["id"])
            item = {"kind": "youtube#commentThread", "etag": f"t{top['id']}", "id": top["id"],
                    "snippet": {"channelId": video["channel_id"], "videoId": video_id,
                                "topLevelComment": self._comment_resource(top, request), "canReply": True,
                                "totalReplyCount": len(replies), "isPublic": True}}
            if with_replies and replies:
                item["replies"] = {"comments": [self._comment_resource(r, request)
                                                for r in replies[:INLINE_REPLIES]]}
            items.append(item)
        body = {"kind": "youtube#commentThreadListResponse", "etag": f"ct{len(threads)}",
                "pageInfo": {"totalResults": len(chunk), "resultsPerPage": len(chunk)}, "items": items}
        if next_token:
            body["nextPageToken"] = next_token
        return Response(200, body)

    def _replies(self, thread_id: str) -> list[dict]:
        replies = [c for c in self._comment_data.values() if c.get("parent_id") == thread_id]
        replies.sort(key=lambda c: (_epoch(c["published"]), c["id"]))
        return replies

    def _api_comments(self, request: Request) -> Response:
        parent = request.get("parentId")
        if not parent:
            return _error(400, "missingRequiredParameter", "No filter selected. Expected one of: parentId, id.",
                          "youtube.parameter")
        if parent not in self._comment_data:
            return _error(404, "commentNotFound", "The comment identified by the parentId parameter could not be "
                          "found.", "youtube.comment")
        page = self._page(self._replies(parent), request, 20, 100)
        if isinstance(page, Response):
            return page
        chunk, next_token = page
        body = {"kind": "youtube#commentListResponse", "etag": f"cl{parent}",
                "pageInfo": {"totalResults": len(chunk), "resultsPerPage": len(chunk)},
                "items": [self._comment_resource(c, request) for c in chunk]}
        if next_token:
            body["nextPageToken"] = next_token
        return Response(200, body)

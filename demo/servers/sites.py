"""A local web site on 127.0.0.1: a folder of pages plus routes for robots.txt and the ways real sites fail.

Used by the spider tests and by `listener demo` (through `LocalApiServer`, which owns the thread, the
request log and `fail_next`). What it serves, in order:

- `/robots.txt`: the folder's robots.txt, else "allow everything";
- test routes, which compose by prefix with any path after them:
  `/_status/<code>` (that status), `/_flaky/<n>/<code>/<path>` (the first n requests get <code>, with
  Retry-After: 1 for 429; then <path>), `/_loop/<n>` (302 to /_loop/<n+1>, for ever),
  `/_redirect/<path>` (301 to /<path>), `/_big/<megabytes>` (an HTML page that large),
  `/_truncate/<bytes>/<path>` (a Content-Length for all of <path> but only <bytes> bytes, then the
  connection closes), `/_charset/<name|none>/<path>` (<path> declared in another charset, or none);
- pages added in memory with `add_page()`, then the routes of the folder's `_site.json`
  (`{"routes": {"/path?query": {"file": "...", "status": 200, "content_type": "...", "headers": {}}}}`,
  query order does not matter), then the folder's files (a directory serves its index.html).

Files get an ETag and Last-Modified, and a matching If-None-Match / If-Modified-Since gets 304.
"{{base}}" in a file is replaced by the server's base URL (for absolute links in feeds and pages).
`python -m demo.servers.sites FOLDER [--port N]` serves a folder by hand.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import threading
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from demo.servers.base import LocalApiServer, Request, Response

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/rss+xml", "application/atom+xml")
mimetypes.add_type("application/rss+xml", ".rss")
mimetypes.add_type("application/atom+xml", ".atom")


@dataclass
class Truncated(Response):
    """A response whose body stops after `cut_at` bytes while its Content-Length promises all of it."""

    cut_at: int = 0


def route_key(path: str, params: dict[str, str] | None = None) -> str:
    """"/a?b=1&a=2" and ("/a", {"a": "2", "b": "1"}) -> the same key: path plus sorted query."""
    if params is None:
        parts = urlsplit(path)
        path, params = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
    query = urlencode(sorted(params.items()))
    return f"{path}?{query}" if query else path


class SiteServer(LocalApiServer):
    """Serves `root` (a folder) and in-memory pages; see the module docstring for the routes."""

    name = "sites"

    def __init__(self, root: str | Path | None = None):
        super().__init__()
        self.root = Path(root) if root is not None else None
        self.pages: dict[str, Response] = {}
        self._counts: dict[str, int] = {}
        self._count_lock = threading.Lock()
        self.routes: dict[str, dict] = {}
        manifest = self.root / "_site.json" if self.root else None
        if manifest and manifest.is_file():
            for key, spec in json.loads(manifest.read_text("utf-8")).get("routes", {}).items():
                self.routes[route_key(key)] = spec

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"

    def add_page(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
                 status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Serve `body` at `path` (with its query, if any), e.g. pages rendered by the demo."""
        payload = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[route_key(path)] = Response(status, payload, {"content-type": content_type, **(headers or {})})

    def hits(self, path_prefix: str) -> int:
        return len(self.requests_to(path_prefix))

    # ------------------------------------------------------------ answering

    def handle(self, request: Request) -> Response:
        return self.resolve(request.path, request.params, request)

    def resolve(self, path: str, params: dict[str, str], request: Request) -> Response:
        parts = path.lstrip("/").split("/")
        head = parts[0]
        if path == "/robots.txt":
            robots = self.root / "robots.txt" if self.root else None
            body = robots.read_bytes() if robots and robots.is_file() else b"User-agent: *\nAllow: /\n"
            return Response(200, body, {"content-type": "text/plain; charset=utf-8"})
        if head == "_status" and len(parts) >= 2:
            status = int(parts[1])
            headers = {"content-type": "text/html; charset=utf-8"}
            if status == 429:
                headers["retry-after"] = "1"
            return Response(status, f"<html><body><h1>{status}</h1></body></html>".encode(), headers)
        if head == "_flaky" and len(parts) >= 4:
            times, status, rest = int(parts[1]), int(parts[2]), "/" + "/".join(parts[3:])
            key = route_key(path, params)
            with self._count_lock:
                self._counts[key] = self._counts.get(key, 0) + 1
                count = self._counts[key]
            if count <= times:
                return self.resolve(f"/_status/{status}", {}, request)
            return self.resolve(rest, params, request)
        if head == "_loop" and len(parts) >= 2:
            return Response(302, b"", {"location": f"/_loop/{int(parts[1]) + 1}", "content-type": "text/html"})
        if head == "_redirect" and len(parts) >= 2:
            target = "/" + "/".join(parts[1:])
            query = urlencode(params)
            return Response(301, b"", {"location": f"{target}?{query}" if query else target,
                                       "content-type": "text/html"})
        if head == "_big" and len(parts) >= 2:
            return Response(200, big_page(float(parts[1])), {"content-type": "text/html; charset=utf-8"})
        if head == "_truncate" and len(parts) >= 3:
            inner = self.resolve("/" + "/".join(parts[2:]), params, request)
            return Truncated(inner.status, inner.body, inner.headers, cut_at=int(parts[1]))
        if head == "_charset" and len(parts) >= 3:
            inner = self.resolve("/" + "/".join(parts[2:]), params, request)
            mime = inner.headers.get("content-type", "text/html").split(";")[0]
            declared = mime if parts[1] == "none" else f"{mime}; charset={parts[1]}"
            return Response(inner.status, inner.body, {**inner.headers, "content-type": declared})
        key = route_key(path, params)
        if key in self.pages:
            return self.pages[key]
        spec = self.routes.get(key) or self.routes.get(path)
        if spec is not None:
            if "file" not in spec:
                return Response(spec.get("status", 200), spec.get("body", "").encode("utf-8"),
                                {"content-type": spec.get("content_type", "text/html; charset=utf-8"),
                                 **spec.get("headers", {})})
            response = self._file(self.root / spec["file"], request)
            if response.status == 200:
                response.status = spec.get("status", 200)
                if "content_type" in spec:
                    response.headers["content-type"] = spec["content_type"]
                response.headers.update(spec.get("headers", {}))
            return response
        if self.root is not None:
            target = (self.root / path.lstrip("/")).resolve()
            if self.root.resolve() in target.parents or target == self.root.resolve():
                if target.is_dir():
                    target = target / "index.html"
                if target.is_file() and not target.name.startswith("_"):
                    return self._file(target, request)
        return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>",
                        {"content-type": "text/html; charset=utf-8"})

    def _file(self, file: Path, request: Request) -> Response:
        if not file.is_file():
            return Response(404, b"<html><body>missing fixture</body></html>", {"content-type": "text/html"})
        body = file.read_bytes()
        if b"{{base}}" in body:  # fixtures that link to absolute URLs on this server
            body = body.replace(b"{{base}}", (self.base_url or "").encode("utf-8"))
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        mtime = file.stat().st_mtime
        last_modified = formatdate(mtime, usegmt=True)
        mime = mimetypes.guess_type(file.name)[0] or "text/html"
        if file.suffix == "" or file.name.endswith(".json"):
            mime = "application/json" if body.lstrip()[:1] in (b"{", b"[") else mime
        content_type = f"{mime}; charset=utf-8" if mime.startswith(_TEXT_TYPES) else mime
        headers = {"content-type": content_type, "etag": etag, "last-modified": last_modified}
        if request.headers.get("if-none-match") == etag or _not_modified_since(request, mtime):
            return Response(304, b"", headers)
        return Response(200, body, headers)

    def _send(self, handler, response: Response, extra: dict[str, str]) -> None:
        try:
            self._send_or_cut(handler, response, extra)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up (a crawler refusing a page over its size limit): nothing to report.
            handler.close_connection = True

    def _send_or_cut(self, handler, response: Response, extra: dict[str, str]) -> None:
        if not isinstance(response, Truncated):
            return super()._send(handler, response, extra)
        payload = response.body if isinstance(response.body, bytes) else str(response.body).encode("utf-8")
        handler.send_response(response.status)
        for name, value in {**extra, **response.headers}.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(payload)))
        handler.send_header("connection", "close")
        handler.end_headers()
        handler.wfile.write(payload[:response.cut_at])
        handler.wfile.flush()
        handler.close_connection = True


def _not_modified_since(request: Request, mtime: float) -> bool:
    since = request.headers.get("if-modified-since")
    if not since or request.headers.get("if-none-match"):
        return False  # If-None-Match wins when both are sent (RFC 9110)
    try:
        return int(mtime) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False


def big_page(megabytes: float) -> bytes:
    """A valid HTML page of about this many megabytes (a huge comment thread, an endless product page)."""
    line = b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n"
    count = int(megabytes * 1024 * 1024 / len(line))
    return b"<!doctype html><html><head><title>big</title></head><body>\n" + line * count + b"</body></html>\n"


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = SiteServer(args.folder)
    print(f"serving {args.folder} at {server.start(port=args.port)}  (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

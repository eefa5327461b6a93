"""What every local API server shares: a threaded HTTP server on 127.0.0.1, a request log, and injected failures.

A subclass implements `handle(request) -> Response`; this module owns sockets, threads, the log and the
"answer 429/500 for the next N requests" switch, so tests of retries and the demo use one mechanism.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it. `params` merges the query string and a form body; order-independent."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes / str sent as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    remaining: int
    status: int
    path_prefix: str | None
    retry_after: float | None
    body: Any


class LocalApiServer:
    """Base of the local API servers: `start()` returns the base URL, `stop()` shuts down (also a context manager).

    Thread-safe: the handler threads and the test thread share state under `self.lock`.
    """

    name = "api"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._failures: list[_Failure] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.base_url: str | None = None

    # ------------------------------------------------------------ life cycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._httpd is not None:
            return self.base_url  # type: ignore[return-value]
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real APIs and requests' pool expect

            def setup(self):
                super().setup()
                # Headers and body leave in separate writes: without this, Nagle's algorithm and the
                # client's delayed ACK add ~40 ms to every answer.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):  # noqa: N802 (http.server's naming)
                server._dispatch(self, "GET")

            def do_POST(self):  # noqa: N802
                server._dispatch(self, "POST")

            def log_message(self, format, *args):  # quiet: the request log is in server.requests
                log.debug("%s %s", server.name, format % args)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.timeout = 0.05  # handle_request() returns this often to look at the stop flag
        self._stopping.clear()
        bound_host, bound_port = self._httpd.server_address[:2]
        self.base_url = self.url_for(f"http://{bound_host}:{bound_port}")
        self._thread = threading.Thread(target=self._serve, args=(self._httpd,), name=f"{self.name}-server",
                                        daemon=True)
        self._thread.start()
        return self.base_url

    def _serve(self, httpd: ThreadingHTTPServer) -> None:
        # A loop of our own rather than serve_forever(): stop() then never blocks, even when called while
        # the interpreter is shutting down and this thread no longer runs.
        while not self._stopping.is_set():
            httpd.handle_request()

    def url_for(self, origin: str) -> str:
        """The base URL clients are given (a subclass may add a path prefix)."""
        return origin

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._httpd = self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ failures and the log

    def fail_next(self, count: int = 1, status: int = 500, path: str | None = None,
                  retry_after: float | None = None, body: Any = None) -> None:
        """Answer the next `count` requests (whose path starts with `path`, if given) with `status`."""
        with self.lock:
            self._failures.append(_Failure(count, status, path, retry_after, body))

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests
                    if r.path.startswith(path_prefix) and (method is None or r.method == method)]

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()

    def _take_failure(self, request: Request) -> _Failure | None:
        with self.lock:
            for failure in self._failures:
                if failure.remaining > 0 and (failure.path_prefix is None
                                              or request.path.startswith(failure.path_prefix)):
                    failure.remaining -= 1
                    return failure
            self._failures = [f for f in self._failures if f.remaining > 0]
        return None

    # ------------------------------------------------------------ plumbing

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def failure_response(self, failure: _Failure, request: Request) -> Response:
        headers = {}
        if failure.retry_after is not None:
            headers["retry-after"] = f"{failure.retry_after:g}"
        body = failure.body if failure.body is not None else {"message": "injected failure", "error": failure.status}
        return Response(failure.status, body, headers)

    def prepare(self, request: Request) -> tuple[dict[str, str], Response | None]:
        """Called for every request before it is answered: headers to add to the answer (rate limits, say),
        and an answer to give instead of handling it (e.g. 429 once a budget is used up)."""
        return {}, None

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if raw and "application/x-www-form-urlencoded" in (handler.headers.get("content-type") or ""):
            params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        request = Request(method, parts.path, params, {k.lower(): v for k, v in handler.headers.items()})
        with self.lock:
            self.requests.append(request)
        try:
            headers, response = self.prepare(request)
            failure = self._take_failure(request)
            if failure is not None:
                response = self.failure_response(failure, request)
            elif response is None:
                response = self.handle(request)
        except Exception as err:  # a bug in the fake must show up as a 500, not a hung client
            log.exception("%s server failed on %s %s", self.name, method, parts.path)
            headers, response = {}, Response(500, {"message": f"server error: {err}", "error": 500})
        if request.headers.get("connection", "").lower() == "close":
            # Say so in the answer: a client that asked to close must not put the socket back in its pool.
            headers["connection"] = "close"
        self._send(handler, response, headers)

    def _send(self, handler: BaseHTTPRequestHandler, response: Response, extra: dict[str, str]) -> None:
        body = response.body
        if isinstance(body, bytes):
            payload, content_type = body, "application/octet-stream"
        elif isinstance(body, str):
            payload, content_type = body.encode("utf-8"), "text/plain; charset=UTF-8"
        else:
            payload, content_type = json.dumps(body).encode("utf-8"), "application/json; charset=UTF-8"
        handler.send_response(response.status)
        headers = {"content-type": content_type, **extra, **response.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

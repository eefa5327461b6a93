"""The web app's guards: who is logged in, CSRF checks, login rate limits and the security headers."""

from __future__ import annotations

import hmac
import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request

from listener.web.users import Session

COOKIE = "listener_session"
# No inline script or style and nothing from other origins: a payload that slips past escaping still cannot run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "X-Frame-Options": "DENY"}


class NotLoggedIn(Exception):
    """Raised by a page that needs a login; the app answers with a redirect to /login."""


class LoginLimiter:
    """At most `attempts` failed logins per user name and per client address in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 900.0):
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] < now - self.window:
            failures.popleft()
        return failures

    def blocked(self, name: str, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            counts = [len(self._recent(k, now)) for k in (f"u:{name}", f"c:{client}")]
            # Forget keys with nothing recent, so guessing many names cannot grow this without bound.
            for key in [k for k, failures in self._failures.items() if not failures]:
                del self._failures[key]
            return any(count >= self.attempts for count in counts)

    def failed(self, name: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{name}", f"c:{client}"):
                self._recent(key, now).append(now)


def current_session(request: Request) -> Session | None:
    return request.app.state.users.session(request.cookies.get(COOKIE))


def bearer_session(request: Request) -> Session | None:
    """The session of an `Authorization: Bearer <API token>` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return request.app.state.users.token_session(token.strip())


def api_session(request: Request) -> Session:
    """The API's login check: an API token, else the session cookie; 401 without either (never a redirect)."""
    session = bearer_session(request) or current_session(request)
    if session is None:
        raise HTTPException(401, "log in first (POST /login) or send an API token (Authorization: Bearer ...)",
                            headers={"WWW-Authenticate": "Bearer"})
    return session


def page_session(request: Request) -> Session:
    session = current_session(request)
    if session is None:
        raise NotLoggedIn()
    return session


def check_csrf(session: Session, token: str | None) -> None:
    if session.via_token:
        return  # no cookie was sent, so another site cannot have made the browser send this request
    if not token or not hmac.compare_digest(token, session.csrf):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


def require(session: Session, role: str) -> None:
    if not session.can(role):
        raise HTTPException(403, f"this needs the {role} role; {session.name} is a {session.role}")

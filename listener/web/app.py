"""The FastAPI app factory: the store and alert state are opened once and injected into every router."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from listener.config import Settings
from listener.store.base import Store
from listener.web.security import HEADERS, LoginLimiter, NotLoggedIn
from listener.web.users import Users


def create_app(settings: Settings, store: Store | None = None, users: Users | None = None,
               alert_state=None, secure_cookies: bool = False, corrections=None) -> FastAPI:
    """The app over `store` (tests pass a temporary one; `listener serve` the configured one).
    `secure_cookies` marks the session cookie Secure: set it when served behind TLS."""
    from listener.alerts.state import open_alert_state
    from listener.corrections import Corrections
    from listener.filters import UserInputError
    from listener.query import QuerySyntaxError
    from listener.runtime import open_settings_store, resolve_project
    from listener.store.base import QueryTooSlow, StoreUnavailable
    from listener.web import admin, api, api_mentions, mention_page, overview, pages, tokens_page

    app = FastAPI(title="listener", summary="Search mentions, see their volume, handle alerts, read the SEO report.")
    app.state.settings = settings
    app.state.project = resolve_project(settings)  # read and checked once, at start-up: a bad file stops here
    app.state.store = store if store is not None else open_settings_store(settings)
    app.state.users = users if users is not None else Users.open(settings)
    app.state.alert_state = alert_state if alert_state is not None else open_alert_state(settings)
    app.state.corrections = corrections if corrections is not None else Corrections.open(settings)
    app.state.limiter = LoginLimiter()
    app.state.secure_cookies = secure_cookies
    # autoescape is on for .html in Jinja2Templates; every scraped string goes through it.
    app.state.templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    from listener.safety import safe_link

    app.state.templates.env.globals["safe_link"] = safe_link  # the only way a scraped URL becomes a link

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")  # pages quote mentions: keep them out of caches
        return response

    @app.exception_handler(NotLoggedIn)
    async def to_login(request: Request, exc: NotLoggedIn):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(QuerySyntaxError)
    async def bad_query(request: Request, exc: QuerySyntaxError):
        return JSONResponse({"detail": f"q: {exc}"}, status_code=400)

    @app.exception_handler(UserInputError)
    async def bad_input(request: Request, exc: UserInputError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # The store's own errors carry one line that says what failed and how to fix it, never credentials, so the
    # reader gets that line instead of a bare 500: a runaway query is theirs to narrow (422), a store that
    # cannot be reached is the server's state (503, worth retrying).
    @app.exception_handler(QueryTooSlow)
    async def too_slow(request: Request, exc: QueryTooSlow):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    from fastapi.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    for module in (api, api_mentions, pages, overview, mention_page, admin, tokens_page):
        app.include_router(module.router)
    return app

"""Server-rendered pages: login, search, alerts (list and one alert), SEO report. Jinja2 autoescapes every value
they show. The overview, the mention page and the admin page have modules of their own."""

from __future__ import annotations

import html
import re

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from listener.safety import safe_link
from listener.search import search_store
from listener.web.api import request_filters, seo_rows, set_alert_status
from listener.web.charts import bar_chart
from listener.web.locale import formatter_for
from listener.web.security import COOKIE, check_csrf, page_session
from listener.web.users import SESSION_SECONDS, Session

router = APIRouter(tags=["pages"], include_in_schema=False)
_MARK = re.compile(r"(</?mark>)")


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """The store's snippet (escaped text with <mark> around matches) as (plain text, highlighted) pairs, so
    the template escapes every part itself and never marks the snippet as safe HTML."""
    parts, marked = [], False
    for piece in _MARK.split(snippet or ""):
        if piece in ("<mark>", "</mark>"):
            marked = piece == "<mark>"
        elif piece:
            parts.append((html.unescape(piece), marked))
    return parts


def render(request: Request, name: str, session: Session | None, **context):
    templates = request.app.state.templates
    project = request.app.state.project
    brands = [brand.name for brand in project.brands] if project is not None else []
    return templates.TemplateResponse(request, name, {"session": session, "safe_link": safe_link,
                                                      "fmt": formatter_for(request), "brands": brands, **context})


def page_filters(params):
    """The filters of a page's query string (the same names and checks as the API's)."""
    return request_filters(params.get("q", ""), params.getlist("brand"), params.getlist("source"),
                           params.getlist("lang"), params.getlist("sentiment"), params.getlist("topic"),
                           params.get("since"), params.get("until"), params.get("mixed") == "1")


def filter_params(params) -> list[tuple[str, str]]:
    """The query string's filter values that are set, to carry into links (export, next page, overview)."""
    keys = ("q", "brand", "source", "lang", "sentiment", "topic", "since", "until", "mixed", "tz")
    return [(key, value) for key in keys for value in params.getlist(key) if value]


@router.get("/login")
def login_form(request: Request, error: str | None = None):
    # A login form carries no session yet; SameSite=Lax on the session cookie and form-action 'self' in the
    # CSP keep other sites from posting it in a way that matters (login CSRF only logs a victim in as the attacker,
    # which the per-session CSRF token on every later form then confines).
    return render(request, "login.html", None, error=error)


@router.post("/login")
def login(request: Request, name: str = Form(...), password: str = Form(...)):
    limiter, client = request.app.state.limiter, request.client.host if request.client else "?"
    if limiter.blocked(name, client):
        return _too_many(request)
    session = request.app.state.users.login(name, password)
    if session is None:
        limiter.failed(name, client)
        response = render(request, "login.html", None, error="Wrong user name or password.")
        response.status_code = 401
        return response
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, session.token, max_age=SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=request.app.state.secure_cookies)
    return response


def _too_many(request: Request):
    response = render(request, "login.html", None, error="Too many failed logins; wait 15 minutes and try again.")
    response.status_code = 429
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    request.app.state.users.logout(session.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def search_page(request: Request, session: Session = Depends(page_session)):
    params = request.query_params
    error, result = None, None
    sort = "relevance" if params.get("sort") == "relevance" else "date"
    try:
        result = search_store(request.app.state.store, page_filters(params), sort=sort, limit=50,
                              cursor=params.get("cursor") or None)
    except ValueError as err:  # a query syntax error, a bad filter or a stale cursor: shown above the form
        error = str(err)
    return render(request, "search.html", session, params=params, result=result, error=error,
                  snippet_parts=snippet_parts, carried=filter_params(params), sort=sort)


@router.get("/alerts")
def alerts_page(request: Request, session: Session = Depends(page_session)):
    return render(request, "alerts.html", session, alerts=request.app.state.alert_state.list(None, 100))


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: int, session: Session = Depends(page_session)):
    """One alert: what was observed against what was expected, what drives it, what to answer first, its chart."""
    from datetime import datetime

    record = request.app.state.alert_state.get(alert_id)
    if record is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    details = record.details or {}
    chart = None
    series = details.get("chart") or {}
    if series.get("times"):
        points = [(datetime.fromisoformat(t), {"all": int(c)}) for t, c in zip(series["times"], series["counts"])]
        window = [datetime.fromisoformat(t) for t in series.get("window") or []]
        bands = [(window[0], window[1], "the alert window", None)] if len(window) == 2 else []
        chart = bar_chart(points, 3600, formatter_for(request), f"Mentions per hour before alert #{record.id}",
                          bands)
    return render(request, "alert.html", session, alert=record, details=details, chart=chart)


@router.post("/alerts/{alert_id}/{action}")
def alert_action(request: Request, alert_id: int, action: str, csrf: str = Form(""),
                 session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    status = {"ack": "acknowledged", "resolve": "resolved"}.get(action)
    if status is None:
        raise HTTPException(404, f"unknown alert action {action!r}: use ack or resolve")
    set_alert_status(request, session, alert_id, status)
    back = f"/alerts/{alert_id}" if request.query_params.get("back") == "alert" else "/alerts"
    return RedirectResponse(back, status_code=303)


@router.get("/seo")
def seo_page(request: Request, session: Session = Depends(page_session)):
    return render(request, "seo.html", session, rows=seo_rows(request))


"""The JSON API under /api/: the same library functions the CLI calls, over the app's injected store."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from listener.filters import build_filters, check_interval, check_tz
from listener.jsonable import to_jsonable
from listener.search import search_store
from listener.stats import share_of_voice, stats_of_store
from listener.store.base import Filters
from listener.web.security import api_session, check_csrf, require
from listener.web.users import Session

router = APIRouter(prefix="/api", tags=["api"])


def request_filters(q: str = "", brand: list[str] = Query([]), source: list[str] = Query([]),
                    lang: list[str] = Query([]), sentiment: list[str] = Query([]), topic: list[str] = Query([]),
                    since: str | None = None, until: str | None = None,
                    mixed: bool = Query(False, description="only mixed mentions (negative and positive both "
                                                           "likely, see listener.model.MIXED_MIN)")) -> Filters:
    """Filters from the query string, checked the way the CLI checks its options. Empty values (a form's blank
    field) mean no restriction, not "equal to nothing"."""
    def given(values):
        return [v for v in values if v.strip()]

    return build_filters(q, given(brand), given(source), given(lang), given(sentiment), given(topic),
                         since or None, until or None, None, None, False, mixed)


@router.get("/search")
def search(request: Request, filters: Filters = Depends(request_filters), sort: str = "date",
           limit: int = Query(20, ge=1, le=200), cursor: str | None = None,
           session: Session = Depends(api_session)) -> dict:
    if sort not in ("date", "relevance"):
        raise HTTPException(400, f"sort: expected date or relevance, got {sort!r}")
    return to_jsonable(search_store(request.app.state.store, filters, sort=sort, limit=limit, cursor=cursor))


@router.get("/stats")
def stats(request: Request, filters: Filters = Depends(request_filters), interval: str = "1d", tz: str = "UTC",
          top: int = Query(10, ge=1, le=100), session: Session = Depends(api_session)) -> dict:
    return to_jsonable(stats_of_store(request.app.state.store, filters, interval=check_interval(interval),
                                      tz=check_tz(tz), top=top))


def project_brands(request: Request) -> list[str] | None:
    """The project file's brands and competitors, in its order; None without a project."""
    project = request.app.state.project
    return [brand.name for brand in project.brands] if project is not None else None


@router.get("/share-of-voice")
def share_of_voice_api(request: Request, filters: Filters = Depends(request_filters),
                       session: Session = Depends(api_session)) -> list[dict]:
    """Mentions, share and negative share per brand of the project (competitors included)."""
    return to_jsonable(share_of_voice(request.app.state.store, filters, project_brands(request)))


@router.get("/export")
def export(request: Request, filters: Filters = Depends(request_filters), format: str = "jsonl",
           session: Session = Depends(api_session)):
    """Everything the filters select, streamed: `csv` (spreadsheet-safe cells, only http(s) links) or `jsonl`
    (re-importable with `listener ingest`)."""
    from listener.export import export_lines

    if format not in ("csv", "jsonl"):
        raise HTTPException(400, f"format: expected csv or jsonl, got {format!r}")
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson; charset=utf-8"
    chunks = export_lines(request.app.state.store.iter_mentions(filters), format)
    return StreamingResponse(chunks, media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="mentions.{format}"'})


@router.get("/alerts")
def alerts_list(request: Request, status: str | None = None, limit: int = Query(50, ge=1, le=500),
           session: Session = Depends(api_session)) -> list[dict]:
    from listener.alerts.state import STATUSES

    if status is not None and status not in STATUSES:
        raise HTTPException(400, f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    return [to_jsonable(record.summary()) for record in request.app.state.alert_state.list(status, limit)]


def set_alert_status(request: Request, session: Session, alert_id: int, status: str):
    require(session, "editor")
    try:
        return request.app.state.alert_state.set_status(alert_id, status)
    except LookupError as err:
        raise HTTPException(404, str(err)) from None


@router.post("/alerts/{alert_id}/ack")
def ack(request: Request, alert_id: int, x_csrf_token: str | None = Header(None),
        session: Session = Depends(api_session)) -> dict:
    check_csrf(session, x_csrf_token)
    return to_jsonable(set_alert_status(request, session, alert_id, "acknowledged").summary())


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: int, x_csrf_token: str | None = Header(None),
            session: Session = Depends(api_session)) -> dict:
    check_csrf(session, x_csrf_token)
    return to_jsonable(set_alert_status(request, session, alert_id, "resolved").summary())


@router.get("/alerts/{alert_id}")
def alert_detail(request: Request, alert_id: int, session: Session = Depends(api_session)) -> dict:
    """One alert with its explanation (baseline, drivers, words, mentions to answer first, chart series)."""
    record = request.app.state.alert_state.get(alert_id)
    if record is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    return to_jsonable(record)


def seo_rows(request: Request) -> list:
    """The outrank report for the project's questions; empty when there is no project or no questions."""
    from listener.seo.history import RankHistory
    from listener.seo.questions import questions_of
    from listener.seo.report import outrank_report

    settings = request.app.state.settings
    project = request.app.state.project
    questions = questions_of(project) if project is not None else []
    if not questions:
        return []
    with RankHistory.open(settings) as history:
        return outrank_report(questions, history, request.app.state.store)


@router.get("/seo/report")
def seo_report(request: Request, session: Session = Depends(api_session)) -> list[dict]:
    return to_jsonable(seo_rows(request))

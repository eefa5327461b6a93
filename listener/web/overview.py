"""The overview page: volume and sentiment over time (alert windows shaded, spikes marked), the topic, source,
language and author breakdowns, and share of voice against the project's competitors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Request

from listener.filters import check_interval
from listener.stats import share_of_voice, stats_of_store
from listener.store.base import INTERVALS
from listener.web.api import project_brands
from listener.web.charts import bar_chart
from listener.web.locale import formatter_for
from listener.web.pages import filter_params, page_filters, render
from listener.web.security import page_session
from listener.web.users import Session

router = APIRouter(tags=["pages"], include_in_schema=False)
#: the overview's default range when none is given: a brand manager's usual look back
DEFAULT_SINCE = "30d"
MAX_BUCKETS = 2000  # bars in one chart; more would be thinner than a pixel


def _interval(since: datetime | None, until: datetime | None, asked: str | None) -> str:
    """The bucket size asked for, else one that gives a readable number of bars for the range."""
    if asked:
        return check_interval(asked)
    span = ((until or datetime.now(timezone.utc)) - since) if since else timedelta(days=30)
    for name in ("1h", "3h", "6h", "12h"):
        if span / timedelta(seconds=INTERVALS[name]) <= 120:
            return name
    return "1d"


@router.get("/overview")
def overview_page(request: Request, session: Session = Depends(page_session)):
    params = request.query_params
    store = request.app.state.store
    error, stats, chart, voices = None, None, None, []
    try:
        if "since" not in params:
            params = type(params)([*params.multi_items(), ("since", DEFAULT_SINCE)])
        filters = page_filters(params)
        interval = _interval(filters.since, filters.until, params.get("interval"))
        if filters.since and ((filters.until or datetime.now(timezone.utc)) - filters.since).total_seconds() \
                / INTERVALS[interval] > MAX_BUCKETS:
            raise ValueError(f"interval: {interval} gives more than {MAX_BUCKETS} bars for this range; "
                             "choose a longer interval or a shorter range")
        # Only what the page shows: no domain breakdown, no star-rating agreement (the API's /stats has both).
        fmt = formatter_for(request)
        stats = stats_of_store(store, filters, interval=interval, tz=fmt.tz, top=10, agreement=False,
                               fields=("sentiment", "topic", "source", "lang", "author"))
        alerts = [a for a in request.app.state.alert_state.list(None, 200)
                  if not filters.brands or a.brand in filters.brands]
        bands = [(a.window_start, a.window_end, f"alert #{a.id}: {a.title}", f"/alerts/{a.id}") for a in alerts]
        series = [(point["start"], {k: v for k, v in point.items() if k != "start"}) for point in stats["timeseries"]]
        chart = bar_chart(series, INTERVALS[interval], fmt,
                          f"Mentions per {interval} by sentiment", bands)
        voices = share_of_voice(store, filters, project_brands(request))
    except ValueError as err:
        error = str(err)
    return render(request, "overview.html", session, params=params, stats=stats, chart=chart, voices=voices,
                  error=error, carried=filter_params(params), intervals=list(INTERVALS))

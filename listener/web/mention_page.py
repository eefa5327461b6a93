"""The mention page: one mention in its thread, and the form with which an editor corrects its sentiment and
topics (stored for the next `listener model train`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from listener.threads import thread_of
from listener.web.api_mentions import correct, mention_or_404
from listener.web.pages import render
from listener.web.security import check_csrf, page_session
from listener.web.users import Session

router = APIRouter(tags=["pages"], include_in_schema=False)


def topic_choices(request: Request, current: list[str]) -> list[str]:
    """The topics an editor can pick: the built-in taxonomy, the project's own, and whatever the mention has."""
    from listener.nlp.data import load_taxonomy

    labels = [t.label for t in load_taxonomy()]
    project = request.app.state.project
    if project is not None:
        labels += [t.label for t in project.topics]
    return list(dict.fromkeys(labels + list(current)))


@router.get("/mentions/{mention_id}")
def mention_view(request: Request, mention_id: str, session: Session = Depends(page_session)):
    mention = mention_or_404(request, mention_id)
    thread = thread_of(request.app.state.store, mention)
    return render(request, "mention.html", session, mention=mention, thread=thread,
                  correction=request.app.state.corrections.get(mention_id),
                  topics=topic_choices(request, mention.topics), saved=request.query_params.get("saved") == "1")


@router.post("/mentions/{mention_id}/correct")
async def mention_correct(request: Request, mention_id: str, csrf: str = Form(""), sentiment: str = Form(""),
                          session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    form = await request.form()
    # The form always sends its topic checkboxes' marker, so "no box ticked" means "no topics", not "unchanged".
    topics = form.getlist("topic") if form.get("topics_shown") else None
    correct(request, session, mention_id, sentiment or None, topics)
    return RedirectResponse(f"/mentions/{mention_id}?saved=1", status_code=303)

"""The API of one mention: the mention with its thread, and people's corrections of sentiment and topics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from pydantic import BaseModel, Field

from listener.corrections import CorrectionError
from listener.jsonable import to_jsonable
from listener.threads import Node, thread_of
from listener.web.security import api_session, check_csrf, require
from listener.web.users import Session

router = APIRouter(prefix="/api", tags=["mentions"])


class CorrectionIn(BaseModel):
    """A person's reading of a mention; leave a field out to keep what the model said."""

    sentiment: str | None = Field(None, description="negative, neutral or positive")
    topics: list[str] | None = Field(None, description="the mention's topics (replaces the model's)")


def mention_or_404(request: Request, mention_id: str):
    mention = request.app.state.store.get(mention_id)
    if mention is None:
        raise HTTPException(404, f"no mention with id {mention_id!r}")
    return mention


def _node(node: Node) -> dict:
    return {"mention": to_jsonable(node.mention), "replies": [_node(child) for child in node.replies]}


@router.get("/mentions/{mention_id}")
def mention(request: Request, mention_id: str, session: Session = Depends(api_session)) -> dict:
    """The mention, its conversation as parents and replies (as the store keeps them), and its correction."""
    found = mention_or_404(request, mention_id)
    thread = thread_of(request.app.state.store, found)
    correction = request.app.state.corrections.get(mention_id)
    return {"mention": to_jsonable(found), "thread": [_node(root) for root in thread.roots],
            "thread_size": thread.size, "thread_truncated": thread.truncated,
            "correction": to_jsonable(correction) if correction else None}


def correct(request: Request, session: Session, mention_id: str, sentiment: str | None, topics: list[str] | None):
    """Record a correction (editors and admins); the API and the mention page's form both come here."""
    require(session, "editor")
    try:
        return request.app.state.corrections.record(request.app.state.store, mention_id, session.name,
                                                    sentiment=sentiment, topics=topics)
    except CorrectionError as err:
        raise HTTPException(400, str(err)) from None
    except LookupError as err:
        raise HTTPException(404, str(err)) from None


@router.post("/mentions/{mention_id}/correction")
def correction(request: Request, mention_id: str, body: CorrectionIn, x_csrf_token: str | None = Header(None),
               session: Session = Depends(api_session)) -> dict:
    """Correct a mention's sentiment and/or topics. Stored for the next `listener model train` (see
    `listener corrections export`) and written into the mention at once."""
    check_csrf(session, x_csrf_token)
    stored, updated = correct(request, session, mention_id, body.sentiment, body.topics)
    return {"correction": to_jsonable(stored), "mention": to_jsonable(updated)}


@router.get("/corrections")
def corrections(request: Request, limit: int = Query(100, ge=1, le=1000),
                session: Session = Depends(api_session)) -> list[dict]:
    """The latest corrections, newest first."""
    return [to_jsonable(c) for c in request.app.state.corrections.list(limit)]

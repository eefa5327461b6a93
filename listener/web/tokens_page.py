"""The "API tokens" page: every user (viewer, editor or admin) makes, lists and revokes their OWN tokens for
scripts. A new token is shown once, in the response to the form that made it; afterwards only its first
characters (`TokenInfo.prefix`), its label and when it was made and last used. Admins revoke anyone's on
/admin (listener.web.admin).

Only a logged-in browser session reaches these routes (page_session reads the cookie, never a bearer token), so
a token cannot mint more tokens, and every form carries the session's CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from listener.web.pages import render
from listener.web.security import check_csrf, page_session
from listener.web.users import Session, UserError

router = APIRouter(prefix="/tokens", tags=["pages"], include_in_schema=False)


def _page(request: Request, session: Session, status: int = 200, **context):
    tokens = request.app.state.users.tokens(session.name)
    response = render(request, "tokens.html", session, tokens=tokens, **context)
    response.status_code = status
    return response


@router.get("")
def tokens_page(request: Request, session: Session = Depends(page_session)):
    return _page(request, session)


@router.post("")
def add_own_token(request: Request, label: str = Form(""), csrf: str = Form(""),
                  session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    try:
        token_id, token = request.app.state.users.add_token(session.name, label)
    except UserError as err:
        return _page(request, session, 400, error=str(err))
    # Rendered straight into this response (never put in a URL, a redirect or a log): the only time it is shown.
    return _page(request, session, new_token=token, new_token_id=token_id)


@router.post("/{token_id}/revoke")
def revoke_own_token(request: Request, token_id: int, csrf: str = Form(""),
                     session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    try:
        # another user's token is "no such token" here: its existence is not theirs to learn
        request.app.state.users.revoke_token(token_id, name=session.name)
    except UserError:
        raise HTTPException(404, f"you have no API token #{token_id}") from None
    return RedirectResponse("/tokens", status_code=303)

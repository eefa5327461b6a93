"""The admin page: users and their roles, and API tokens for scripts (admins only). A new token is shown once,
on the page that made it; only its hash is kept."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from listener.web.pages import render
from listener.web.security import check_csrf, page_session, require
from listener.web.users import ROLES, Session, UserError

router = APIRouter(prefix="/admin", tags=["pages"], include_in_schema=False)


def _page(request: Request, session: Session, **context):
    users = request.app.state.users
    return render(request, "admin.html", session, users=users.list(), tokens=users.tokens(), roles=ROLES, **context)


@router.get("")
def admin_page(request: Request, session: Session = Depends(page_session)):
    require(session, "admin")
    return _page(request, session)


@router.post("/users")
def add_user(request: Request, name: str = Form(...), role: str = Form("viewer"), password: str = Form(...),
             csrf: str = Form(""), session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    require(session, "admin")
    try:
        request.app.state.users.add(name, password, role)
    except UserError as err:
        response = _page(request, session, error=str(err))
        response.status_code = 400
        return response
    return RedirectResponse("/admin", status_code=303)


@router.post("/users/{name}/remove")
def remove_user(request: Request, name: str, csrf: str = Form(""), session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    require(session, "admin")
    if name == session.name:
        raise HTTPException(400, "you cannot remove yourself; ask another admin or use `listener user remove`")
    try:
        request.app.state.users.remove(name)
    except UserError as err:
        raise HTTPException(404, str(err)) from None
    return RedirectResponse("/admin", status_code=303)


@router.post("/tokens")
def add_token(request: Request, name: str = Form(...), label: str = Form(""), csrf: str = Form(""),
              session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    require(session, "admin")
    try:
        token_id, token = request.app.state.users.add_token(name, label)
    except UserError as err:
        raise HTTPException(400, str(err)) from None
    # Rendered straight into this response (never put in a URL or a log): the only time it is shown.
    return _page(request, session, new_token=token, new_token_id=token_id, new_token_user=name)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf: str = Form(""), session: Session = Depends(page_session)):
    check_csrf(session, csrf)
    require(session, "admin")
    try:
        request.app.state.users.revoke_token(token_id)
    except UserError as err:
        raise HTTPException(404, str(err)) from None
    return RedirectResponse("/admin", status_code=303)

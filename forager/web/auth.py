"""Who may see the viewer: a token of any scope, as ``Authorization: Bearer`` or through the login
form at ``/ui/login``, which keeps it in an HttpOnly, SameSite=Strict cookie limited to ``/ui``.
``FORAGER_VIEWER_PUBLIC=true`` opens the pages without one (only on a trusted network)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from forager.config import get_settings
from forager.store import tokens
from forager.web.templating import page

router = APIRouter()

COOKIE = "forager_viewer"
COOKIE_MAX_AGE = 12 * 3600
UNKNOWN_TOKEN = "That token is unknown or revoked."


def _presented_token(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return request.cookies.get(COOKIE)


def safe_next(target: str) -> str:
    """Where to go after signing in: a viewer page of this server, nothing else."""
    return target if target.startswith("/ui") and "//" not in target and "\\" not in target else "/ui/"


def denied(request: Request) -> HTMLResponse | None:
    """None when the viewer may be shown; else the sign-in page (401)."""
    if get_settings().viewer_public:
        return None
    token = _presented_token(request)
    if token and tokens.verify(token) is not None:
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return page("login.html", 401, title="Sign in", next=safe_next(target), signed_in=False,
                error=UNKNOWN_TOKEN if token else "")


@router.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
def ui_login_form(next: str = Query("/ui/", max_length=2000)) -> HTMLResponse:
    return page("login.html", title="Sign in", next=safe_next(next), signed_in=False, error="")


@router.post("/ui/login", include_in_schema=False)
async def ui_login(request: Request) -> Response:
    """The form posts ``token`` (and ``next``); a valid token is kept in an HttpOnly cookie."""
    body = await request.body()
    form = parse_qs(body[:8192].decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or ["/ui/"])[0])
    if tokens.verify(token) is None:
        return page("login.html", 401, title="Sign in", next=target, signed_in=False, error=UNKNOWN_TOKEN)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path="/ui", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.post("/ui/logout", include_in_schema=False)
def ui_logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response

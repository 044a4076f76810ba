"""``hub web``: the workspace for stewards, auditors, programme managers and agency operators.

Server-rendered pages (FastAPI + Jinja2): every page works with plain HTML forms and links, so it needs no
JavaScript, no CDN and nothing from the internet, and a keyboard and a screen reader get the same page as a
mouse. Charts are SVG drawn on the server (``web.charts``), each with its numbers in a table beside it.
The same app mounts into Airflow's api-server as a plugin (``web.plugin``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.sessions import SessionMiddleware

from schemas.errors import HubError
from schemas.settings import settings
from web import auth, labels

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["ROLE_LABELS"] = auth.ROLE_LABELS
templates.env.filters["human"] = labels.human
templates.env.filters["attribute"] = labels.attribute
templates.env.filters["code"] = labels.code
templates.env.filters["pathquote"] = lambda value: quote(str(value), safe="/")  # ids inside a URL path
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'self'; base-uri 'none'")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the signed-in user (if any) and the session's CSRF token for its forms."""
    user = context.pop("user", None)
    return templates.TemplateResponse(
        request, name, {"user": user, "csrf": auth.csrf_token(request), **context}, status_code=status_code
    )


class _Headers(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")  # pages name people: no shared caches
        return response


def session_secret() -> str:
    """``HUB_WEB_SECRET``, else a random key kept in ``.hub/web-secret`` (readable by its owner only)."""
    configured = settings().web_secret
    if configured:
        return configured
    path = settings().home_dir / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(root_path: str = "", database_url: str | None = None) -> FastAPI:
    """The workspace app; ``root_path`` is its prefix when mounted under another app (``/hub`` in Airflow).

    ``database_url``: the registry to serve (default: the hub's, ``HUB_DATABASE_URL`` or the embedded one).
    """
    from web import auditor, manager, operator, steward

    app = FastAPI(title="Family hub workspace", docs_url=None, redoc_url=None, openapi_url=None,
                  root_path=root_path)
    app.state.database_url = database_url
    app.add_middleware(_Headers)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(),
        session_cookie="hub_session",
        max_age=settings().web_session_hours * 3600,
        same_site="strict",
        https_only=settings().web_secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (steward, auditor, manager, operator):
        app.include_router(module.router)
    _add_auth_routes(app)
    _add_error_pages(app)
    return app


def _add_auth_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        try:
            user = auth.current_user(request)
        except auth.NotSignedInError:
            return RedirectResponse(_url(request, "/login"), status_code=303)
        return RedirectResponse(_url(request, auth.HOME[user.role]), status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "") -> HTMLResponse:
        return render(request, "login.html", next=_safe_next(next))

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request, username: str = Form(...), password: str = Form(...),
                    next: str = Form("")) -> Response:
        await auth.check_csrf(request)
        user = auth.check_password(request, username.strip().lower(), password)
        if user is None:
            return render(request, "login.html", status_code=401, next=_safe_next(next),
                          error="Неверное имя или пароль (после пяти ошибок вход закрыт на 15 минут).")
        auth.sign_in(request, user)
        return RedirectResponse(_url(request, _safe_next(next) or auth.HOME[user.role]), status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await auth.check_csrf(request)
        request.session.clear()
        return RedirectResponse(_url(request, "/login"), status_code=303)


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(auth.NotSignedInError)
    async def not_signed_in(request: Request, _exc: auth.NotSignedInError) -> Response:
        here = request.url.path.removeprefix(request.scope.get("root_path", ""))
        target = _url(request, "/login") + ("?next=" + quote(here) if request.method == "GET" else "")
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(auth.ForbiddenError)
    async def forbidden(request: Request, exc: auth.ForbiddenError) -> Response:
        return render(request, "error.html", status_code=403, title="Нет доступа", message=str(exc))

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        # A HubError's message is written for operators and never quotes a personal value.
        return render(request, "error.html", status_code=400, title="Не удалось выполнить", message=str(exc))


def _safe_next(target: str) -> str:
    """Only a path of this app: never another origin (``//evil``, ``https://…``) or a backslash trick."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and "://" not in target:
        return target
    return ""


def _url(request: Request, path: str) -> str:
    """A path of this app, under the prefix ``url_for`` uses too (where Airflow or another app mounted it)."""
    return str(request.scope.get("app_root_path", request.scope.get("root_path", ""))) + path

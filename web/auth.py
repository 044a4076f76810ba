"""Sign-in, roles and CSRF for the workspace.

* **Passwords**: Argon2 hashes through pwdlib (the library FastAPI's own docs recommend); a stale hash is
  rehashed at the next sign-in. Five failures lock a name for 15 minutes (``registry.web_users``).
* **Sessions**: Starlette's signed cookie (itsdangerous), ``HttpOnly``, ``SameSite=Strict``, ``Secure`` when
  ``HUB_WEB_SECURE_COOKIES``; it holds the user name and a CSRF token only. Every request re-reads the user,
  so a user switched off or given another role loses the old pages at once.
* **CSRF**: every form carries the session's token; a POST without it, or with another one, is refused
  (403) before anything runs. ``SameSite=Strict`` is the second wall.
* **Roles**: each page names the roles that may open it (``require``); any other signed-in role gets 403.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from pwdlib import PasswordHash

from registry import web_users
from web.db import registry

_HASHER = PasswordHash.recommended()
# Verifying against this when the name is unknown keeps the answer as slow as for a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
HOME = {"steward": "/steward", "auditor": "/auditor", "manager": "/manager", "operator": "/operator"}
ROLE_LABELS = {
    "steward": "специалист по качеству данных",
    "auditor": "аудитор",
    "manager": "руководитель программы",
    "operator": "оператор ведомства",
}


@dataclass(frozen=True)
class User:
    username: str
    role: str
    agency: str | None

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"web:{self.username}"


class NotSignedInError(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


class ForbiddenError(Exception):
    """Signed in, but this role may not open this page (or the form's CSRF token is wrong)."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(request: Request, username: str, password: str) -> User | None:
    """The user when the name is active, not locked and the password is right; counts a failure."""
    with registry(request) as conn:
        found = web_users.get_user(conn, username)
        if found is None or not found.active or found.locked:
            _HASHER.verify(password, _DUMMY_HASH)
            return None
        ok, fresher = _HASHER.verify_and_update(password, found.password_hash)
        web_users.record_sign_in(conn, username, ok)
        if ok and fresher:
            web_users.rehash(conn, username, fresher)
    return User(found.username, found.role, found.agency) if ok else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose form does not carry the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    form = await request.form()
    sent, expected = form.get("csrf"), request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise ForbiddenError("Форма устарела или подделана (нет верного CSRF-токена): обновите страницу.")


def current_user(request: Request) -> User:
    name = request.session.get("user")
    if not isinstance(name, str):
        raise NotSignedInError
    with registry(request) as conn:
        found = web_users.get_user(conn, name)
    if found is None or not found.active:
        request.session.clear()
        raise NotSignedInError
    return User(found.username, found.role, found.agency)


def require(*roles: str) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency: the signed-in user when their role is one of ``roles`` (and the CSRF token fits)."""

    async def dependency(request: Request, _csrf: None = Depends(check_csrf)) -> User:
        user = current_user(request)
        if user.role not in roles:
            raise ForbiddenError(f"Роль «{ROLE_LABELS[user.role]}» не даёт доступа к этой странице.")
        return user

    return dependency


def sign_in(request: Request, user: User) -> None:
    """A fresh session for ``user`` (nothing of the signed-out session survives, the CSRF token neither)."""
    request.session.clear()
    request.session["user"] = user.username
    request.session["csrf"] = secrets.token_urlsafe(32)

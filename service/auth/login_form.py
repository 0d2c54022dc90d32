"""The sign-in form's token, against login CSRF: another site's page that posts its own
credentials to /review/login would otherwise sign the reviewer in as the attacker, whose queue
then receives what the reviewer types. The sign-in page sets a random token in a SameSite=Strict
cookie and in the form (double submit); a sign-in is taken only when both are present and equal,
which a page on another site can neither read nor set (OWASP CSRF Cheat Sheet, "Login CSRF")."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

LOGIN_COOKIE = "review_login"
_PATH = "/review/login"
_LIFETIME_S = 3600


def login_form_token(request: Request) -> str:
    """The token of this browser's sign-in form: the one it already holds, or a new one."""
    held = request.cookies.get(LOGIN_COOKIE)
    return held if held and len(held) <= 64 else secrets.token_urlsafe(24)


def set_login_cookie(answer: Response, token: str, secure: bool) -> None:
    answer.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=_LIFETIME_S,
        path=_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def login_form_posted(request: Request, field: str | None) -> bool:
    held = request.cookies.get(LOGIN_COOKIE)
    return bool(held and field) and secrets.compare_digest(str(held), str(field))

"""Signing in to the clinical reviewers' workbench and out of it (service/auth/reviewers.py):
accounts from REVIEWERS_FILE, the sign-in form's own token against login CSRF, attempts
throttled per username and per network before any password is checked, and a session cookie
(HttpOnly, SameSite=Strict, Secure over https) whose token is stored only as its hash."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from service.api.review_pages import (
    HEADERS,
    PAGES,
    page,
    posted_form,
    secure,
    signed_in,
    to_sign_in,
)
from service.auth.client_address import client_address
from service.auth.login_form import login_form_posted, login_form_token, set_login_cookie
from service.auth.login_throttle import Attempt
from service.auth.password_checks import Busy
from service.auth.reviewers import COOKIE, SESSION_LIFETIME, close_session, open_session, same_token
from service.runtime import Runtime, get_runtime

router = APIRouter(prefix="/review", include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_TOO_MANY = (
    "Too many sign-in attempts for this username or from this network. "
    "Please wait {wait}, then sign in again."
)
_BUSY = "Signing in is busy just now. Please wait {wait}, then sign in again."


@router.get("/static/review.css")
async def stylesheet() -> Response:
    return FileResponse(PAGES / "review.css", media_type="text/css")


@router.get("/login")
async def login_page(request: Request, runtime: RuntimeDep) -> Response:
    if await signed_in(request, runtime):
        return RedirectResponse("/review", status_code=303)
    return _login_page(request, runtime)


def _login_page(
    request: Request, runtime: Runtime, status_code: int = 200, **values: Any
) -> Response:
    token = login_form_token(request)
    answer = page("login.html", status_code, reviewer=None, csrf=token, **values)
    set_login_cookie(answer, token, secure(runtime))
    return answer


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep) -> Response:
    form = await posted_form(request)
    if not login_form_posted(request, form.get("csrf")):
        problem = "This sign-in did not come from this page; please sign in again."
        return _login_page(request, runtime, 403, problem=problem)
    username, password = form.get("username", ""), form.get("password", "")
    attempt = runtime.login_throttle.attempt(
        username, client_address(request, runtime.trusted_proxies)
    )
    # Counted, or refused, before any password is checked: a refusal costs no Argon2.
    if wait_s := await runtime.login_throttle.admit(attempt):
        return _come_back(request, runtime, 429, wait_s, _TOO_MANY)
    found = await runtime.password_checks.check(username, password)
    if isinstance(found, Busy):
        await runtime.login_throttle.refund(attempt)
        return _come_back(request, runtime, 503, found.retry_after_s, _BUSY)
    if found is None:
        # The same words for an unknown name and a wrong password.
        problem = "That username and password do not match."
        return _login_page(request, runtime, 401, problem=problem)
    return await _signed_in_as(runtime, found.username, attempt)


def _come_back(
    request: Request, runtime: Runtime, status_code: int, wait_s: int, words: str
) -> Response:
    problem = words.format(wait=_duration(wait_s))
    answer = _login_page(request, runtime, status_code, problem=problem)
    answer.headers["Retry-After"] = str(wait_s)
    return answer


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


async def _signed_in_as(runtime: Runtime, reviewer: str, attempt: Attempt) -> Response:
    await runtime.login_throttle.signed_in(attempt)
    token, _ = await runtime.committer.commit(
        lambda session: open_session(session, reviewer, runtime.clock.now())
    )
    answer = RedirectResponse("/review", status_code=303, headers=HEADERS)
    answer.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/review",
        secure=secure(runtime),
        httponly=True,
        samesite="strict",
    )
    return answer


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep) -> Response:
    who = await signed_in(request, runtime)
    form = await posted_form(request)
    if who is not None and same_token(form.get("csrf"), who.csrf):
        token = request.cookies.get(COOKIE)
        await runtime.committer.commit(lambda session: close_session(session, token))
    answer = to_sign_in()
    answer.delete_cookie(COOKIE, path="/review")
    return answer

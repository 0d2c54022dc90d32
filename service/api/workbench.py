"""The clinical reviewers' workbench, `/review`: sign in, the queue of open prior-authorization
requests by due time, a case with its evidence, and the decision (approve, deny, ask for more).

Server-rendered pages (Jinja2, autoescaped), no script. Only a signed-in reviewer sees a case
(service/auth/reviewers.py): anyone else is sent to the sign-in page, and a case id not known
reads the same to a reviewer as any other missing page. Every POST carries the session's form
token. Pages with PHI are not cached and may not be framed. Each case opened and each decision is
audited under the reviewer's name; a decision is committed, with its ClaimResponse, its audit
entry and the events of the submitter's Subscriptions (the notification outbox,
service/pas/outbox.py), before the page answers, and those are sent at once. A decision
is a conditional write (service/storage/prior_auth.py): of two reviewers deciding a case at once,
one decides it, the other gets the case again with who decided it and when (409), and only the
decision that was written is notified."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import insert
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from service.auth.client_address import client_address
from service.auth.login_form import login_form_posted, login_form_token, set_login_cookie
from service.auth.login_throttle import Attempt
from service.auth.password_checks import Busy
from service.auth.reviewers import (
    COOKIE,
    SESSION_LIFETIME,
    SignedIn,
    close_session,
    find_session,
    open_session,
    same_token,
)
from service.dtr.access_log import access_row
from service.errors import BadRequest, Conflict, NotFound, UnprocessableEntity
from service.pas.casefile import case_view
from service.pas.decisions import Choice, decide
from service.pas.outbox import add_decision_events
from service.runtime import Runtime, get_runtime
from service.settings import PROJECT_ROOT
from service.storage.prior_auth import (
    decisions_of,
    recently_decided,
    record_decision,
    request_for_review,
    review_queue,
)
from service.storage.tables import DtrAccess

router = APIRouter(prefix="/review", include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PAGES = PROJECT_ROOT / "service" / "web" / "review"
_TEMPLATES = Environment(
    loader=FileSystemLoader(PAGES), autoescape=select_autoescape(["html"]), auto_reload=False
)
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
WORDS = {
    "outcome_words": {
        "criteria-met": "meets the criteria",
        "criteria-not-met": "does not meet the criteria",
        "incomplete": "incomplete",
    },
    "state_words": {
        "pended": "pended for review",
        "more-info": "waiting for more information",
        "approved": "approved",
        "denied": "denied",
        "cancelled": "cancelled",
    },
    "action_words": {
        "pend": "pended",
        "approve": "approved",
        "deny": "denied",
        "more-info": "asked for more information",
        "cancel": "cancelled by the submitter",
        "update": "updated by the submitter",
        "replace": "replaced by the submitter",
    },
}


def _page(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(name).render(**WORDS, **values)
    return HTMLResponse(html, status_code, headers=_HEADERS)


async def _form(request: Request) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    return dict(pairs)


async def _signed_in(request: Request, runtime: Runtime) -> SignedIn | None:
    token = request.cookies.get(COOKIE)

    def look() -> SignedIn | None:
        with runtime.sessions() as session:
            return find_session(session, token, runtime.clock.now())

    return await run_in_threadpool(look) if token else None


def _to_sign_in() -> Response:
    return RedirectResponse("/review/login", status_code=303, headers=_HEADERS)


def _audit(runtime: Runtime, who: SignedIn, action: str, patient: str | None, case: str) -> None:
    runtime.audit.store(
        DtrAccess, _access(runtime, who.reviewer, action, patient, case, runtime.clock.now())
    )


def _access(
    runtime: Runtime, reviewer: str, action: str, patient: str | None, case: str, at: datetime
) -> dict[str, Any]:
    return access_row(runtime.audit_key, at, f"reviewer:{reviewer}", action, patient, case)


@router.get("/static/review.css")
async def stylesheet() -> Response:
    return FileResponse(PAGES / "review.css", media_type="text/css")


@router.get("/login")
async def login_page(request: Request, runtime: RuntimeDep) -> Response:
    if await _signed_in(request, runtime):
        return RedirectResponse("/review", status_code=303)
    return _login_page(request, runtime)


def _login_page(
    request: Request, runtime: Runtime, status_code: int = 200, **values: Any
) -> Response:
    token = login_form_token(request)
    answer = _page("login.html", status_code, reviewer=None, csrf=token, **values)
    set_login_cookie(answer, token, _secure(runtime))
    return answer


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.base_url.startswith("https://")


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep) -> Response:
    form = await _form(request)
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


_TOO_MANY = (
    "Too many sign-in attempts for this username or from this network. "
    "Please wait {wait}, then sign in again."
)
_BUSY = "Signing in is busy just now. Please wait {wait}, then sign in again."


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
    answer = RedirectResponse("/review", status_code=303, headers=_HEADERS)
    answer.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/review",
        secure=_secure(runtime),
        httponly=True,
        samesite="strict",
    )
    return answer


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep) -> Response:
    who = await _signed_in(request, runtime)
    form = await _form(request)
    if who is not None and same_token(form.get("csrf"), who.csrf):
        token = request.cookies.get(COOKIE)
        await runtime.committer.commit(lambda session: close_session(session, token))
    answer = _to_sign_in()
    answer.delete_cookie(COOKIE, path="/review")
    return answer


@router.get("")
async def queue(request: Request, runtime: RuntimeDep) -> Response:
    who = await _signed_in(request, runtime)
    if who is None:
        return _to_sign_in()
    now = runtime.clock.now()

    def load() -> tuple[list[Any], list[Any]]:
        with runtime.sessions() as session:
            views = [
                [
                    case_view(row, runtime.policy_registry.by_id(row.policy_id or ""), [], now)
                    for row in rows
                ]
                for rows in (review_queue(session), recently_decided(session))
            ]
            return views[0], views[1]

    open_cases, decided = await run_in_threadpool(load)
    return _page(
        "queue.html", reviewer=who.reviewer, csrf=who.csrf, open=open_cases, decided=decided
    )


@router.get("/cases/{case_id}")
async def case(case_id: str, request: Request, runtime: RuntimeDep) -> Response:
    who = await _signed_in(request, runtime)
    if who is None:
        return _to_sign_in()
    return await _case_page(runtime, who, case_id)


async def _case_page(
    runtime: Runtime, who: SignedIn, case_id: str, problem: str | None = None, status: int = 422
) -> Response:
    def load() -> Any:
        with runtime.sessions() as session:
            row = request_for_review(session, case_id)
            if row is None:
                return None
            policy = runtime.policy_registry.by_id(row.policy_id or "")
            return case_view(
                row, policy, decisions_of(session, row.id), runtime.clock.now()
            ), row.patient_id

    found = await run_in_threadpool(load)
    if found is None:
        raise NotFound(f"no case {case_id!r}")
    view, patient = found
    _audit(runtime, who, "review-case", patient, view.id)
    return _page(
        "case.html",
        status if problem else 200,
        reviewer=who.reviewer,
        csrf=who.csrf,
        case=view,
        problem=problem,
    )


@router.post("/cases/{case_id}")
async def decision(case_id: str, request: Request, runtime: RuntimeDep) -> Response:
    who = await _signed_in(request, runtime)
    if who is None:
        return _to_sign_in()
    form = await _form(request)
    if not same_token(form.get("csrf"), who.csrf):
        raise BadRequest("the form is stale: open the case again")
    try:
        choice = Choice(
            action=form.get("action", ""),
            note=form.get("note", "")[:2000],
            reason=form.get("reason", ""),
            start=_day(form.get("start")),
            end=_day(form.get("end")),
        )
        await runtime.committer.commit(
            _decide(runtime, case_id, choice, who.reviewer, runtime.clock.now())
        )
    except Conflict as decided_first:
        return await _case_page(runtime, who, case_id, decided_first.message, 409)
    except UnprocessableEntity as problem:
        return await _case_page(runtime, who, case_id, problem.message)
    # Its notifications were committed with it (the outbox); the sender looks now.
    runtime.dispatcher.wake()
    return RedirectResponse(f"/review/cases/{case_id}", status_code=303, headers=_HEADERS)


def _decide(
    runtime: Runtime, case_id: str, choice: Choice, reviewer: str, now: datetime
) -> Callable[[Session], None]:
    """The decision, its audit entry and its notification events, in one transaction;
    `Conflict` when it was decided first."""

    def work(session: Session) -> None:
        row = request_for_review(session, case_id)
        if row is None:
            raise NotFound(f"no case {case_id!r}")
        policy = runtime.policy_registry.by_id(row.policy_id or "")
        base = runtime.settings.base_url.rstrip("/")
        contact = runtime.settings.reconsideration_contact
        decided = decide(row, policy, choice, reviewer, base, now, reconsideration=contact)
        record_decision(session, row.id, decided)
        add_decision_events(session, row.id, now)
        action = f"review-{choice.action}"
        access = _access(runtime, reviewer, action, row.patient_id, row.id, now)
        session.execute(insert(DtrAccess), [access])

    return work


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UnprocessableEntity(f"{text!r} is not a date") from None

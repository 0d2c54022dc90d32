"""The clinical reviewers' workbench, `/review`: the queue of prior-authorization requests (who,
what, when due; searched and filtered by GET parameters), a case with its evidence, and the
decision (approve, deny, ask for more). Signing in is service/api/review_login.py.

Server-rendered pages (Jinja2, autoescaped), no script. Only a signed-in reviewer sees a case
(service/auth/reviewers.py): anyone else is sent to the sign-in page, and a case id not known
reads the same to a reviewer as any other missing page. Every POST carries the session's form
token. A final decision (approve, deny) is confirmed first: the case's form posts to a page that
restates it (service/pas/confirmation.py), whose form posts the same choice to `/confirm`.
Each case opened and each decision is audited under the reviewer's name (`reviewer_action`); a
decision is committed, with its ClaimResponse, its audit entry and the events of the
submitter's Subscriptions (the notification outbox, service/pas/outbox.py), before the page
answers, and those are sent at once. A decision is a conditional write
(service/storage/prior_auth.py): of two reviewers deciding a case at once, one decides it, the
other gets the case again with who decided it and when (409), and only the decision that was
written is notified."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import insert
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from service.api.review_pages import HEADERS, page, posted_form, signed_in, to_sign_in
from service.auth.reviewers import SignedIn, same_token
from service.errors import BadRequest, Conflict, NotFound, UnprocessableEntity
from service.pas.case_queue import STATUS_FILTERS, QueueQuery, queue_views
from service.pas.casefile import case_view
from service.pas.confirmation import FINAL_ACTIONS, confirmation
from service.pas.decisions import Choice, decide
from service.pas.outbox import add_decision_events
from service.runtime import Runtime, get_runtime
from service.storage.audit import patient_hash
from service.storage.prior_auth import (
    decisions_of,
    record_decision,
    refuse_if_decided,
    request_for_review,
)
from service.storage.tables import ReviewerAction

router = APIRouter(prefix="/review", include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _audit(runtime: Runtime, who: SignedIn, action: str, patient: str | None, case: str) -> None:
    runtime.audit.store(
        ReviewerAction, _action(runtime, who.reviewer, action, patient, case, runtime.clock.now())
    )


def _action(
    runtime: Runtime, reviewer: str, action: str, patient: str | None, case: str, at: datetime
) -> dict[str, Any]:
    """One `reviewer_action` row: the patient as a keyed hash, as every audit keeps it."""
    return {
        "at": at,
        "reviewer": reviewer,
        "action": action,
        "patient_hash": patient_hash(patient, runtime.audit_key),
        "case_id": case[:255],
        "status_code": 200,
    }


@router.get("")
async def queue(request: Request, runtime: RuntimeDep) -> Response:
    who = await signed_in(request, runtime)
    if who is None:
        return to_sign_in()
    query = QueueQuery.parse(request.query_params.get("q"), request.query_params.get("status"))
    now, today = runtime.clock.now(), runtime.today()

    def load() -> Any:
        with runtime.sessions() as session:
            return queue_views(session, runtime.policy_registry, query, now, today)

    shown, decided = await run_in_threadpool(load)
    return page(
        "queue.html",
        reviewer=who.reviewer,
        csrf=who.csrf,
        query=query,
        status_filters=STATUS_FILTERS,
        cases=shown,
        decided=decided,
    )


@router.get("/cases/{case_id}")
async def case(case_id: str, request: Request, runtime: RuntimeDep) -> Response:
    who = await signed_in(request, runtime)
    if who is None:
        return to_sign_in()
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
            decisions = decisions_of(session, row.id)
            view = case_view(row, policy, decisions, runtime.clock.now(), runtime.today())
            return view, row.patient_id

    found = await run_in_threadpool(load)
    if found is None:
        raise NotFound(f"no case {case_id!r}")
    view, patient = found
    _audit(runtime, who, "review-case", patient, view.id)
    return page(
        "case.html",
        status if problem else 200,
        reviewer=who.reviewer,
        csrf=who.csrf,
        case=view,
        problem=problem,
    )


@router.post("/cases/{case_id}")
async def decision(case_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """A final decision goes to its confirmation page; asking for more is recorded at once."""
    posted = await _posted_by(request, runtime)
    if posted is None:
        return to_sign_in()
    who, form = posted
    try:
        choice = _choice(form)
        if choice.action in FINAL_ACTIONS:
            return await _confirmation_page(runtime, who, case_id, choice)
    except Conflict as decided_first:
        return await _case_page(runtime, who, case_id, decided_first.message, 409)
    except UnprocessableEntity as problem:
        return await _case_page(runtime, who, case_id, problem.message)
    return await _record(runtime, who, case_id, choice)


@router.post("/cases/{case_id}/confirm")
async def confirmed(case_id: str, request: Request, runtime: RuntimeDep) -> Response:
    posted = await _posted_by(request, runtime)
    if posted is None:
        return to_sign_in()
    who, form = posted
    try:
        choice = _choice(form)
    except UnprocessableEntity as problem:
        return await _case_page(runtime, who, case_id, problem.message)
    if choice.action not in FINAL_ACTIONS:
        return await _case_page(runtime, who, case_id, "only an approval or a denial is confirmed")
    return await _record(runtime, who, case_id, choice)


async def _posted_by(request: Request, runtime: Runtime) -> tuple[SignedIn, dict[str, str]] | None:
    """The signed-in reviewer and the form they posted; None when nobody is signed in."""
    who = await signed_in(request, runtime)
    if who is None:
        return None
    form = await posted_form(request)
    if not same_token(form.get("csrf"), who.csrf):
        raise BadRequest("the form is stale: open the case again")
    return who, form


def _choice(form: dict[str, str]) -> Choice:
    return Choice(
        action=form.get("action", ""),
        note=form.get("note", "")[:2000],
        reason=form.get("reason", ""),
        start=_day(form.get("start")),
        end=_day(form.get("end")),
    )


async def _confirmation_page(
    runtime: Runtime, who: SignedIn, case_id: str, choice: Choice
) -> Response:
    """The decision restated; `Conflict` when the case was decided meanwhile."""
    now = runtime.clock.now()

    def load() -> Any:
        with runtime.sessions() as session:
            row = request_for_review(session, case_id)
            if row is None:
                raise NotFound(f"no case {case_id!r}")
            refuse_if_decided(session, row.id)
            policy = runtime.policy_registry.by_id(row.policy_id or "")
            view = case_view(row, policy, [], now, runtime.today())
            return view, confirmation(view, row, policy, choice, now.date())

    view, confirming = await run_in_threadpool(load)
    return page("confirm.html", reviewer=who.reviewer, csrf=who.csrf, case=view, confirm=confirming)


async def _record(runtime: Runtime, who: SignedIn, case_id: str, choice: Choice) -> Response:
    try:
        await runtime.committer.commit(
            _decide(runtime, case_id, choice, who.reviewer, runtime.clock.now())
        )
    except Conflict as decided_first:
        return await _case_page(runtime, who, case_id, decided_first.message, 409)
    except UnprocessableEntity as problem:
        return await _case_page(runtime, who, case_id, problem.message)
    # Its notifications were committed with it (the outbox); the sender looks now.
    runtime.dispatcher.wake()
    return RedirectResponse(f"/review/cases/{case_id}", status_code=303, headers=HEADERS)


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
        action = _action(runtime, reviewer, f"review-{choice.action}", row.patient_id, row.id, now)
        session.execute(insert(ReviewerAction), [action])

    return work


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UnprocessableEntity(f"{text!r} is not a date") from None

"""The notification outbox (Subscriptions Backport, "Handling Errors as a Server"): a decision's
events are added in the decision's own transaction, one per matching Subscription, each numbered
(`eventsSinceSubscriptionStart` moves on for every event, delivered or not, so the EHR sees a
gap); delivery outcomes move the event and the Subscription's status.

A new Subscription is `requested` until its handshake (Subscriptions Backport 1.1.0, channels) has
been delivered, then `active`; `error` when the endpoint refused it (the client fixes the endpoint
and subscribes again). Decisions made meanwhile are numbered and kept, and go out once it is
active. A Subscription is `error` while its oldest undelivered event fails, and `active` again once
that event is delivered, unless an event was given up (after the retry period): the Backport leaves
recovery from a lost event to the subscriber, so the status stays `error` and says so. Events of
a Subscription go out in their numbers' order: a later one waits behind a failing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from service.pas.submission import read_submission
from service.pas.subscriptions import organization_matches
from service.storage.tables import NotificationEvent, PriorAuthRequest, StoredSubscription
from service.types import Resource

# The Subscription statuses whose events are delivered (R4 SubscriptionStatus); events of a
# `requested` one are numbered and kept until its handshake went through; `off` was ended.
NOTIFIED = ("active", "error")
NUMBERED = ("requested", *NOTIFIED)
PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "given-up"


@dataclass(frozen=True)
class Retry:
    """Backoff: `first_s` after the first failure, doubling up to `longest_s` between attempts,
    for `period_s` after the event; then the event is given up."""

    first_s: float
    longest_s: float
    period_s: float

    def pause(self, attempts: int) -> timedelta:
        exponent = min(max(attempts - 1, 0), 32)
        return timedelta(seconds=min(self.first_s * 2**exponent, self.longest_s))


@dataclass(frozen=True)
class Head:
    """A Subscription's oldest undelivered event, with what delivering it needs."""

    event_id: int
    subscription_id: str
    event_number: int
    events_since_start: int
    status: str
    endpoint: str
    headers: tuple[str, ...]
    content: str
    focus: Resource
    created_at: datetime
    next_attempt_at: datetime


def add_decision_events(session: Session, request_id: str, now: datetime) -> int:
    """An event for each of the submitter's Subscriptions whose filter names the request's
    requesting organization; how many. Runs in the decision's transaction."""
    row = session.get(PriorAuthRequest, request_id)
    if row is None:
        return 0
    organization = read_submission(dict(row.bundle)).provider
    statement = select(StoredSubscription.id, StoredSubscription.organization).where(
        StoredSubscription.client_id == row.client_id, StoredSubscription.status.in_(NUMBERED)
    )
    added = 0
    for subscription_id, wanted in session.execute(statement).all():
        if not organization_matches(wanted, organization):
            continue
        session.add(
            NotificationEvent(
                subscription_id=subscription_id,
                event_number=_next_event_number(session, subscription_id),
                request_id=request_id,
                created_at=now,
                state=PENDING,
                attempts=0,
                next_attempt_at=now,
                focus=dict(row.claim_response),
            )
        )
        added += 1
    return added


def _next_event_number(session: Session, subscription_id: str) -> int:
    """One atomic increment: two replicas' decisions for one subscriber at once get two numbers
    (the row is locked until the first commits), never the same one."""
    statement = (
        update(StoredSubscription)
        .where(StoredSubscription.id == subscription_id)
        .values(events=StoredSubscription.events + 1)
        .returning(StoredSubscription.events)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).scalar_one())


def heads(session: Session, limit: int = 500) -> list[Head]:
    """The oldest pending event of each Subscription still notified."""
    oldest = (
        select(
            NotificationEvent.subscription_id,
            func.min(NotificationEvent.event_number).label("number"),
        )
        .where(NotificationEvent.state == PENDING)
        .group_by(NotificationEvent.subscription_id)
        .subquery()
    )
    statement = (
        select(NotificationEvent, StoredSubscription)
        .join(
            oldest,
            and_(
                oldest.c.subscription_id == NotificationEvent.subscription_id,
                oldest.c.number == NotificationEvent.event_number,
            ),
        )
        .join(StoredSubscription, StoredSubscription.id == NotificationEvent.subscription_id)
        .where(StoredSubscription.status.in_(NOTIFIED))
        .order_by(NotificationEvent.next_attempt_at)
        .limit(limit)
    )
    return [_head(event, subscription) for event, subscription in session.execute(statement)]


def _head(event: NotificationEvent, subscription: StoredSubscription) -> Head:
    return Head(
        event_id=event.id,
        subscription_id=subscription.id,
        event_number=event.event_number,
        events_since_start=subscription.events,
        status=subscription.status,
        endpoint=subscription.endpoint,
        headers=tuple(subscription.headers),
        content=subscription.content,
        focus=dict(event.focus),
        created_at=aware(event.created_at),
        next_attempt_at=aware(event.next_attempt_at),
    )


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def mark_delivered(session: Session, event_id: int, now: datetime) -> None:
    event = session.get(NotificationEvent, event_id)
    if event is None or event.state != PENDING:
        return
    event.state, event.delivered_at = DELIVERED, now
    event.attempts += 1
    subscription = session.get(StoredSubscription, event.subscription_id)
    if subscription is None or subscription.status != "error" or _lost_any(session, event):
        return
    subscription.status = "active"
    subscription.resource = {k: v for k, v in subscription.resource.items() if k != "error"}


def mark_failed(session: Session, event_id: int, reason: str, now: datetime, retry: Retry) -> None:
    """Tried again after the backoff, or given up when the retry period is over; the
    Subscription is `error` either way (R4 Subscription.error says why, in our words)."""
    event = session.get(NotificationEvent, event_id)
    if event is None or event.state != PENDING:
        return
    event.attempts += 1
    event.last_error = reason[:64]
    if now >= aware(event.created_at) + timedelta(seconds=retry.period_s):
        event.state = GIVEN_UP
    else:
        event.next_attempt_at = now + retry.pause(event.attempts)
    subscription = session.get(StoredSubscription, event.subscription_id)
    if subscription is not None and subscription.status in NOTIFIED:
        subscription.status = "error"
        words = f"notification {event.event_number} not delivered: {reason}"
        subscription.resource = {**subscription.resource, "error": words}


def _lost_any(session: Session, event: NotificationEvent) -> bool:
    statement = select(func.count()).where(
        NotificationEvent.subscription_id == event.subscription_id,
        NotificationEvent.state == GIVEN_UP,
    )
    return bool(session.scalar(statement))


@dataclass(frozen=True)
class Handshake:
    """A Subscription still `requested`: where its handshake goes."""

    subscription_id: str
    endpoint: str
    headers: tuple[str, ...]


def handshakes(session: Session, limit: int = 100) -> list[Handshake]:
    statement = (
        select(StoredSubscription)
        .where(StoredSubscription.status == "requested")
        .order_by(StoredSubscription.created_at)
        .limit(limit)
    )
    return [
        Handshake(row.id, row.endpoint, tuple(row.headers)) for row in session.scalars(statement)
    ]


def mark_handshake(session: Session, subscription_id: str, reason: str | None) -> None:
    """`active` when the handshake was taken (reason None), else `error` saying why; only from
    `requested` (a Subscription ended meanwhile stays `off`)."""
    subscription = session.get(StoredSubscription, subscription_id)
    if subscription is None or subscription.status != "requested":
        return
    subscription.status = "active" if reason is None else "error"
    resource = {**subscription.resource, "status": subscription.status}
    if reason is not None:
        resource["error"] = f"handshake not delivered: {reason}"
    subscription.resource = resource

"""Delivering prior-authorization notifications by rest-hook: a handshake when a Subscription is
made, and an event notification to each of the submitting client's active Subscriptions whose
filter names the request's requesting organization, whenever its ClaimResponse changes (a
decision).

Delivery is attempted at once and retried (after 2 and 10 seconds) on a network error or a
non-2xx answer; a Subscription whose notification could not be delivered turns `error`. The
decision itself is committed before any notification is tried, and `Claim/$inquire` always
answers with it: a lost notification delays the news, it never loses the decision. Nothing of a
notification, its headers (they may carry the client's token) included, is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.pas.channel_headers import sendable_headers
from service.pas.submission import read_submission
from service.pas.subscriptions import notification, organization_matches
from service.storage.commits import GroupCommitter
from service.storage.tables import PriorAuthRequest, StoredSubscription
from service.types import Resource

log = logging.getLogger(__name__)
RETRY_AFTER_S = (2.0, 10.0)


class Notifier:
    def __init__(
        self,
        http: httpx.AsyncClient,
        sessions: sessionmaker[Session],
        committer: GroupCommitter,
        base_url: str,
        clock: Callable[[], datetime],
        retry_after_s: Sequence[float] = RETRY_AFTER_S,
    ) -> None:
        self._http = http
        self._sessions = sessions
        self._committer = committer
        self._base = base_url.rstrip("/")
        self._retry = tuple(retry_after_s)
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def handshake(self, subscription: StoredSubscription) -> bool:
        """Sent before the Subscription is acknowledged: it turns active only if it arrives."""
        bundle = notification(self._base, subscription.id, "handshake", 0, self._clock())
        return await self._post(subscription.endpoint, list(subscription.headers), bundle)

    def decided(self, request_id: str) -> None:
        """Notify, in the background, every matching Subscription of the request's client."""
        task = asyncio.get_running_loop().create_task(self._notify(request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Until every notification started has been delivered or given up (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _notify(self, request_id: str) -> None:
        targets = await self._committer.commit(lambda session: self._count(session, request_id))
        for subscription_id, endpoint, headers, events, content, focus in targets:
            bundle = notification(
                self._base,
                subscription_id,
                "event-notification",
                events,
                self._clock(),
                focus,
                content,
            )
            delivered = await self._deliver(endpoint, headers, bundle)
            if not delivered:
                await self._committer.commit(partial(_mark_error, subscription_id=subscription_id))

    def _count(
        self, session: Session, request_id: str
    ) -> list[tuple[str, str, list[str], int, str, Resource]]:
        """The matching Subscriptions, each with its event count moved on (committed first)."""
        row = session.get(PriorAuthRequest, request_id)
        if row is None:
            return []
        organization = read_submission(dict(row.bundle)).provider
        found = []
        statement = select(StoredSubscription).where(
            StoredSubscription.client_id == row.client_id, StoredSubscription.status == "active"
        )
        for subscription in session.scalars(statement):
            if not organization_matches(subscription.organization, organization):
                continue
            subscription.events += 1
            content = subscription.content
            found.append(
                (
                    subscription.id,
                    subscription.endpoint,
                    list(subscription.headers),
                    subscription.events,
                    content,
                    dict(row.claim_response),
                )
            )
        return found

    async def _deliver(self, endpoint: str, headers: list[str], bundle: Resource) -> bool:
        if await self._post(endpoint, headers, bundle):
            return True
        for delay in self._retry:
            await asyncio.sleep(delay)
            if await self._post(endpoint, headers, bundle):
                return True
        return False

    async def _post(self, endpoint: str, headers: list[str], bundle: Resource) -> bool:
        sent = {**sendable_headers(headers), "Content-Type": "application/fhir+json"}
        try:
            answer = await self._http.post(endpoint, json=bundle, headers=sent, timeout=10)
        except httpx.HTTPError as error:
            log.warning("notification not delivered: %s", type(error).__name__)
            return False
        if answer.is_success:
            return True
        log.warning("notification refused: HTTP %s", answer.status_code)
        return False


def _mark_error(session: Session, subscription_id: str) -> None:
    subscription = session.get(StoredSubscription, subscription_id)
    if subscription is not None:
        subscription.status = "error"

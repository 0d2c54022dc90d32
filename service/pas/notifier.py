"""Sending prior-authorization notifications by rest-hook: one POST of a handshake or of an event
notification (the outbox's dispatcher decides when:
service/pas/dispatcher.py). A POST is delivered only on a 2xx answer. Nothing of a notification,
its headers (they may carry the client's token) included, is logged: a failure is told by its
kind ("HTTP 503", "ConnectError") only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

from service.pas.channel_headers import sendable_headers
from service.types import Resource

log = logging.getLogger(__name__)
POST_TIMEOUT_S = 10.0


class Notifier:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    @property
    def base_url(self) -> str:
        return self._base

    async def post(self, endpoint: str, headers: Sequence[str], bundle: Resource) -> str | None:
        """None when the endpoint took it; else why not, in words fit for a log."""
        # Checked again at sending: a row stored before the header rules never sends a routing one.
        sent = {**sendable_headers(headers), "Content-Type": "application/fhir+json"}
        try:
            answer = await self._http.post(
                endpoint, json=bundle, headers=sent, timeout=POST_TIMEOUT_S
            )
        except httpx.HTTPError as error:
            reason = type(error).__name__
        else:
            if answer.is_success:
                return None
            reason = f"HTTP {answer.status_code}"
        log.warning("notification not delivered: %s", reason)
        return reason

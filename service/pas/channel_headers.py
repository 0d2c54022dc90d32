"""The HTTP headers a Subscription's rest-hook channel may ask us to send with each notification
(Subscriptions Backport: `channel.header`, "Name: value" strings), checked once when the
Subscription is made and again before every delivery.

Only headers that authenticate us to the client are taken: `Authorization` and the client's own
`X-` names. A header that routes or frames the request (`Host`, `Forwarded`, `X-Forwarded-*`,
`Content-Length`, the hop-by-hop ones) could, behind a proxy that routes by it, carry a
ClaimResponse to a site other than the endpoint whose origin was checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 5.6.2 token
_VALUE = re.compile(r"^[\x20-\x7e\t]*$")  # visible ASCII, space and tab; no CR or LF
_ALLOWED = re.compile(r"^(?:authorization|x-[a-z0-9-]+)$")
# X- names that proxies read to route or rewrite a request.
_ROUTING = re.compile(
    r"^x-(?:forwarded(?:-.*)?|real-ip|host|original-.*|rewrite-url|http-method(?:-override)?)$"
)


def header_problem(header: object) -> str | None:
    """Why this `channel.header` entry cannot be sent, or None when it can."""
    if not isinstance(header, str) or ":" not in header:
        return "channel.header must be a list of 'Name: value' strings"
    name, _, value = (part.strip() for part in header.partition(":"))
    if not header.isascii():
        return f"channel.header {name!r} must be ASCII"
    if not _TOKEN.match(name):
        return f"channel.header name {name!r} is not an HTTP header name"
    if not _VALUE.match(value):
        return f"channel.header {name!r} has a value with control characters"
    lowered = name.lower()
    if not _ALLOWED.match(lowered) or _ROUTING.match(lowered):
        return (
            f"channel.header {name!r} is not sent: only Authorization and X- headers that do "
            "not route the request are"
        )
    return None


def sendable_headers(headers: Sequence[str]) -> dict[str, str]:
    """The headers to send: those that pass `header_problem` (a row stored before the check
    could hold others; they are dropped, never sent)."""
    sent: dict[str, str] = {}
    for header in headers:
        if header_problem(header) is None:
            name, _, value = header.partition(":")
            sent[name.strip()] = value.strip()
    return sent
